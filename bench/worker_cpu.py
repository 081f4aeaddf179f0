"""CPU a gateway detector worker spends per fresh 20 KB prompt, this tree against another (issue 14).

Usage::

    .venv/bin/python bench/worker_cpu.py [--quick] [--baseline-src DIR] [--prompts N]

What a worker does for a fresh prompt of ``bench/gateway.py`` (a config file with an e-mail address,
a phone number and an AWS key, then Python code; each one unique, so no cache helps): one job that
scans it for secrets and PII and one that scores it for injection, sent through a real
:class:`ramparts.gateway.pool.ScanPool` of one worker process (so the figure includes what the worker
pays to receive the text and send the answer back). The worker's own CPU time (``time.process_time``
asked of the worker itself) over ``N`` prompts, divided by ``N``.

``--baseline-src DIR`` (e.g. ``git archive BASE src | tar -x -C /tmp/base`` then ``--baseline-src
/tmp/base/src``): that tree's pool too, in alternating rounds (fresh processes each round), so both
see the same machine load; the best round of each is printed. Both trees also report the findings
and the injection score of one fixed prompt with one fixed key, which must be identical.

The last line is ``RESULT worker_cpu_ms=… before_worker_cpu_ms=… ratio=… same_findings=…``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SNIPPET = """
import json, os, sys, time
sys.path.insert(0, sys.argv[2])
from gateway import prompt
from ramparts.gateway.pool import ScanPool

def text(tag):
    return prompt(tag=tag)["messages"][2]["content"][0]["content"]

def main():
    from ramparts.detect import injection

    injection.use_hyperscan(True, sys.argv[1])  # compiled into the cache here: the worker loads it
    key = bytes(range(32))
    pool = ScanPool(1, settings=None, cache_dir=sys.argv[1], key=key, block=0.85, warn=0.5, local_below=0)

    def both(t):
        scan, score = pool.submit_scan(t), pool.submit_score(t)
        return scan.result(), score.result()

    try:
        pool.warm()
        for i in range(30):  # the signatures' prefilter loads in the background: let it land
            both(text(f"warm-{i}"))
        time.sleep(1.0)
        for i in range(30):
            both(text(f"warm2-{i}"))
        fixed = both(text("fixed"))
        print(json.dumps([[list(f) for f in fixed[0]], list(fixed[1])]), flush=True)
        for line in sys.stdin:  # "N": N fresh prompts, answered with the worker's CPU seconds for them
            texts = [text(os.urandom(6).hex()) for _ in range(int(line))]
            start = pool._executor.submit(time.process_time).result()
            for t in texts:
                both(t)
            print(pool._executor.submit(time.process_time).result() - start, flush=True)
    finally:
        pool.close()

if __name__ == "__main__":
    main()
"""


class _Tree:
    """One tree's pool in a process of its own, driven a few prompts at a time over its stdin."""

    def __init__(self, src: Path, cache: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SNIPPET, cache, str(ROOT / "bench")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(src)},
        )
        self.fixed = json.loads(self._line())

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench process exited ({self.proc.wait()})")
        return line

    def run(self, count: int) -> float:
        """The worker's CPU seconds for ``count`` fresh prompts."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{count}\n")
        self.proc.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer prompts and rounds (< 1 min)")
    parser.add_argument("--baseline-src", type=Path, default=None, help="another tree's src, timed alongside")
    parser.add_argument("--prompts", type=int, default=0, help="prompts per round (default 150, --quick 100)")
    args = parser.parse_args()
    count = args.prompts or (200 if args.quick else 600)
    step = 5
    trees = {"after": ROOT / "src"}
    if args.baseline_src is not None:
        trees["before"] = args.baseline_src
    with tempfile.TemporaryDirectory() as cache:
        running = {name: _Tree(src, os.path.join(cache, name)) for name, src in trees.items()}
        try:
            # the trees take turns, ``step`` prompts each: both see the same machine load; the
            # slowest tenth of the turns (another process on the core) is left out of both
            turns: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(count // step):
                for name, tree in running.items():
                    turns[name].append(tree.run(step) / step)
            fixed = {name: tree.fixed for name, tree in running.items()}
        finally:
            for tree in running.values():
                tree.close()
    best = {name: statistics.mean(sorted(t)[: max(1, len(t) * 9 // 10)]) * 1000 for name, t in turns.items()}
    rounds = len(turns["after"])
    print(
        f"# worker CPU per fresh 20 KB prompt (scan + score jobs), {rounds} turns of {step} each, the fastest 90 %"
    )
    print(f"# load {os.getloadavg()}")
    print(f"{'tree':>8} {'ms':>8}")
    for name in trees:
        print(f"{name:>8} {best[name]:>8.3f}")
    parts = [f"worker_cpu_ms={best['after']:.3f}"]
    if "before" in best:
        same = fixed["before"] == fixed["after"]
        print(f"# findings and score of the fixed prompt identical: {same}")
        parts += [
            f"before_worker_cpu_ms={best['before']:.3f}",
            f"ratio={best['after'] / best['before']:.3f}",
            f"same_findings={int(same)}",
        ]
    print("RESULT " + " ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
