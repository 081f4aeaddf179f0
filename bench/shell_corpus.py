"""Shell analysis over the public command corpora: parse rate, speed, and what the baseline decides.

Usage::

    .venv/bin/python bench/shell_corpus.py [--quick]

Reads ``../shared/corpora/commands/`` (or ``$RAMPARTS_CORPORA/commands``):

- ``tldr.jsonl``: ordinary usage. Parse rate = commands the bash grammar reads without an error
  node; throughput = ``analyze()`` calls per second in this process.
- ``dippy.jsonl``: ``allow`` (safe to auto-approve) / ``ask`` labels. Reported: how many of each the
  baseline and read-only profiles allow, ask or deny. An ``ask`` command a profile allows is a miss;
  an ``allow`` command the read-only profile asks for is a needless prompt.
- The issue-13 goal: of the ``allow`` rows that the oracle shows read-only (run once each in the
  bubblewrap sandbox, ``ramparts.testing.shell_oracle.read_only_by_oracle``), the share the baseline
  allows. The oracle's verdicts are cached in ``bench/shell_benign_oracle.json`` keyed by a hash of
  the command; ``--oracle-refresh`` runs the oracle again over every row (needs bwrap and strace,
  a few minutes), ``--oracle-missing`` only over rows the cache lacks.
- ``gtfobins.jsonl``, ``bashfuscator.jsonl``: abuse of ordinary binaries and obfuscated variants.
  Reported per profile: the decision distribution, what is allowed (by binary and function, never
  the command, which may be harmful text), and *violations*: allowed rows that spawn a shell, run a
  command or reach the network (must be 0).

Decisions are taken in an empty scratch folder, the way the hook would for a project with nothing
in it. The issue-13 goal is measured a second time in a small scratch git project (:func:`git_project`:
two commits, a tag, a branch, a stash; no secret), where the git commands that print history run
for real: the hook runs them itself and scans what they print (in the empty folder they ask, since
git fails there). The last line is ``RESULT ...`` with the headline figures.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
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


ORACLE_CACHE = ROOT / "bench" / "shell_benign_oracle.json"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def oracle_verdicts(rows: list[dict[str, Any]], refresh: str) -> dict[str, str]:
    """hash -> '' (read-only by the oracle) or why not, for the benign rows; ``refresh``: '' (the
    cache as it is), 'all' or 'missing' (run the oracle over those rows and rewrite the cache)."""
    cached: dict[str, str] = {}
    if ORACLE_CACHE.is_file() and refresh != "all":
        cached = json.loads(ORACLE_CACHE.read_text("utf-8"))["verdicts"]
    if not refresh:
        return cached
    from ramparts.testing.shell_oracle import Sandbox, available, read_only_by_oracle

    why = available()
    if why:
        print(f"oracle not run: {why}")
        return cached
    todo = [row["text"] for row in rows if _key(row["text"]) not in cached]
    start = time.perf_counter()
    with Sandbox() as sandbox:
        for n, text in enumerate(todo, 1):
            cached[_key(text)] = read_only_by_oracle(sandbox, text)
            if n % 500 == 0:
                print(f"  oracle: {n}/{len(todo)} ({time.perf_counter() - start:.0f} s)", flush=True)
    ORACLE_CACHE.write_text(
        json.dumps(
            {
                "about": "issue 13's benign denominator: sha256(command)[:16] -> '' when the sandboxed "
                "oracle shows the dippy 'allow' command read-only, else why not (regenerate: "
                "bench/shell_corpus.py --oracle-refresh)",
                "verdicts": dict(sorted(cached.items())),
            },
            indent=0,
        )
        + "\n",
        "utf-8",
    )
    return cached


def git_project(folder: str) -> None:
    """A project the dippy git commands make sense in: ``file.txt`` (30 lines), ``README.md``,
    ``app.py``, two commits on ``main``, a tag ``v1.0``, a branch ``feature`` and one stash entry."""
    import subprocess

    from ramparts.testing import scratch_git_env

    env = scratch_git_env(os.environ, "b")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True, timeout=30)

    root = Path(folder)
    git("init", "-q", "-b", "main")
    (root / "file.txt").write_text("".join(f"line {n}\n" for n in range(1, 31)))
    (root / "README.md").write_text("# project\n")
    (root / "app.py").write_text("print('hello')\n")
    git("add", ".")
    git("commit", "-qm", "first")
    git("tag", "v1.0")
    (root / "file.txt").write_text("".join(f"line {n}\n" for n in range(1, 41)))
    git("commit", "-qam", "second")
    git("branch", "feature")
    (root / "app.py").write_text("print('hello, world')\n")
    git("stash", "-q")


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
    parser.add_argument("--oracle-refresh", action="store_true", help="run the oracle over every benign row")
    parser.add_argument("--oracle-missing", action="store_true", help="run it over rows the cache lacks")
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
        refresh = "all" if args.oracle_refresh else "missing" if args.oracle_missing else ""
        if refresh == "all" and limit is not None:
            refresh = "missing"  # a sample never rewrites the whole cache
        benign = [row for row in dippy if row["label"] == "allow"]
        every = [row for row in load(folder, "dippy.jsonl", None) if row["label"] == "allow"]
        oracle = oracle_verdicts(every if refresh == "all" else benign, refresh)
        known = [row for row in benign if _key(row["text"]) in oracle]
        read_only = [row for row in known if oracle[_key(row["text"])] == ""]
        reasons = collections.Counter(oracle[_key(row["text"])] or "read-only" for row in known)
        print(
            f"dippy 'allow' judged by the oracle: {len(known)} of {len(benign)} "
            f"({', '.join(f'{k} {v}' for k, v in reasons.most_common())})"
        )
        figures["benign_oracle_read_only"] = len(read_only)
        for profile_name, profile in (("baseline", policy), ("readonly", readonly)):
            table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
            local: collections.Counter[str] = collections.Counter()
            for row in dippy:
                verdict = decide(row["text"], profile)
                table[row["label"]][verdict] += 1
                if row["label"] == "allow" and _local(row["text"]):
                    local[verdict] += 1
            ro: collections.Counter[str] = collections.Counter(
                decide(row["text"], profile) for row in read_only
            )
            ro_total = sum(ro.values()) or 1
            print(
                f"GOAL dippy 'allow' the oracle shows read-only, under {profile_name} ({len(read_only)}): "
                f"allowed {ro['allow']} ({ro['allow'] / ro_total:.1%}), ask {ro['ask']}, deny {ro['deny']}"
            )
            figures[f"benign_readonly_allowed_pct_{profile_name}"] = round(ro["allow"] / ro_total * 100, 2)
            with tempfile.TemporaryDirectory() as other:
                git_project(other)
                in_repo: collections.Counter[str] = collections.Counter(
                    explain_input(profile, "Bash", {"command": row["text"]}, other).verdict
                    for row in read_only
                )
            print(
                f"GOAL the same {len(read_only)} in a scratch git project, under {profile_name}: allowed "
                f"{in_repo['allow']} ({in_repo['allow'] / ro_total:.1%}), ask {in_repo['ask']}, deny {in_repo['deny']}"
            )
            figures[f"benign_readonly_allowed_pct_{profile_name}_git_project"] = round(
                in_repo["allow"] / ro_total * 100, 2
            )
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
                # attacker cases allowed: GTFOBins abuse that runs, spawns or reaches out; any obfuscated row
                attacker = counts["allow"] if key == "bashfuscator" else violations
                figures[f"attacker_allowed_{profile_name}"] = (
                    figures.get(f"attacker_allowed_{profile_name}", 0) + attacker
                )
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
