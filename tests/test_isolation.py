# This file is part of the endpoint module.  The COPYRIGHT file at the top
# level of this repository contains the full copyright notices and license
# terms.
"""The sandbox process itself: its start, its walls, its conversation."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import unittest

from trytond_endpoint import sandbox_process
from trytond_endpoint import sandbox_process_wire as wire
from trytond_endpoint.sandbox import BudgetExceeded, RequestView, Response
from trytond_endpoint.sandbox_process import (
    SandboxCrashed,
    SandboxProcess,
    run_isolated,
)

MEMORY = 128 * 2 ** 20


def _proc(pid, name):
    with open(f'/proc/{pid}/{name}', 'rb') as file:
        return file.read()


def _gone(pid, wait=10):
    "Whether pid ended (or is a zombie) within wait seconds"
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            state = _proc(pid, 'stat').rsplit(b')', 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in {b'Z', b'X'}:
            return True
        time.sleep(0.05)
    return False


class SandboxProcessTestCase(unittest.TestCase):

    def setUp(self):
        self.sandbox = SandboxProcess(MEMORY).wait_ready()
        self.addCleanup(self.sandbox.kill)

    def run_code(self, code, timeout=2, **names):
        result = names.setdefault('result', {})
        self.sandbox.run(code, names, timeout)
        return result

    def test_clean_start(self):
        "Nothing of the server's environment, files or sockets is there"
        pid = self.sandbox.pid
        self.assertEqual(_proc(pid, 'environ'), b'')
        fds = {os.readlink(f'/proc/{pid}/fd/{fd}')
            for fd in os.listdir(f'/proc/{pid}/fd')}
        self.assertTrue(all(
                fd == '/dev/null' or fd.startswith('pipe:') for fd in fds),
            fds)
        maps = _proc(pid, 'maps')
        for library in [b'psycopg', b'libpq', b'sqlite']:
            self.assertNotIn(library, maps)

    def test_clean_start_of_a_server_with_secrets(self):
        "A server holding a database URI, a socket and keys passes none"
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(('127.0.0.1', 0))
        listener.set_inheritable(True)
        os.environ['TRYTOND_DATABASE__URI'] = 'postgresql://u:secret@db/'
        self.addCleanup(os.environ.pop, 'TRYTOND_DATABASE__URI')
        sandbox = SandboxProcess(MEMORY).wait_ready()
        self.addCleanup(sandbox.kill)
        self.assertEqual(_proc(sandbox.pid, 'environ'), b'')
        self.assertNotIn(b'secret', _proc(sandbox.pid, 'cmdline'))
        for fd in os.listdir(f'/proc/{sandbox.pid}/fd'):
            self.assertNotIn('socket',
                os.readlink(f'/proc/{sandbox.pid}/fd/{fd}'))

    def test_os_limits(self):
        "Address space, files, processes, core dumps; seccomp; no privileges"
        pid = self.sandbox.pid
        limits = _proc(pid, 'limits').decode()
        status = _proc(pid, 'status').decode()
        enforced = self.sandbox.enforced
        address_space = next(line for line in limits.splitlines()
            if line.startswith('Max address space'))
        self.assertIn(str(enforced['address_space']), address_space)
        for name in ['Max core file size', 'Max file size']:
            line = next(x for x in limits.splitlines() if x.startswith(name))
            self.assertEqual(line.split()[-3:-1], ['0', '0'], line)
        self.assertIn('NoNewPrivs:\t1', status)
        if enforced['seccomp']:
            self.assertIn('Seccomp:\t2', status)

    def test_walls_hold_when_the_guards_fail(self):
        "What an escaped snippet would try fails at the OS level"
        # Run as the sandbox's own trusted code: the guards are not
        # there to stop it, the walls must.
        probe = textwrap.dedent('''
            out = {}
            for name, attempt in [
                    ('open', lambda: open('/etc/hostname')),
                    ('socket', lambda: socket.socket()),
                    ('exec', lambda: os.execv('/bin/true', ['true'])),
                    ('fork', lambda: os.fork()),
                    ('kill', lambda: os.kill(os.getppid(), 0)),
                    ]:
                try:
                    attempt()
                    out[name] = 'allowed'
                except OSError as e:
                    out[name] = 'refused'
            print(out)
            ''')
        code = subprocess.run(
            [sys.executable, '-I', '-c', textwrap.dedent('''
                import os, socket, sys
                sys.path.insert(0, sys.argv[1])
                from trytond_endpoint import sandbox_process_limits as l
                l.load_seccomp_library()
                l.set_rlimits(64 * 2 ** 20, 10)
                l.landlock()
                l.seccomp()
                exec(sys.argv[2])
                '''), sandbox_process._ROOT, probe],
            capture_output=True, text=True, env={}, timeout=60)
        self.assertEqual(code.returncode, 0, code.stderr)
        self.assertEqual(eval(code.stdout), {
                'open': 'refused', 'socket': 'refused', 'exec': 'refused',
                'fork': 'refused', 'kill': 'refused'})

    def test_round_trips(self):
        "Objects of the server are handles; data crosses as data"
        calls = []

        class Helper:
            "Stands for the pool or rest helper of the server"
            size = 3

            def add(self, a, b):
                calls.append((a, b))
                return a + b

            def answer(self):
                return Response('made here', status=201)

            def fail(self):
                raise KeyError('missing')

        from trytond_endpoint.sandbox_guards import PROXY_TYPES
        PROXY_TYPES.add(Helper)
        self.addCleanup(PROXY_TYPES.discard, Helper)
        result = self.run_code(
            "total = helper.add(Decimal('1.5'), Decimal(2))\n"
            "try:\n"
            "    helper.fail()\n"
            "except KeyError as e:\n"
            "    caught = e.args[0]\n"
            "result['payload'] = {'sum': total, 'size': helper.size,\n"
            "    'caught': caught, 'path': request.path,\n"
            "    'header': request.headers['X-A'],\n"
            "    'file': request.files['f'].data, 'form': request.form['q'],\n"
            "    'hidden': request.headers.get('Authorization'),\n"
            "    'when': datetime.date(2024, 1, 31), 'raw': b'\\x00'}\n"
            "result['response'] = helper.answer()\n",
            helper=Helper(),
            request=RequestView(method='GET', path='/p', args=None,
                headers=[('X-A', 'b'), ('Authorization', 'secret')],
                form=[('q', 'r')], files=[('f', ('a.txt', 'text/plain',
                            b'data'))]))
        import datetime
        import decimal
        self.assertEqual(result['payload'], {
                'sum': decimal.Decimal('3.5'), 'size': 3, 'caught': 'missing',
                'path': '/p', 'header': 'b', 'file': b'data', 'form': 'r',
                'hidden': None,
                'when': datetime.date(2024, 1, 31), 'raw': b'\x00'})
        self.assertEqual(calls, [(decimal.Decimal('1.5'), 2)])
        # The very object made on this side, not a copy.
        self.assertIsInstance(result['response'], Response)
        self.assertEqual(result['response'].body, 'made here')

    def test_memo(self):
        "A call made beforehand answers the snippet's own, and only it"
        calls = []

        class Helper:
            "Counts its calls: each is a round trip"
            def value(self, key):
                calls.append(key)
                return f'fresh {key}'

        from trytond_endpoint.sandbox_guards import PROXY_TYPES
        PROXY_TYPES.add(Helper)
        self.addCleanup(PROXY_TYPES.discard, Helper)

        def run(code, memo):
            calls.clear()
            result = {}
            self.sandbox.run(code, {'result': result, 'helper': helper},
                2, memo)
            return result['payload']
        helper = Helper()
        # The first call, with the very arguments: no round trip.
        self.assertEqual(run("result['payload'] = helper.value([1])",
                [(helper, 'value', ([1],), 'kept', False)]), 'kept')
        self.assertEqual(calls, [])
        # Once only: the second call is the server's.
        self.assertEqual(run(
                "helper.value([1])\nresult['payload'] = helper.value([1])",
                [(helper, 'value', ([1],), 'kept', False)]), 'fresh [1]')
        self.assertEqual(calls, [[1]])
        # Other arguments, or of another type (True == 1), are the server's.
        for call, fresh in [("helper.value([2])", 'fresh [2]'),
                ("helper.value([True])", 'fresh [True]'),
                ("helper.value((1,))", 'fresh [1]'),
                ("helper.value(key=[1])", 'fresh [1]')]:
            with self.subTest(call=call):
                self.assertEqual(run(f"result['payload'] = {call}",
                        [(helper, 'value', ([1],), 'kept', False)]), fresh)
        # After another call, what was read before may have changed ...
        self.assertEqual(run(
                "helper.value('write')\n"
                "result['payload'] = helper.value([1])",
                [(helper, 'value', ([1],), 'kept', False)]), 'fresh [1]')
        self.assertEqual(calls, ['write', [1]])
        # ... unless it never changes (pool.get).
        self.assertEqual(run(
                "helper.value('write')\n"
                "result['payload'] = helper.value([1])",
                [(helper, 'value', ([1],), 'kept', True)]), 'kept')
        self.assertEqual(calls, ['write'])
        # Nothing of a run is left for the next.
        self.assertEqual(run("result['payload'] = helper.value([1])", []),
            'fresh [1]')

    def test_uncaught_server_error_is_the_original(self):
        "An exception of the server side not caught is raised as itself"
        class Refused(Exception):
            pass
        error = Refused('no')

        def refuse():
            raise error
        with self.assertRaises(Refused) as raised:
            self.run_code("refuse()", refuse=refuse)
        self.assertIs(raised.exception, error)
        self.assertTrue(self.sandbox.healthy)

    def test_guard_on_the_server_side(self):
        "A handle's dunder attributes are refused here too"
        def function():
            return 1
        self.sandbox._objects = [function]
        answer = self.sandbox._serve(['get', 0, '__globals__', []])
        self.assertEqual(answer[0], 'err')

    def test_deadline_kills(self):
        "Past its deadline the process is killed: BudgetExceeded"
        with self.assertRaises(BudgetExceeded):
            self.run_code("round(1, -10**8)", timeout=0.5)
        self.assertFalse(self.sandbox.healthy)
        self.assertTrue(_gone(self.sandbox.pid))

    def test_crash(self):
        "A process that dies is SandboxCrashed, with its signal"
        with self.assertRaises(SandboxCrashed) as raised:
            self.run_code(
                "x = ()\nfor i in range(1000000):\n    x = (x,)\n{x}",
                timeout=10)
        self.assertIn('SIGSEGV', str(raised.exception))

    def test_memory_error_recycles(self):
        "Over the address space: BudgetExceeded, and a fresh process next"
        with self.assertRaises(BudgetExceeded):
            self.run_code("x = set(range(10**7))", timeout=20)
        self.assertFalse(self.sandbox.healthy)

    def test_frames_are_bounded(self):
        "A frame longer than the limit is refused before it is read"
        read, write = os.pipe()
        self.addCleanup(os.close, read)
        self.addCleanup(os.close, write)
        os.write(write, (wire.MAX_FRAME + 1).to_bytes(4, 'big'))
        with self.assertRaises(wire.WireError):
            wire.read_frame(read, time.monotonic() + 1)

    def test_server_messages_name_no_class_of_the_server(self):
        "The server's pickle names the wire's builder and plain types only"
        import datetime
        import decimal
        import io
        import pickle
        from collections import OrderedDict
        from zoneinfo import ZoneInfo

        class Secret:
            key = 'server only'

        class Text(str):
            pass

        handles = []
        pickler = wire.Pickler(lambda value: handles.append(value) or [
                len(handles) - 1, 1, None, None])
        data = pickler.encode(['ok', {
                    'obj': Secret(), 'cls': Secret, 'fn': os.system,
                    'text': Text('t'), 'ordered': OrderedDict(a=1),
                    'when': datetime.datetime(2024, 1, 2, 3, 4,
                        tzinfo=ZoneInfo('Europe/Brussels')),
                    'amount': decimal.Decimal('1.5'),
                    'view': RequestView(method='GET', path='/p', args=None,
                        headers=[('X-A', 'b')])}])
        named = set()

        class Recorder(pickle.Unpickler):
            def find_class(self, module, name):
                named.add((module, name))
                if name == 'build':
                    return lambda tag, payload: (tag, payload)
                return super().find_class(module, name)
        Recorder(io.BytesIO(data)).load()
        self.assertEqual(named - {
                ('trytond_endpoint.sandbox_process_wire', 'build'),
                ('builtins', 'str'), ('builtins', 'dict'),
                ('builtins', 'bytes'),
                ('decimal', 'Decimal'), ('datetime', 'datetime')}, set())
        self.assertEqual(
            [type(h) for h in handles], [Secret, type, type(os.system)])

    def test_values_cross_both_ways(self):
        "Plain values of every kind reach the sandbox and come back"
        import datetime
        import decimal
        from zoneinfo import ZoneInfo

        class Text(str):
            pass

        when = datetime.datetime(2024, 1, 2, 3, 4,
            tzinfo=ZoneInfo('Europe/Brussels'))
        value = {
            'amount': decimal.Decimal('-1.50'), 'day': datetime.date(2024, 2,
                29), 'when': when, 'utc': datetime.datetime(2024, 1, 1,
                tzinfo=datetime.timezone.utc), 'at': datetime.time(1, 2),
            'delta': datetime.timedelta(days=1, seconds=2), 'raw': b'\x00\xff',
            'mutable': bytearray(b'ab'), 'text': Text('sub'), 'big': 7 ** 9000,
            'ints': {1: 'one'}, 'set': {1, 2}, 'frozen': frozenset({3}),
            'nested': [[{'a': None, 'b': True, 'c': 1.5}]]}
        result = self.run_code(
            "result['payload'] = {'value': value,\n"
            "    'by_int': value['ints'][1]}",
            value=value)
        payload = result['payload']
        # (compared apart: the failure message of a long int can not be
        # written)
        self.assertTrue(payload['value'].pop('big') == value.pop('big'))
        # (dict keys that are not text come back as they went: a long int
        # in the answer has it written with tags)
        self.assertEqual(payload['value'], dict(value, mutable=b'ab'))
        self.assertEqual(payload['value']['when'].utcoffset(),
            when.utcoffset())
        self.assertIs(type(payload['value']['text']), str)
        self.assertIs(type(payload['value']['mutable']), bytes)
        self.assertEqual(payload['by_int'], 'one')

    def test_nothing_is_unpickled(self):
        "Unknown tags are refused, never built"
        decode = wire.decoder()
        with self.assertRaises(wire.WireError):
            decode(b'{"\\u0000p": "cos\\nsystem"}')


class PoolTestCase(unittest.TestCase):

    def test_replaced_after_a_kill_and_no_orphans(self):
        "A killed server worker leaves no sandbox process behind"
        script = textwrap.dedent('''
            import sys, time
            sys.path.insert(0, sys.argv[1])
            from trytond_endpoint.sandbox_process import pool_for, run_isolated
            run_isolated("result['payload'] = 1", {'result': {}}, 2)
            pool = pool_for(None)
            deadline = time.monotonic() + 30
            while not pool._idle and time.monotonic() < deadline:
                time.sleep(0.05)
            print(pool._idle[0].pid, flush=True)
            time.sleep(600)
            ''')
        worker = subprocess.Popen(
            [sys.executable, '-c', script, sandbox_process._ROOT],
            stdout=subprocess.PIPE, text=True)
        try:
            child = int(worker.stdout.readline())
            self.assertFalse(_gone(child, wait=0.2))
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker.stdout.close()
        self.assertTrue(_gone(child))

    def test_next_run_after_a_crash(self):
        "After a crash the next run gets a warm process"
        with self.assertRaises(SandboxCrashed):
            run_isolated("x = [1]\nfor i in range(300000):\n"
                "    x = map(abs, x)\nlist(x)", {'result': {}}, 10, MEMORY)
        result = {}
        run_isolated("result['payload'] = 2", {'result': result}, 2, MEMORY)
        self.assertEqual(result, {'payload': 2})
