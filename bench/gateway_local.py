"""Where a new text is cheaper to scan: in the gateway's process or in a detector worker (issue 14).

Usage::

    .venv/bin/python bench/gateway_local.py [--quick] [--sizes 256,1024,...]

For each size, new texts (a config file with an e-mail address, a phone number and an AWS key, then
code; each one unique, so no cache helps) are scanned for secrets and PII and scored for injection
the two ways :class:`ramparts.gateway.pool.ScanPool` can, alternating, in one run:

- ``pool``: both sent to the worker processes at once and waited for (what ``_prefetch`` does with
  a long text): wall time of the round trip;
- ``here``: both on the calling thread (``scan_here`` then ``score_here``, what it does with a text
  under ``LOCAL_BELOW``): wall time, all of it CPU time of the gateway's process.

The ratio here / pool below 1 means scanning in process answers sooner. Beside it, the CPU time
the gateway's own process spends either way (``process_time``, mean: pickling, the executor's
threads, against the scan itself; median): in a burst that process is the bottleneck (issue 14), so a text
is worth scanning here only where that costs it little more than the round trip does. The last line is
``RESULT crossover_chars=… cpu_crossover_chars=… here_over_pool_1024=… …`` (crossover: the first
size where ``here`` is no faster, or costs the gateway's process more CPU; 0: none measured).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

EMAIL, PHONE, AWS = "jane.roe@acme-corp.io", "+1 415 555 2671", "AKIAQ3EGXJ5TZRPLW4NB"


def text_of(size: int) -> str:
    head = f"# file {os.urandom(6).hex()}\nemail: {EMAIL}\nphone: {PHONE}\naws_access_key_id = {AWS}\n"
    filler = "def handler(event, context):\n    return {'status': 200, 'body': event.get('body')}\n"
    return (head + filler * (size // len(filler) + 1))[:size]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (< 1 min)")
    parser.add_argument("--sizes", default="256,1024,2048,4096,8192,16384")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rounds = 15 if args.quick else 60

    from ramparts.detect.redact import load_key
    from ramparts.gateway.pool import ScanPool

    state = tempfile.mkdtemp(prefix="ramparts-bench-local-")
    key = load_key(os.path.join(state, "fingerprint.key"))
    pool = ScanPool(
        args.workers, settings=None, cache_dir=os.path.join(state, "cache"), key=key, block=0.85, warn=0.5
    )
    try:
        pool.warm()
        for _ in range(20):  # the signatures' prefilter compiles in the background: let it land
            pool.score_here(text_of(1024))
            pool.submit_score(text_of(1024)).result()
        time.sleep(2.0)

        def by_pool(text: str) -> tuple[float, float]:
            start, cpu = time.perf_counter(), time.process_time()
            scan, score = pool.submit_scan(text), pool.submit_score(text)
            scan.result(), score.result()
            return time.perf_counter() - start, time.process_time() - cpu

        def here(text: str) -> tuple[float, float]:
            start, cpu = time.perf_counter(), time.process_time()
            pool.scan_here(text), pool.score_here(text)
            return time.perf_counter() - start, time.process_time() - cpu

        print(f"# {args.workers} workers; median of {rounds} alternating rounds; load {os.getloadavg()}")
        print(
            f"{'chars':>7} {'pool ms':>9} {'here ms':>9} {'here/pool':>10} {'gateway CPU ms: pool':>21} {'here':>6}"
        )
        ratios: dict[int, float] = {}
        cpu_ratios: dict[int, float] = {}
        for size in sizes:
            pooled: list[tuple[float, float]] = []
            local: list[tuple[float, float]] = []
            for _ in range(rounds):
                pooled.append(by_pool(text_of(size)))
                local.append(here(text_of(size)))
            p, h = (
                statistics.median(w for w, _ in pooled) * 1e3,
                statistics.median(w for w, _ in local) * 1e3,
            )
            pc, hc = (
                statistics.median(c for _, c in pooled) * 1e3,
                statistics.median(c for _, c in local) * 1e3,
            )
            ratios[size] = h / p
            cpu_ratios[size] = hc / pc if pc else float("inf")
            print(f"{size:>7} {p:>9.3f} {h:>9.3f} {h / p:>10.2f} {pc:>21.3f} {hc:>6.3f}")
    finally:
        pool.close()
    crossover = next((s for s in sizes if ratios[s] >= 1.0), 0)
    cpu_crossover = next((s for s in sizes if cpu_ratios[s] >= 1.0), 0)
    parts = [f"crossover_chars={crossover}", f"cpu_crossover_chars={cpu_crossover}"]
    parts += [f"here_over_pool_{s}={r:.2f}" for s, r in ratios.items()]
    parts += [f"cpu_here_over_pool_{s}={r:.2f}" for s, r in cpu_ratios.items()]
    print(f"# load {os.getloadavg()}")
    print("RESULT " + " ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
