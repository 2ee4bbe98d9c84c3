# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The OpenAPI document of a live map, and its docs page, as answers."""
from werkzeug.wrappers import Response

from trytond_endpoint import jsonenc, openapi
from trytond_endpoint.problem import Problem

__all__ = ['documentation', 'is_documentation']

DOC_PATHS = frozenset({'/openapi.json', '/openapi.yaml', '/docs', '/docs/'})


def is_documentation(path):
    return path in DOC_PATHS or path.startswith('/docs/')


def documentation(request, database_name, mount, live, path):
    """The answer for a documentation path of the mount of database_name
    (mount: the path of the mount under the database, such as ``api``)"""
    if request.method not in {'GET', 'HEAD'}:
        raise Problem(405, "The documentation is read-only.",
            headers={'Allow': 'GET, HEAD, OPTIONS'})
    if path in {'/docs', '/docs/'}:
        assets = 'docs/' if path == '/docs' else ''
        spec = 'openapi.json' if path == '/docs' else '../openapi.json'
        return Response(openapi.docs_page(spec, assets_url=assets),
            content_type='text/html; charset=utf-8')
    if path.startswith('/docs/'):
        asset = openapi.static_file(path[len('/docs/'):])
        if asset is None:
            raise Problem(404, f"No endpoint at {path}.")
        content, mimetype = asset
        response = Response(content, mimetype=mimetype)
        response.headers['Cache-Control'] = 'public, max-age=86400'
        return response
    def build(server_url):
        document = openapi.build_openapi(live.definitions,
            title=f"{database_name} endpoints",
            version=str(live.version), server_url=server_url,
            rest_seed_ids={d.id for d in live.definitions
                if d.route.startswith('/rest/')})
        return jsonenc.dumps(document), openapi.openapi_yaml(document)
    # Built once per registry version and what the server URL really
    # varies by, within a bounded cache.
    document = openapi.served_documents(live.cache, build,
        request.host_url.rstrip('/'),
        request.script_root + f'/{database_name}/{mount}')
    if path == '/openapi.json':
        return Response(document[0], content_type='application/json')
    return Response(document[1], content_type='application/yaml')

