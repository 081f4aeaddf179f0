"""Shell analysis over the public command corpora: parse rate, speed, and what the baseline decides.

Usage::

    .venv/bin/python bench/shell_corpus.py [--quick]

Reads ``../shared/corpora/commands/`` (or ``$RAMPARTS_CORPORA/commands``):

- ``tldr.jsonl``: ordinary usage. Parse rate = commands the bash grammar reads without an error
  node; throughput = ``analyze()`` calls per second in this process.
- ``dippy.jsonl``: ``allow`` (safe to auto-approve) / ``ask`` labels. Reported: how many of each the
  baseline and read-only profiles allow, ask or deny. An ``ask`` command a profile allows is a miss;
  an ``allow`` command the read-only profile asks for is a needless prompt.
- ``gtfobins.jsonl``, ``bashfuscator.jsonl``: abuse of ordinary binaries and obfuscated variants.
  Reported per profile: the decision distribution, what is allowed (by binary and function, never
  the command, which may be harmful text), and *violations*: allowed rows that spawn a shell, run a
  command or reach the network (must be 0).

Decisions are taken in an empty scratch folder, the way the hook would for a project with nothing
in it. The last line is ``RESULT ...`` with the headline figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ramparts.explain import explain_input  # noqa: E402
from ramparts.policy.load import load_policy  # noqa: E402
from ramparts.shell import analyze  # noqa: E402
from ramparts.shell.split import split  # noqa: E402

DANGEROUS = frozenset(
    {
        "shell",
        "reverse-shell",
        "bind-shell",
        "command",
        "upload",
        "download",
        "privilege-escalation",
        "library-load",
        "obfuscated",
    }
)
"""GTFOBins functions that must never be allowed (every obfuscated command counts too)."""


def _bash_accepts(text: str) -> bool:
    """Does bash's own parser accept the text (``bash -n``, nothing is run)?"""
    import subprocess

    done = subprocess.run(["bash", "-n", "-c", text], capture_output=True, timeout=10, check=False)
    return done.returncode == 0


def _local(text: str) -> bool:
    """A command that stays on this machine and that the analysis sees whole: the benign read-only
    commands issue 13 counts (Dippy's `allow` label also covers `curl` GETs and cloud API calls)."""
    result = analyze(text)
    return not result.hosts and not result.opaque and not result.code


def corpora_dir() -> Path | None:
    env = os.environ.get("RAMPARTS_CORPORA")
    base = Path(env) if env else ROOT.parent / "shared" / "corpora"
    folder = base / "commands"
    return folder if folder.is_dir() else None


