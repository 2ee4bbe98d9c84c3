"""What an endpoint's rate limit, caching and deprecation add to its
operation in the OpenAPI document (CORS is the browser's business)."""

__all__ = ['decorate', 'header_components', 'response_components',
    'quote_request_ids']

_REF = '#/components/headers/'


def decorate(operation, definition):
    "Add the definition's headers, 429 and ``deprecated`` to operation"
    headers = {}
    if definition.rate_limit and definition.rate_period:
        headers['RateLimit-Policy'] = {'$ref': _REF + 'RateLimitPolicy'}
        headers['RateLimit'] = {'$ref': _REF + 'RateLimit'}
    if definition.deprecation:
        headers['Deprecation'] = {'$ref': _REF + 'Deprecation'}
        operation['deprecated'] = True
    if definition.sunset:
        headers['Sunset'] = {'$ref': _REF + 'Sunset'}
    responses = operation['responses']
    for status, response in list(responses.items()):
        if not status.startswith('2') or '$ref' in response:
            continue
        extra = dict(headers)
        if (definition.cache_max_age is not None
                and definition.method == 'GET'):
            extra['Cache-Control'] = {'$ref': _REF + 'CacheControl'}
        if extra:
            responses[status] = {**response,
                'headers': {**response.get('headers', {}), **extra}}
    if definition.rate_limit and definition.rate_period:
        responses['429'] = {'$ref': '#/components/responses/TooManyRequests'}
        operation['responses'] = dict(sorted(responses.items()))


def quote_request_ids(document):
    """Name ``X-Request-Id`` on every response of document: the mount
    answers it on all of them, refusals included."""
    reference = {'$ref': _REF + 'RequestId'}
    responses = [r for item in document['paths'].values()
        for operation in item.values()
        for r in operation['responses'].values()]
    responses += document['components']['responses'].values()
    for response in responses:
        if '$ref' not in response:
            response['headers'] = {**response.get('headers', {}),
                'X-Request-Id': reference}


def header_components():
    def header(description, example=None):
        value = {'description': description, 'schema': {'type': 'string'}}
        if example:
            value['example'] = example
        return value
    return {
        'RateLimitPolicy': header(
            "The endpoint's quota: `q` requests per window of `w` seconds "
            "(IETF httpapi RateLimit headers).", '"endpoint";q=100;w=60'),
        'RateLimit': header(
            "What is left to the caller: `r` requests for `t` seconds.",
            '"endpoint";r=42;t=17'),
        'RetryAfter': header("Seconds to wait before the next request.",
            '17'),
        'Deprecation': header(
            "When the endpoint was or will be deprecated (RFC 9745).",
            '@1767225600'),
        'Sunset': header(
            "When the endpoint is expected to stop answering (RFC 8594).",
            'Wed, 30 Jun 2027 00:00:00 GMT'),
        'RequestId': header(
            "The request's id, quoted by the server's logs: the caller's "
            "own `X-Request-Id` when it is 1 to 128 visible ASCII "
            "characters, else one drawn by the server.", 'a1b2c3-42'),
        'CacheControl': header(
            "How long browsers and proxies may keep the answer.",
            'public, max-age=300'),
        }


def response_components(problem_schema_ref):
    return {'TooManyRequests': {
            'description': "Over the endpoint's rate limit; retry after "
            "`Retry-After` seconds.",
            'headers': {
                'Retry-After': {'$ref': _REF + 'RetryAfter'},
                'RateLimit-Policy': {'$ref': _REF + 'RateLimitPolicy'},
                'RateLimit': {'$ref': _REF + 'RateLimit'},
                },
            'content': {'application/problem+json': {
                    'schema': {'$ref': problem_schema_ref}}},
            }}
