# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""``GET /<db>/api/metrics``: the stored statistics in Prometheus' format.

The totals are read from the database, so every worker of every server
is in them, up to what each worker has not written yet (``stats.py``).
Only an ``endpoint`` application key of a user in Endpoint Administration
reads them: 401 without a valid key, 403 for another user's.
"""
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    HistogramMetricFamily,
)
from sql.aggregate import Sum
from trytond.transaction import Transaction
from werkzeug.wrappers import Response

from trytond_endpoint.problem import Problem
from trytond_endpoint.statistics import BUCKET_FIELDS, BUCKETS

from . import auth

__all__ = ['PATH', 'answer']

PATH = '/metrics'
_LABELS = ['endpoint', 'name', 'method', 'route']
_SUMMED = ('requests', 'client_errors', 'server_errors',
    'duration_total') + BUCKET_FIELDS


def answer(request, pool):
    "The metrics answer for request, or the problem to answer"
    if request.method not in {'GET', 'HEAD'}:
        raise Problem(405, "The metrics are read-only.",
            headers={'Allow': 'GET, HEAD, OPTIONS'})
    _check_reader(request, pool)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(_totals(pool)))
    return Response(generate_latest(registry),
        content_type=CONTENT_TYPE_LATEST)


def _check_reader(request, pool):
    key = auth._bearer(request)
    user_id = auth._application_user(pool, key) if key else None
    if not user_id:
        raise auth._unauthorized('application')
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    group = ModelData.get_id('endpoint', 'group_endpoint_admin')
    with Transaction().set_user(user_id):
        if group not in User.get_groups():
            raise Problem(403,
                "The metrics are for Endpoint Administration.")


def _totals(pool):
    "[(endpoint id, name, method, route, {column: total})]"
    Statistic = pool.get('endpoint.statistic')
    Endpoint = pool.get('endpoint.endpoint')
    statistic = Statistic.__table__()
    endpoint = Endpoint.__table__()
    query = statistic.join(endpoint,
        condition=statistic.endpoint == endpoint.id).select(
        endpoint.id, endpoint.name, endpoint.method, endpoint.route,
        *[Sum(getattr(statistic, c)) for c in _SUMMED],
        group_by=[endpoint.id, endpoint.name, endpoint.method,
            endpoint.route],
        order_by=[endpoint.id])
    cursor = Transaction().connection.cursor()
    cursor.execute(*query)
    return [(row[:4], dict(zip(_SUMMED, (v or 0 for v in row[4:]))))
        for row in cursor]


class _Collector:
    def __init__(self, totals):
        self.totals = totals

    def collect(self):
        requests = CounterMetricFamily('endpoint_requests',
            "Requests answered by the endpoint", labels=_LABELS)
        client = CounterMetricFamily('endpoint_client_errors',
            "Answers with a 4xx status", labels=_LABELS)
        server = CounterMetricFamily('endpoint_server_errors',
            "Answers with a 5xx status", labels=_LABELS)
        duration = HistogramMetricFamily('endpoint_request_duration_seconds',
            "Time from the request to its answer in the worker",
            labels=_LABELS)
        for (id_, name, method, route), total in self.totals:
            labels = [str(id_), name or '', method or '', route or '']
            requests.add_metric(labels, total['requests'])
            client.add_metric(labels, total['client_errors'])
            server.add_metric(labels, total['server_errors'])
            buckets, seen = [], 0
            for bound, field in zip(BUCKETS, BUCKET_FIELDS):
                seen += total[field]
                buckets.append((_bound(bound), seen))
            seen += total[BUCKET_FIELDS[-1]]
            buckets.append(('+Inf', seen))
            duration.add_metric(labels, buckets,
                float(total['duration_total']) / 1000)
        yield from (requests, client, server, duration)


def _bound(bound):
    return repr(float(bound))