def load(folder: Path, name: str, limit: int | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (folder / name).read_text("utf-8").splitlines() if line.strip()]
    if limit is not None and len(rows) > limit:
        step = len(rows) / limit
        rows = [rows[int(i * step)] for i in range(limit)]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a sample of each corpus (under a minute)")
    args = parser.parse_args()
    folder = corpora_dir()
    if folder is None:
        print("corpora not found (set RAMPARTS_CORPORA or put shared/corpora beside the repository)")
        print("RESULT skipped=1")
        return 0
    limit = 3000 if args.quick else None

    tldr = [row["text"] for row in load(folder, "tldr.jsonl", limit)]
    failures: collections.Counter[str] = collections.Counter()
    failed_texts: list[str] = []
    parsed = 0
    for text in tldr:
        result = split(text)
        bad = [r for r in result.opaque if "does not parse" in r or "beyond U+FFFF" in r]
        if bad:
            failures[text.split(" ", 1)[0]] += 1
            failed_texts.append(text)
        else:
            parsed += 1
    parse_rate = parsed / len(tldr)
    # The corpus also holds key sequences for interactive programs (`<Ctrl x>`), which bash itself
    # rejects: the rate that matters is over what `bash -n` accepts.
    bash_rejects = sum(1 for text in failed_texts if not _bash_accepts(text))
    start = time.perf_counter()
    rounds = 0
    while time.perf_counter() - start < (2.0 if args.quick else 5.0):
        for text in tldr[:1000]:
            analyze(text)
        rounds += 1
    throughput = rounds * min(len(tldr), 1000) / (time.perf_counter() - start)
    valid = len(tldr) - bash_rejects
    valid_rate = parsed / valid if valid else 1.0
    print(
        f"tldr: {len(tldr)} commands, parsed cleanly {parsed} ({parse_rate:.2%}); bash -n rejects "
        f"{bash_rejects} of the others, so {valid_rate:.2%} of what bash accepts parses; "
        f"analyze() {throughput:,.0f} commands/s in-process"
    )
    if failures:
        print(
            "  programs whose examples did not parse: "
            + ", ".join(f"{k} x{v}" for k, v in failures.most_common(10))
        )

    policy = load_policy("profile:baseline")
    readonly = load_policy("profile:readonly")
    figures: dict[str, float] = {
        "parse_rate": round(parse_rate * 100, 2),
        "parse_rate_bash_valid": round(valid_rate * 100, 2),
        "cmds_per_s": round(throughput),
    }
    with tempfile.TemporaryDirectory() as scratch:

        def decide(text: str, profile: Any = policy) -> str:
            return explain_input(profile, "Bash", {"command": text}, scratch).verdict

        dippy = load(folder, "dippy.jsonl", limit)
        for profile_name, profile in (("baseline", policy), ("readonly", readonly)):
            table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
            local: collections.Counter[str] = collections.Counter()
            for row in dippy:
                verdict = decide(row["text"], profile)
                table[row["label"]][verdict] += 1
                if row["label"] == "allow" and _local(row["text"]):
                    local[verdict] += 1
            local_total = sum(local.values()) or 1
            print(
                f"dippy 'allow' that stays on this machine under {profile_name} ({local_total}; no host "
                f"contacted, no xargs/$(...)/inline code): allowed {local['allow']} "
                f"({local['allow'] / local_total:.1%}), ask {local['ask']}, deny {local['deny']}"
            )
            figures[f"benign_local_allowed_pct_{profile_name}"] = round(local["allow"] / local_total * 100, 2)
            for label in ("allow", "ask"):
                counts = table[label]
                total = sum(counts.values()) or 1
                print(
                    f"dippy {label!r} under {profile_name} ({total}): "
                    + ", ".join(
                        f"{v} {counts[v]} ({counts[v] / total:.1%})" for v in ("allow", "ask", "deny")
                    )
                )
            ask_total = sum(table["ask"].values()) or 1
            allow_total = sum(table["allow"].values()) or 1
            figures[f"dippy_ask_allowed_pct_{profile_name}"] = round(
                table["ask"]["allow"] / ask_total * 100, 2
            )
            figures[f"dippy_allow_allowed_pct_{profile_name}"] = round(
                table["allow"]["allow"] / allow_total * 100, 2
            )

        for name, key in (("gtfobins.jsonl", "gtfobins"), ("bashfuscator.jsonl", "bashfuscator")):
            rows = load(folder, name, limit)
            for profile_name, profile in (("baseline", policy), ("readonly", readonly)):
                counts: collections.Counter[str] = collections.Counter()
                allowed: collections.Counter[str] = collections.Counter()
                violations = 0
                for row in rows:
                    verdict = decide(row["text"], profile)
                    counts[verdict] += 1
                    if verdict == "allow":
                        what = row.get("function", "obfuscated")
                        allowed[f"{row.get('binary', row.get('mutator', '?'))}/{what}"] += 1
                        # allowed and it spawns a shell, runs a command or moves data over the network
                        if what in DANGEROUS or analyze(row["text"]).hosts:
                            violations += 1
                print(
                    f"{key} under {profile_name} ({len(rows)}): "
                    + ", ".join(f"{v} {counts[v]}" for v in ("allow", "ask", "deny"))
                    + f"; allowed although it spawns a shell, runs a command or reaches the network: {violations}"
                )
                if allowed:
                    print("  allowed: " + ", ".join(f"{k} x{v}" for k, v in allowed.most_common(12)))
                figures[f"{key}_allowed_{profile_name}"] = counts["allow"]
                figures[f"{key}_violations_{profile_name}"] = violations
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
