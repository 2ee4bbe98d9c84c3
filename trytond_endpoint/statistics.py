"""Request statistics of a worker, per endpoint and minute, in memory.

A request costs one lock, one dict look-up and a few additions: nothing
is written here. ``take`` hands what was gathered to whoever writes it
(``stats.py``), ``give_back`` returns what could not be written.
"""
import bisect
import threading
import time

__all__ = ['BUCKETS', 'BUCKET_FIELDS', 'COLUMNS', 'Buffer']

# Upper bounds of the latency histogram in seconds (Prometheus' defaults);
# a last bucket counts the slower ones.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BUCKET_FIELDS = ('latency_5ms', 'latency_10ms', 'latency_25ms',
    'latency_50ms', 'latency_100ms', 'latency_250ms', 'latency_500ms',
    'latency_1s', 'latency_2500ms', 'latency_5s', 'latency_10s',
    'latency_slower')
# What a row of the buffer holds, in order: summed, except duration_max.
COLUMNS = ('requests', 'client_errors', 'server_errors', 'duration_total',
    'duration_max') + BUCKET_FIELDS
_MAX = COLUMNS.index('duration_max')
_FIRST_BUCKET = len(COLUMNS) - len(BUCKET_FIELDS)


class Buffer:
    """Counts per (database, endpoint id, minute); at most ``max_keys``
    of them, the requests past that are counted in ``dropped``"""

    def __init__(self, max_keys=10_000, clock=time.time):
        self.max_keys = max_keys
        self.dropped = 0
        self._rows = {}
        self._lock = threading.Lock()
        self._clock = clock

    def record(self, database, endpoint, status, seconds):
        key = (database, endpoint, int(self._clock() // 60))
        bucket = _FIRST_BUCKET + bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                if len(self._rows) >= self.max_keys:
                    self.dropped += 1
                    return
                row = self._rows[key] = [0] * len(COLUMNS)
            row[0] += 1
            if status >= 500:
                row[2] += 1
            elif status >= 400:
                row[1] += 1
            row[3] += seconds
            if seconds > row[_MAX]:
                row[_MAX] = seconds
            row[bucket] += 1

    def __bool__(self):
        return bool(self._rows)

    def take(self):
        "What was gathered: {(database, endpoint, minute): row}; emptied"
        with self._lock:
            rows, self._rows = self._rows, {}
        return rows

    def give_back(self, rows):
        "Merge rows that could not be written back, within the bound"
        with self._lock:
            for key, row in rows.items():
                mine = self._rows.get(key)
                if mine is None:
                    if len(self._rows) >= self.max_keys:
                        self.dropped += row[0]
                        continue
                    self._rows[key] = row
                    continue
                merge(mine, row)


def merge(row, other):
    "Add other's counts to row"
    for index, value in enumerate(other):
        if index == _MAX:
            row[index] = max(row[index], value)
        else:
            row[index] += value
