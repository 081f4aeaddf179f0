"""``ramparts scan``: the detectors over files, directories, stdin, or JSON lines for bulk evaluation."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from .._locations import detector_cache_dir, state_dir
from ._args import float_range, int_range

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
DEFAULT_MAX_BYTES = 8 << 20


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "scan",
        help="find secrets, personal data and prompt injection in files, folders or stdin",
        description="Scan PATHs (folders are walked, .gitignore respected, binaries skipped) or stdin ('-'). "
        "Findings carry fingerprints and redacted excerpts, never values. Exit 1 when a finding is at or "
        "above --fail-on.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders; '-' reads stdin")
    p.add_argument("--state-dir", help="state directory (fingerprint key, compiled rule cache)")
    p.add_argument(
        "--policy",
        help="policy whose detect section to use (custom entities, IP addresses, injection thresholds); "
        "default: built-in settings",
    )
    p.add_argument(
        "--detectors", default="secrets,pii,injection", help="comma-separated: secrets, pii, injection"
    )
    p.add_argument("--format", choices=["text", "json", "sarif"], default="text", help="default text")
    p.add_argument(
        "--jsonl",
        action="store_true",
        help='read {"id": ..., "text": ...} lines on stdin; print {"id": ..., "findings": [...]} lines',
    )
    p.add_argument(
        "--all-scores", action="store_true", help="with --jsonl: report the injection score even below warn"
    )
    p.add_argument(
        "--fail-on",
        choices=["low", "medium", "high", "critical"],
        default="medium",
        help="exit 1 on a finding at or above this severity (default medium)",
    )
    p.add_argument(
        "--min-confidence", type=float_range(0, 1), default=0.5, help="drop findings below this (0..1)"
    )
    p.add_argument("--baseline", help="JSON file of accepted findings to leave out")
    p.add_argument("--write-baseline", help="write the findings of this scan as a baseline file")
    p.add_argument(
        "--max-bytes", type=int_range(1), default=DEFAULT_MAX_BYTES, help="bytes read per file or stdin"
    )
    p.add_argument("--no-gitignore", action="store_true", help="scan files .gitignore excludes too")
    p.add_argument("--progress", action="store_true", help="show progress on stderr (default: when a tty)")
    p.add_argument(
        "--warm",
        action="store_true",
        help="only build the compiled pattern databases in the state directory's cache (what the hook "
        "loads in milliseconds), then exit",
    )
    p.add_argument(
        "--cache-dir", help="with --warm: the cache folder (default: RAMPARTS_CACHE_DIR or STATE/cache)"
    )
    p.set_defaults(func=cmd_scan)


_NAMES = {"secrets": "secret", "pii": "pii", "injection": "injection"}


def warm(cache_dir: str) -> int:
    """Compile the detectors' pattern databases into ``cache_dir`` (at low priority)."""
    from ..detect.scanner import Detectors

    if hasattr(os, "nice"):
        os.nice(10)
    started = time.monotonic()
    detectors = Detectors(("secret", "pii"), cache_dir=cache_dir)
    print(
        f"pattern databases ready ({detectors.backend()}) in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    from ..detect.redact import load_key
    from ..detect.scanner import Detectors
    from ..policy.types import DetectSettings

    try:
        categories = [_NAMES[n.strip()] for n in args.detectors.split(",") if n.strip()]
    except KeyError as exc:
        print(f"ramparts scan: unknown detector {exc.args[0]!r} (secrets, pii, injection)", file=sys.stderr)
        return EXIT_USAGE
    if args.warm:
        return warm(args.cache_dir or detector_cache_dir(state_dir(args.state_dir)))
    if not args.paths and not args.jsonl:
        print("ramparts scan: give PATHs, '-' for stdin, or --jsonl", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths if p != "-" and not os.path.lexists(p)]
    if missing:  # a mistyped path in CI must not pass green
        print(f"ramparts scan: no such file or folder: {missing[0]}; check the path", file=sys.stderr)
        return EXIT_USAGE
    state = state_dir(args.state_dir)
    key = load_key(os.path.join(state, "keys", "fingerprint.key"))
    settings = DetectSettings()
    if args.policy:
        from ..policy.load import load_policy

        settings = load_policy(args.policy).detect  # a PolicyError names the file and line
    detectors = Detectors.from_settings(
        settings,
        categories,  # type: ignore[arg-type]
        cache_dir=detector_cache_dir(state),
    )
    if args.jsonl:
        return _jsonl(detectors, key, args)
    return _files(detectors, key, args)


def _jsonl(detectors: Any, key: bytes, args: argparse.Namespace) -> int:
    worst = -1
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text = item["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            print(f"ramparts scan: stdin line {number}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        found = detectors.scan(text[: args.max_bytes], key, all_scores=args.all_scores)
        rows = []
        for f in found:
            if f.confidence < args.min_confidence and not (args.all_scores and f.category == "injection"):
                continue
            rows.append(
                {
                    "detector": f.detector,
                    "category": f.category,
                    "severity": f.severity,
                    "confidence": f.confidence,
                    "score": f.confidence,
                }
            )
            worst = max(worst, _rank(f.severity))
        print(json.dumps({"id": item.get("id"), "findings": rows}), flush=False)
    return EXIT_FOUND if worst >= _rank(args.fail_on) else EXIT_OK


def _rank(severity: str) -> int:
    from ..detect.report import SEVERITY_ORDER

    return SEVERITY_ORDER.get(severity, 0)


def _files(detectors: Any, key: bytes, args: argparse.Namespace) -> int:
    from .. import __version__
    from ..detect.files import Skipped, read_text, walk
    from ..detect.report import (
        Located,
        baseline_doc,
        baseline_keys,
        column,
        json_report,
        sarif_report,
        text_report,
    )

    accepted: set[tuple[str, str, str]] = set()
    if args.baseline:
        try:
            with open(args.baseline, encoding="utf-8") as handle:
                accepted = baseline_keys(json.load(handle))
        except (OSError, ValueError) as exc:
            print(f"ramparts scan: baseline {args.baseline}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    items: list[Located] = []
    skipped: list[tuple[str, str]] = []
    scanned = 0
    show = args.progress or (sys.stderr.isatty() and args.format == "text")
    started = time.monotonic()
    sources: list[Any] = []
    for path in args.paths:
        sources.extend(
            ["-"] if path == "-" else walk([path], max_bytes=args.max_bytes, gitignore=not args.no_gitignore)
        )
    for n, source in enumerate(sources, 1):
        if isinstance(source, Skipped):
            skipped.append((source.path, source.why))
            continue
        if source == "-":
            data = sys.stdin.buffer.read(args.max_bytes + 1)
            text, cut, name = (
                data[: args.max_bytes].decode("utf-8", "replace"),
                len(data) > args.max_bytes,
                "<stdin>",
            )
        else:
            try:
                text, cut = read_text(source, args.max_bytes)
            except OSError as exc:
                skipped.append((source, f"unreadable: {exc.strerror or exc}"))
                continue
            name = source
        if cut:
            skipped.append((name, f"only the first {args.max_bytes} bytes were scanned"))
        scanned += 1
        for finding in detectors.scan(text, key):
            if finding.confidence < args.min_confidence:
                continue
            if (name, finding.detector, finding.fingerprint) in accepted:
                continue
            items.append(Located(name, column(text, finding.start), finding))
        if show and (n % 25 == 0 or n == len(sources)):
            rate = n / max(time.monotonic() - started, 1e-6)
            print(
                f"\r  scanned {n}/{len(sources)} files ({rate:.0f}/s), {len(items)} findings",
                end="",
                file=sys.stderr,
            )
    if show:
        print(file=sys.stderr)
    if args.write_baseline:
        with open(args.write_baseline, "w", encoding="utf-8") as handle:
            handle.write(baseline_doc(items) + "\n")
    names = _rule_names(detectors)
    if args.format == "json":
        print(json_report(items, skipped, scanned))
    elif args.format == "sarif":
        print(sarif_report(items, names, __version__))
    else:
        if items:
            print(text_report(items))
        for path, why in skipped:
            print(f"skipped {path}: {why}", file=sys.stderr)
        print(f"{len(items)} finding(s) in {scanned} file(s)", file=sys.stderr)
    worst = max((_rank(i.finding.severity) for i in items), default=-1)
    return EXIT_FOUND if worst >= _rank(args.fail_on) else EXIT_OK


def _rule_names(detectors: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    if detectors.secrets is not None:
        names.update({r.id: r.name for r in detectors.secrets.rules})
    return names
