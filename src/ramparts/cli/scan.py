"""``ramparts scan``: the detectors over files, directories, stdin, or JSON lines for bulk evaluation."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

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
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="worker processes for folders and many files (default: one per available core; 1: none); "
        "the findings and their order are the same for every N",
    )
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
    from ..detect.secrets import SecretScanner

    # the hook's prefilter for short texts: the secret rules' keywords alone (a fraction of a second)
    SecretScanner(
        detectors.secrets.rules if detectors.secrets else None, cache_dir=cache_dir, keyword_database=True
    )
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
    return _files(detectors, key, args, (settings, categories, detector_cache_dir(state)))


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


class _Scanned(NamedTuple):
    """One source's outcome: every finding with its column (the thresholds and the baseline are
    applied by the caller), what was skipped or cut, and whether it was scanned."""

    located: list[Any]
    skipped: list[tuple[str, str]]
    scanned: bool


_JOB: tuple[Any, bytes, int] | None = None
"""The detectors, the fingerprint key and ``--max-bytes`` of this process's scan (a worker's too)."""


def _scan_source(source: Any) -> _Scanned:
    """Read and scan one source: a path, a :class:`Skipped` from the walk, or ``(name, bytes)`` read
    from stdin. The one function both the single-process and the parallel scan run per source."""
    from ..detect.files import Skipped, read_file
    from ..detect.report import Located, column

    assert _JOB is not None
    detectors, key, max_bytes = _JOB
    if isinstance(source, Skipped):
        return _Scanned([], [(source.path, source.why)], False)
    if isinstance(source, tuple):
        name, data = source
        text, cut = data[:max_bytes].decode("utf-8", "replace"), len(data) > max_bytes
    else:
        name = source
        read = read_file(source, max_bytes)
        if isinstance(read, Skipped):
            return _Scanned([], [(read.path, read.why)], False)
        text, cut = read
    skipped = [(name, f"only the first {max_bytes} bytes were scanned")] if cut else []
    located = [Located(name, column(text, f.start), f) for f in detectors.scan(text, key)]
    return _Scanned(located, skipped, True)


def _init_worker(spec: tuple[Any, Any, str | None], key: bytes, max_bytes: int) -> None:
    """A pool worker's start: a forked worker already holds the parent's detectors (built, caches
    loaded); a spawned one builds its own from the same settings (from the warm cache)."""
    global _JOB
    if _JOB is None:
        from ..detect.scanner import Detectors

        settings, categories, cache_dir = spec
        _JOB = (Detectors.from_settings(settings, categories, cache_dir=cache_dir), key, max_bytes)


def _jobs(requested: int) -> int:
    if requested > 0:
        return requested
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


PARALLEL_MIN_FILES = 16
"""Fewer files than this are scanned in this process: starting workers would cost more than it saves ..."""
PARALLEL_MIN_BYTES = 2 << 20
"""... unless they hold this many bytes."""
START_METHOD = "fork" if sys.platform == "linux" else "spawn"
"""fork: the workers start with this process's detectors (no rule loading, no database load); where
forking a process is unsafe (macOS) each worker builds its own from the warm cache."""
TASK_FILES = 4
"""The fewest files per task handed to a worker."""
TASKS_PER_WORKER = 16
"""Tasks per worker: enough that the workers finish close together (the last task is about 1/16 of a
worker's share), few enough that handing them over costs little. A task costs about 0.2 ms of CPU in
the pool's queues and pickling: Django's 6,809 files in tasks of 4 cost 0.35 s of CPU, a fifth of the
whole scan."""


def _chunk(sources: int, jobs: int) -> int:
    return max(TASK_FILES, sources // (jobs * TASKS_PER_WORKER))


def _scan_all(sources: list[Any], jobs: int, spec: tuple[Any, Any, str | None]) -> Iterator[_Scanned]:
    """Every source's outcome, in the order of ``sources``: with ``jobs`` > 1 and enough to scan, from
    a pool of worker processes (each reads its own files; only findings come back, so memory stays
    bounded by the findings, not by the tree)."""
    files = [s for s in sources if isinstance(s, str)]
    big = len(files) >= PARALLEL_MIN_FILES or _size(files) >= PARALLEL_MIN_BYTES
    if jobs <= 1 or len(sources) < 2 or not big:
        yield from map(_scan_source, sources)
        return
    import multiprocessing

    assert _JOB is not None
    _detectors, key, max_bytes = _JOB
    from concurrent.futures import ProcessPoolExecutor

    # an executor, not multiprocessing.Pool: a worker that dies (killed, out of memory) fails the scan
    # with BrokenProcessPool instead of leaving it waiting forever for the lost files
    context = multiprocessing.get_context(START_METHOD)
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(spec, key, max_bytes)
    ) as pool:
        yield from pool.map(_scan_source, sources, chunksize=_chunk(len(sources), jobs))


def _size(files: list[str]) -> int:
    total = 0
    for path in files[:PARALLEL_MIN_FILES]:
        with contextlib.suppress(OSError):  # an unreadable file is reported when it is read
            total += os.path.getsize(path)
    return total


def _files(detectors: Any, key: bytes, args: argparse.Namespace, spec: tuple[Any, Any, str | None]) -> int:
    global _JOB
    from concurrent.futures.process import BrokenProcessPool

    from .. import __version__
    from ..detect.files import walk
    from ..detect.report import (
        baseline_doc,
        baseline_keys,
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
    items: list[Any] = []
    skipped: list[tuple[str, str]] = []
    scanned = 0
    show = args.progress or (sys.stderr.isatty() and args.format == "text")
    started = time.monotonic()
    sources: list[Any] = []
    for path in args.paths:
        if path == "-":
            sources.append(("<stdin>", sys.stdin.buffer.read(args.max_bytes + 1)))
        else:
            # the binary check is made where each file is read (in a worker), not here
            sources.extend(
                walk([path], max_bytes=args.max_bytes, gitignore=not args.no_gitignore, sniff=False)
            )
    _JOB = (detectors, key, args.max_bytes)
    try:
        for n, result in enumerate(_scan_all(sources, _jobs(args.jobs), spec), 1):
            skipped.extend(result.skipped)
            scanned += result.scanned
            for item in result.located:
                finding = item.finding
                if finding.confidence < args.min_confidence:
                    continue
                if (item.path, finding.detector, finding.fingerprint) in accepted:
                    continue
                items.append(item)
            if show and (n % 25 == 0 or n == len(sources)):
                rate = n / max(time.monotonic() - started, 1e-6)
                print(
                    f"\r  scanned {n}/{len(sources)} files ({rate:.0f}/s), {len(items)} findings",
                    end="",
                    file=sys.stderr,
                )
    except BrokenProcessPool as exc:
        print(f"\nramparts scan: a worker process died ({exc}); no report written", file=sys.stderr)
        return EXIT_USAGE
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
