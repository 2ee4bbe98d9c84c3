# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""Statistics per endpoint and minute, and GET /<db>/api/metrics."""
import datetime as dt
import unittest

from prometheus_client.parser import text_string_to_metric_families
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from trytond_endpoint.statistics import BUCKET_FIELDS, COLUMNS, Buffer

from .tools import EndpointRouteTestCase, bearer, define, make_key, make_user


class BufferTestCase(unittest.TestCase):
    "The worker's counts in memory"

    def setUp(self):
        self.now = 600.0
        self.buffer = Buffer(max_keys=3, clock=lambda: self.now)

    def row(self, endpoint, minute=10):
        return dict(zip(COLUMNS, self.buffer._rows[('db', endpoint, minute)]))

    def test_counts(self):
        for status, seconds in [(200, 0.001), (201, 0.005), (404, 0.2),
                (500, 12.0), (503, 0.0051)]:
            self.buffer.record('db', 1, status, seconds)
        row = self.row(1)
        self.assertEqual((row['requests'], row['client_errors'],
                row['server_errors']), (5, 1, 2))
        self.assertAlmostEqual(row['duration_total'], 12.2111)
        self.assertEqual(row['duration_max'], 12.0)
        # A bound is inclusive: 5 ms is in the first bucket.
        self.assertEqual([row[f] for f in BUCKET_FIELDS],
            [2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])

    def test_minutes_apart(self):
        self.buffer.record('db', 1, 200, 0.01)
        self.now += 60
        self.buffer.record('db', 1, 200, 0.01)
        self.assertEqual(sorted(self.buffer._rows), [
                ('db', 1, 10), ('db', 1, 11)])

    def test_bound_and_give_back(self):
        for endpoint in range(5):
            self.buffer.record('db', endpoint, 200, 0.01)
        self.assertEqual(len(self.buffer._rows), 3)
        self.assertEqual(self.buffer.dropped, 2)
        taken = self.buffer.take()
        self.assertFalse(self.buffer)
        self.buffer.record('db', 0, 500, 0.5)
        self.buffer.give_back(taken)
        row = self.row(0)
        self.assertEqual((row['requests'], row['server_errors'],
                row['duration_max']), (2, 1, 0.5))
        self.assertEqual(len(self.buffer._rows), 3)


def _families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


