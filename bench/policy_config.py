"""What the policy costs the hook: importing its loader and reading the compiled policy from the cache.

Usage::

    .venv/bin/python bench/policy_config.py [--quick] [--before SRC]

Each round starts fresh interpreters (``python -I``) on this checkout's ``src`` and, with ``--before``,
on another tree (e.g. ``git worktree add /tmp/base BASE`` then ``--before /tmp/base/src``), in shuffled
order, and times inside each (after ``import ramparts``): importing ``ramparts.policy.load`` (the typed
config, the rules), the first ``load_policy`` of a baseline policy from its warm cache (what each hook
event does) and a repeated one. The report gives medians and the after/before ratios::

    RESULT import_ms=... first_read_ms=... warm_read_us=... [import_ratio=... first_read_ratio=... warm_read_ratio=...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

PROBE = r"""
import sys, time
import ramparts
t0 = time.perf_counter()
from ramparts.policy.load import load_policy
t1 = time.perf_counter()
load_policy(sys.argv[1], cache_dir=sys.argv[2])
t2 = time.perf_counter()
for _ in range(20):
    load_policy(sys.argv[1], cache_dir=sys.argv[2])
t3 = time.perf_counter()
print("[%f, %f, %f]" % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) / 20 * 1e6))
"""

MAKE_CACHE = r"""
import sys
from ramparts.policy.load import load_policy
load_policy(sys.argv[1], cache_dir=sys.argv[2])
"""


def run(src: str, code: str, *args: str) -> str:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (under a minute)")
    parser.add_argument("--before", help="another tree's src to compare with")
    parser.add_argument("--rounds", type=int, default=0)
    args = parser.parse_args()
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    trees = {"after": here}
    if args.before:
        trees["before"] = os.path.abspath(args.before)
    rounds = args.rounds or (15 if args.quick else 60)
    with tempfile.TemporaryDirectory() as tmp:
        policy = os.path.join(tmp, "ramparts.yaml")
        with open(policy, "w", encoding="utf-8") as handle:
            handle.write("version: 1\nextends: baseline\n")
        caches = {}
        for name, src in trees.items():
            caches[name] = os.path.join(tmp, f"cache-{name}")
            run(src, MAKE_CACHE, policy, caches[name])
        samples: dict[str, list[list[float]]] = {name: [] for name in trees}
        for _ in range(rounds):
            order = list(trees)
            random.shuffle(order)
            for name in order:
                samples[name].append(json.loads(run(trees[name], PROBE, policy, caches[name])))
    medians = {
        name: [statistics.median(s[i] for s in rows) for i in range(3)] for name, rows in samples.items()
    }
    lows = {name: [min(s[i] for s in rows) for i in range(3)] for name, rows in samples.items()}
    print(
        f"{'tree':8} {'import ms':>15} {'first read ms':>15} {'warm read us':>13}   median (min) of {rounds}"
    )
    for name, (imp, first, warm) in medians.items():
        low = lows[name]
        print(
            f"{name:8} {imp:7.2f} ({low[0]:5.2f}) {first:7.2f} ({low[1]:5.2f}) {warm:6.0f} ({low[2]:4.0f})"
            f"   {trees[name]}"
        )
    after = medians["after"]
    if "before" in lows:
        print(f"min-based ratios: import x{lows['after'][0] / lows['before'][0]:.2f}")
    result = f"RESULT import_ms={after[0]:.2f} first_read_ms={after[1]:.2f} warm_read_us={after[2]:.0f}"
    if "before" in medians:
        before = medians["before"]
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        result += (
            f" import_ratio={ratios[0]:.2f} first_read_ratio={ratios[1]:.2f} warm_read_ratio={ratios[2]:.2f}"
        )
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
