"""What the git history scan costs a decision (issue 13): a printing git command is run by the hook
itself, hardened and bounded, and its output scanned before the call is decided.

Usage::

    .venv/bin/python bench/git_scan.py [--quick] [--rounds N] [--commits N]

Builds a scratch repository (``--commits`` commits, each changing three of 20 files of 40 lines), then
decides each command below in-process with the baseline profile (``ramparts.explain.explain_input``:
the hook's normalisation, engine and scans, no audit write), every round in a shuffled order so
machine noise hits all alike. The figure per command is its median as a ratio to the median of
``git log --oneline -20`` decided in the same rounds (a read-only git command that prints no content,
so nothing is run or scanned), and to the hook's deadline budget for the scan (a quarter of
``hook.deadline_ms``). ``git log -p`` over the whole history shows how the size bound ends a scan
(it asks, with the reason) rather than the deadline.

The last line is ``RESULT name=value …``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ramparts.explain import explain_input  # noqa: E402
from ramparts.policy.load import load_policy  # noqa: E402

BASE = "git log --oneline -20"
CASES = {
    "log_p_20": "git log -p -20",
    "show_head": "git show HEAD",
    "diff_5": "git diff HEAD~5 HEAD",
    "blame_rev": "git blame -L 1,20 HEAD~3 -- file0.txt",
    "show_blob_path": "git show HEAD~3:file1.txt",
    "log_p_all": "git log -p",
}


def make_repo(folder: str, commits: int) -> None:
    from ramparts.testing import scratch_git_env

    env = scratch_git_env(os.environ, "b")

    def git(*args: str, stdin: bytes | None = None) -> None:
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True, input=stdin)

    git("init", "-q", "-b", "main")
    rng = random.Random(7)
    root = Path(folder)
    for n in range(20):
        (root / f"file{n}.txt").write_text("".join(f"line {i} of file {n}\n" for i in range(40)))
    git("add", ".")
    git("commit", "-qm", "start")
    for c in range(commits):
        for n in rng.sample(range(20), 3):
            path = root / f"file{n}.txt"
            lines = path.read_text().splitlines()
            lines[rng.randrange(len(lines))] = f"changed in commit {c}: {rng.random():.6f}"
            path.write_text("\n".join(lines) + "\n")
        git("commit", "-qam", f"commit {c}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and commits (well under a minute)")
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--commits", type=int, default=0)
    args = parser.parse_args()
    rounds = args.rounds or (15 if args.quick else 60)
    commits = args.commits or (200 if args.quick else 2000)
    policy = load_policy("profile:baseline")
    budget_ms = policy.hook.deadline_ms / 4
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    with tempfile.TemporaryDirectory() as folder:
        make_repo(folder, commits)
        names = ["base", *CASES]
        commands = {"base": BASE, **CASES}
        verdicts = {}
        for name in names:  # warm: detectors loaded, caches built
            verdicts[name] = explain_input(policy, "Bash", {"command": commands[name]}, folder)
        times: dict[str, list[float]] = {name: [] for name in names}
        rng = random.Random(13)
        for _ in range(rounds):
            rng.shuffle(names)
            for name in names:
                start = time.perf_counter()
                explain_input(policy, "Bash", {"command": commands[name]}, folder)
                times[name].append((time.perf_counter() - start) * 1000)
    base = statistics.median(times["base"])
    print(f"{commits} commits, {rounds} rounds, load average {load:.2f}; scan budget {budget_ms:.0f} ms")
    print(f"  {'base':16} {base:8.1f} ms  {verdicts['base'].verdict}  ({BASE})")
    figures: dict[str, object] = {"base_p50_ms": round(base, 2)}
    for name in CASES:
        median = statistics.median(times[name])
        decision = verdicts[name]
        why = "" if decision.verdict == "allow" else f" — {decision.reason[:110]}"
        print(f"  {name:16} {median:8.1f} ms  x{median / base:6.1f}  {decision.verdict}{why}")
        figures[f"{name}_ratio"] = round(median / base, 1)
        figures[f"{name}_budget_share"] = round(median / budget_ms, 3)
        figures[f"{name}_verdict"] = decision.verdict
    figures["load"] = round(load, 2)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
