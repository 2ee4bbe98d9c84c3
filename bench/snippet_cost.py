"""Per-request cost of the snippet sandbox.

Run from the repository root: ``python bench/snippet_cost.py``. It runs a
small compiled snippet through ``run_snippet`` and the same source through a
bare ``exec`` (no guards, no budget), and prints both and their difference:
the sandbox's cost on top of the work the snippet does. The goal is under
20 µs for a small snippet; it asserts nothing about time (machines differ).
"""
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trytond_endpoint.sandbox import (
    SAFE_MODULES,
    RequestView,
    Response,
    compile_snippet,
    exceptions,
    run_snippet,
)

SMALL = """
limit = int(request.args.get('limit', 10))
lines = [{'id': i, 'qty': i * 2} for i in range(limit)]
result['payload'] = {'count': len(lines), 'lines': lines}
"""

LOOP = """
total = 0
for i in range(1000):
    total += i * i
result['payload'] = {'total': total}
"""

FORMAT = """
names = ['%s-%d' % ('a', i) for i in range(20)]
text = ', '.join(names)
stamp = f'{len(text):>6}'
result['payload'] = {'text': text, 'stamp': stamp}
"""


def per_call(function, number):
    "Best of five, in microseconds per call."
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def measure(name, source, number):
    code = compile_snippet(source)
    plain = compile(source, '<plain>', 'exec')
    request = RequestView(
        method='GET', path='/bench', args={'limit': '10'}, headers={})

    def sandboxed():
        run_snippet(code, {
            'request': request, 'result': {}, 'log': print,
            'pool': None, 'user': None, 'endpoint': None, 'context': {}})

    def bare():
        exec(plain, {
            'request': request, 'result': {}, 'Response': Response,
            'exceptions': exceptions, **SAFE_MODULES})

    sandbox_us = per_call(sandboxed, number)
    bare_us = per_call(bare, number)
    print(f'{name:<28} sandbox {sandbox_us:9.1f} µs   bare exec '
        f'{bare_us:9.1f} µs   overhead {sandbox_us - bare_us:9.1f} µs')


def main():
    source = SMALL
    number = 20_000
    compile_us = per_call(lambda: compile_snippet(source), 50)
    print(f'compile_snippet (once per sync): {compile_us:.0f} µs')
    measure('empty snippet', 'pass', number)
    measure('small snippet (10 lines)', source, number)
    measure('format and join', FORMAT, number // 4)
    measure('loop of 1000 iterations', LOOP, number // 20)


if __name__ == '__main__':
    main()
