"""The shell analysis against real bash: a long differential campaign (issue 13).

Usage::

    .venv/bin/python bench/shell_differential.py [--quick] [--cases N] [--seed S] [--minutes M]

Generates commands from the oracle's grammar and from mutations of the development command corpora
(``../shared/corpora/commands``), decides each with the shipped baseline and read-only profiles, and
runs every command either profile allows in real bash inside bubblewrap under strace
(``ramparts.testing.shell_oracle``). An *under-report* is an allowed command that ran, read, wrote,
contacted or printed something the analysis did not name; each is printed (command and what it did)
so it can become a regression test. The baseline column is the same campaign decided without running
anything: the share of generated commands the engine allows. Needs bwrap and strace.
Ends with ``RESULT cases=… allowed=… ran=… underreported=… seconds=…``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ramparts.testing.shell_oracle import Sandbox, available, campaign, check, corpus_commands  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 cases (well under a minute)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--minutes", type=float, default=0.0, help="stop after this long (0: no limit)")
    args = parser.parse_args()
    why = available()
    if why:
        print(f"skipped: {why}")
        print("RESULT cases=0 allowed=0 ran=0 underreported=0 timed_out=0 seconds=0")
        return 0
    cases = 300 if args.quick else args.cases
    corpus = corpus_commands()
    start = time.monotonic()
    done = allowed = ran = 0
    found: list[tuple[str, tuple[str, ...]]] = []
    with Sandbox() as sandbox:
        for command in campaign(args.seed, cases, corpus):
            result = check(sandbox, command)
            done += 1
            allowed += "allow" in result.verdicts.values()
            ran += result.ran
            if result.problems:
                found.append((command, result.problems))
                print(f"UNDER-REPORT {command!r}: {'; '.join(result.problems)[:400]}", flush=True)
            if done % 1000 == 0:
                rate = done / (time.monotonic() - start)
                print(
                    f"{done} cases, {allowed} allowed, {ran} run, {len(found)} under-reports ({rate:.0f}/s)",
                    flush=True,
                )
            if args.minutes and time.monotonic() - start > args.minutes * 60:
                break
    seconds = time.monotonic() - start
    print(f"corpus commands available for mutation: {len(corpus)}")
    print(f"RESULT cases={done} allowed={allowed} ran={ran} underreported={len(found)} seconds={seconds:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