class StatisticTestCase(EndpointRouteTestCase):
    "Requests counted, written by the worker, summed by /metrics"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        operator = make_user('operator',
            groups=['endpoint.group_endpoint_admin'])
        cls.operator_key = make_key(operator)

    def setUp(self):
        super().setUp()
        from trytond.modules.endpoint import stats
        self.stats = stats
        # What earlier tests of the process left is not counted here.
        stats.BUFFER.take()

    def totals(self, endpoint):
        with Transaction().start(DB_NAME, 0):
            Statistic = Pool().get('endpoint.statistic')
            rows = Statistic.search([('endpoint', '=', endpoint)])
            return {c: sum(getattr(r, c) for r in rows) for c in COLUMNS
                if c != 'duration_max'}, [
                (r.duration_max, r.duration_total, r.minute) for r in rows]

    def test_written_and_summed(self):
        "Requests of every kind are counted, and written on flush"
        endpoint = define(route='/stat/<int:n>', auth='public',
            exec_user=self.web_user,
            code="if request.path_params['n'] == 0:\n"
            "    raise exceptions.NotFound('no')\n"
            "result['payload'] = 1 / (request.path_params['n'] - 1)\n")
        client = self.client()
        statuses = [client.get(self.url(f'/stat/{n}')).status_code
            for n in [2, 3, 0, 1]]
        # No endpoint answers a method it does not have: not counted.
        client.delete(self.url('/stat/2'))
        self.assertEqual(statuses, [200, 200, 404, 500])
        # Nothing is written by the requests themselves.
        self.assertEqual(self.totals(endpoint)[1], [])
        self.stats.flush()
        totals, rows = self.totals(endpoint)
        self.assertEqual((totals['requests'], totals['client_errors'],
                totals['server_errors']), (4, 1, 1))
        self.assertEqual(sum(totals[f] for f in BUCKET_FIELDS), 4)
        self.assertGreater(totals['duration_total'], 0)
        self.assertTrue(all(0 < high <= total for high, total, _ in rows))
        self.assertTrue(all(minute.second == 0 for _, _, minute in rows))

        client.get(self.url('/stat/2'))
        self.stats.flush()
        self.assertEqual(self.totals(endpoint)[0]['requests'], 5)

    def test_minutes_shared(self):
        "Flushes of several workers add to the same minute's row"
        endpoint = define(route='/stat/shared', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1")
        gone = define(route='/stat/gone', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1")
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Statistic = pool.get('endpoint.statistic')
            Endpoint = pool.get('endpoint.endpoint')
            for status, seconds in [(200, 0.3), (404, 0.1)]:
                worker = Buffer(clock=lambda: 6000.0)
                worker.record(DB_NAME, endpoint, status, seconds)
                worker.record(DB_NAME, gone, status, seconds)
                if status == 404:
                    # Deleted between a request and the flush
                    Endpoint.delete([Endpoint(gone)])
                Statistic.add({k[1:]: v for k, v in worker.take().items()})
            row, = Statistic.search([('endpoint', '=', endpoint)])
            self.assertEqual((row.requests, row.client_errors), (2, 1))
            self.assertEqual(row.minute, dt.datetime(1970, 1, 1, 1, 40))
            self.assertEqual(row.duration_max, 300)
            self.assertAlmostEqual(row.duration_total, 400)
            self.assertEqual(row.duration_average, 200)
            self.assertFalse(Statistic.search([('endpoint', '=', gone)]))
            Statistic.clean(days=-1)
            self.assertFalse(Statistic.search([]))
            transaction.rollback()

    def test_metrics(self):
        "The totals in Prometheus' format, for Endpoint Administration"
        endpoint = define(route='/stat/metered', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1")
        client = self.client()
        for _ in range(3):
            client.get(self.url('/stat/metered'))
        client.get(self.url('/stat/metered?x=1'), headers={
                'Content-Type': 'application/json'})
        self.stats.flush()

        refused = [
            client.get(self.url('/metrics')),
            client.get(self.url('/metrics'), headers=bearer('nope')),
            client.get(self.url('/metrics'), headers=bearer(self.rest_key)),
            client.get(self.url('/metrics'), headers=bearer(self.alice_key)),
            client.post(self.url('/metrics'),
                headers=bearer(self.operator_key)),
            ]
        self.assertEqual([r.status_code for r in refused],
            [401, 401, 401, 403, 405])
        for response in refused:
            self.assertEqual(response.mimetype, 'application/problem+json')
            self.assertNotIn(b'endpoint_requests', response.data)

        response = client.get(self.url('/metrics'),
            headers=bearer(self.operator_key))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.mimetype, 'text/plain')
        families = _families(response.get_data(as_text=True))
        self.assertEqual(families['endpoint_requests'].type, 'counter')
        mine = {'endpoint': str(endpoint), 'name': '/stat/metered',
            'method': 'GET', 'route': '/stat/metered'}
        samples = {(s.name, s.labels.get('le')): s.value
            for f in families.values() for s in f.samples
            if {k: s.labels.get(k) for k in mine} == mine}
        self.assertEqual(samples['endpoint_requests_total', None], 4)
        self.assertEqual(samples['endpoint_client_errors_total', None], 0)
        self.assertEqual(samples['endpoint_server_errors_total', None], 0)
        histogram = families['endpoint_request_duration_seconds']
        self.assertEqual(histogram.type, 'histogram')
        self.assertEqual(
            samples['endpoint_request_duration_seconds_count', None], 4)
        self.assertEqual(
            samples['endpoint_request_duration_seconds_bucket', '+Inf'], 4)
        buckets = [v for (n, le), v in sorted(samples.items(),
                key=lambda i: float(i[0][1] or 0))
            if n.endswith('_bucket')]
        self.assertEqual(buckets, sorted(buckets))
        self.assertGreater(
            samples['endpoint_request_duration_seconds_sum', None], 0)

        # The metrics request itself is not an endpoint's: nothing counted.
        self.stats.flush()
        again = _families(client.get(self.url('/metrics'),
                headers=bearer(self.operator_key)).get_data(as_text=True))
        self.assertEqual(sum(s.value for s in
                again['endpoint_requests'].samples
                if s.labels['endpoint'] == str(endpoint)), 4)

    def test_metrics_route_reserved(self):
        from trytond.model.exceptions import ValidationError
        with self.assertRaises(ValidationError):
            define(route='/metrics', auth='application', code='')

    def test_log_of_failed_database_written_later(self):
        "Lines deferred for a 503 are written by the next flush"
        endpoint = define(route='/stat/later', auth='public',
            exec_user=self.web_user, code="result['payload'] = 1")
        self.stats.defer_logs(DB_NAME, [
                (endpoint, 'error', 'r-503', '503 Service Unavailable'),
                (None, 'error', 'r-503', 'GET /x: 503 Service Unavailable'),
                ])
        self.stats.flush()
        with Transaction().start(DB_NAME, 0):
            Log = Pool().get('endpoint.log')
            lines = Log.search([('request_id', '=', 'r-503')])
            self.assertEqual({line.endpoint.id if line.endpoint else None
                    for line in lines}, {endpoint, None})
            self.assertTrue(all(isinstance(line.time, dt.datetime)
                    for line in lines))


del EndpointRouteTestCase
