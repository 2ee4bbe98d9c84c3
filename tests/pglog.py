"""The PostgreSQL server log of a test run holds no ERROR that a test did
not cause on purpose: a database administrator reads every one as a fault.

``tests/run.py`` checks the log of its throwaway cluster once the
PostgreSQL run is over; ``python tests/pglog.py <log>`` checks any log.
"""
import re
import sys

# The ERROR lines a test causes on purpose: (pattern of the message,
# pattern of its STATEMENT or None, the test or tests, why). Add one only with the
# test that causes it, as narrow as the test allows.
_SURVIVES = ('tests/test_module.py::EndpointTestCase::'
    'test_read_survives_lost_statement')
ALLOWED = [
    (r'^relation "no_such_table" does not exist', None,
        'tests/test_module.py::EndpointTestCase::test_failed_read_rolls_back',
        "reads a missing table to check the transaction can roll back"),
    # The only read with a 1500 ms budget, right after its DEALLOCATE
    (r'^prepared statement "endpoint_registry_version" does not exist$',
        r'SET LOCAL statement_timeout = 1500; EXECUTE ', _SURVIVES,
        "drops the prepared statement behind the process's back"),
    (r'^prepared statement "endpoint_registry_version" already exists$',
        r'; PREPARE endpoint_registry_version AS ', _SURVIVES,
        "makes the process forget it prepared the statement"),
    # Tryton lets the database refuse a missing required Many2One; these
    # create an address without its party to check the 400 answer.
    (r'^null value in column "party" of relation "party_address" violates '
        r'not-null constraint$', r'^INSERT INTO "party_address" ', (
            'tests/test_rest.py::RestTestCase::test_create_validation_error',
            'tests/test_routes.py::RouteTestCase::'
            'test_tryton_validation_error',
            'tests/test_sandbox_routes.py::SandboxRouteTestCase::'
            'test_user_error_caught'),
        "an address without its party is refused (400)"),
    # A create straight in a read-only transaction, to check the database
    # refuses it (the party code's sequence is drawn first).
    (r'^cannot execute nextval\(\) in a read-only transaction$',
        r'^SELECT NEXTVAL\(', (
            'tests/test_sandbox_data.py::SandboxDataTestCase::'
            'test_sqlite_read_only_transaction'),
        "a write in a read-only transaction is refused"),
    # A rate limit count that waits on a locked row gives up (with or
    # without the session's first PREPARE of the count).
    (r'^canceling statement due to statement timeout$',
        r'^SET LOCAL statement_timeout = \d+; '
        r'(PREPARE endpoint_rate_limit_count |.*; EXECUTE '
        r'endpoint_rate_limit_count\()', (
            'tests/test_ratelimit.py::test_counter_outage_is_no_429',
            'tests/test_ratelimit.py::test_table_lock_bounds_first_count'),
        "a counter that can not count lets the request through"),
    # The session kept the statement of a count that failed after its
    # PREPARE: the next count there prepares it again, then executes it.
    (r'^prepared statement "endpoint_rate_limit_count" already exists$',
        r'^(SET LOCAL statement_timeout = \d+; )?'
        r'PREPARE endpoint_rate_limit_count ', (
            'tests/test_ratelimit.py::test_counter_outage_is_no_429',
            'tests/test_ratelimit.py::test_table_lock_bounds_first_count'),
        "the count after a failed first count of a session"),
    ]

# Lines that belong to the entry before them
_DETAILS = frozenset({
        'DETAIL', 'HINT', 'CONTEXT', 'STATEMENT', 'QUERY', 'LOCATION'})
# '%m [%p] ' is the server's default log_line_prefix.
_LINE = re.compile(
    r'^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] (?P<level>[A-Z]+):  (?P<text>.*)$')


def entries(lines):
    """(line number, level, message, statement) of each entry; the
    statement is the STATEMENT line that follows an error, if any."""
    current = None
    for number, line in enumerate(lines, 1):
        match = _LINE.match(line.rstrip('\n'))
        if not match:
            continue
        level, text = match['level'], match['text']
        if level in _DETAILS and current is not None:
            if level == 'STATEMENT':
                current[3] = text
            continue
        if current is not None:
            yield tuple(current)
        current = [number, level, text, None]
    if current is not None:
        yield tuple(current)


def unexpected(lines, allowed=None):
    "The ERROR entries that no allowed pattern explains"
    if allowed is None:
        allowed = ALLOWED
    return [entry for entry in entries(lines)
        if entry[1] == 'ERROR' and not any(
            re.search(message, entry[2]) and (statement is None
                or re.search(statement, entry[3] or ''))
            for message, statement, _, _ in allowed)]


def report(path, out=sys.stdout):
    "Print the unexpected ERROR lines of the log at path; 1 if any, else 0"
    with open(path, encoding='utf-8', errors='replace') as log:
        found = unexpected(log)
    if not found:
        print(f"PostgreSQL log: no unexpected ERROR ({path})", file=out)
        return 0
    counts = {}
    for number, _, message, statement in found:
        key = (message, statement)
        counts.setdefault(key, [number, 0])[1] += 1
    print(f"PostgreSQL log: {len(found)} ERROR lines no test causes on "
        f"purpose ({len(counts)} distinct), see tests/pglog.py:", file=out)
    for (message, statement), (first, count) in counts.items():
        print(f"  line {first}, {count}x: ERROR:  {message}", file=out)
        if statement:
            print(f"      STATEMENT:  {statement[:300]}", file=out)
    return 1


if __name__ == '__main__':
    sys.exit(report(sys.argv[1]))
