"""Secrets + PII scan throughput over a real source tree, side by side with detect-secrets and kingfisher.

Usage::

    .venv/bin/python bench/scan_throughput.py [--quick]

The tree is Django 5.1.4's sdist (about 45 MB of source and docs), fetched once with ``pip download``
into ``.bench-cache/``. Every tool reads the same list of text files:

- **ramparts**: ``Detectors(["secret", "pii"])`` in this process (one core), and with two worker
  processes (this machine has two cores; kingfisher uses both too); and secrets alone in one process,
  the like-for-like comparison with kingfisher, which scans for secrets only;
- **detect-secrets** (the engine LLM Guard uses): its default plugins via ``scan_file``, in-process;
- **kingfisher** (``kingfisher-bin``, a Rust + Vectorscan scanner): ``kingfisher scan -n -j 2``,
  wall-clock time including its start-up.

Each tool gets two figures: MB per second of wall-clock time, and MB per CPU second (user + system
time of every process doing the scan: kingfisher's threads, Ramparts' workers). On a shared machine
other jobs steal cores and the wall-clock figures swing by 2x from run to run; CPU time moves far
less. ``--repeat N`` times Ramparts and kingfisher N times and keeps the best of each.

``--quick`` scans a fixed sample of the files (the same sample for every tool). Throughput is MB of
file content per second; the headline figures are ratios measured in the same run.

``--record FILE`` writes every Ramparts finding (path, detector, offsets, confidence, line, fingerprint,
excerpt) to FILE; ``--check FILE`` compares this run's findings with it and fails on any difference,
so a faster scan is also shown to find exactly what the slower one found.
Install the comparison tools with ``.venv/bin/pip install -r bench/requirements.txt``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ramparts.detect.files import Skipped, walk  # noqa: E402
from ramparts.detect.scanner import Detectors  # noqa: E402

SDIST = "django==5.1.4"
CACHE = ROOT / ".bench-cache"
KEY = b"b" * 32


def source_tree() -> Path:
    target = CACHE / "Django-5.1.4"
    if target.is_dir():
        return target
    CACHE.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            SDIST,
            "-d",
            str(CACHE),
        ],
        check=True,
    )
    with tarfile.open(next(CACHE.glob("Django-5.1.4.tar.gz"))) as archive:
        archive.extractall(CACHE, filter="data")
    return target


def file_list(tree: Path, quick: bool) -> list[str]:
    files = [f for f in walk([str(tree)], max_bytes=8 << 20, gitignore=False) if not isinstance(f, Skipped)]
    files.sort()
    if quick:
        files = files[::12]
    return files


def read_all(files: list[str]) -> list[tuple[str, str]]:
    out = []
    for path in files:
        with open(path, "rb") as handle:
            out.append((path, handle.read().decode("utf-8", "replace")))
    return out


_WORKER: Detectors | None = None


def _worker_scan(paths: list[str]) -> int:
    global _WORKER
    if _WORKER is None:
        _WORKER = Detectors(["secret", "pii"], cache_dir=str(CACHE / "ramparts-cache"))
    count = 0
    for path in paths:
        with open(path, "rb") as handle:
            count += len(_WORKER.scan(handle.read().decode("utf-8", "replace"), KEY))
    return count


class Run(NamedTuple):
    wall: float
    """Seconds of wall-clock time."""
    cpu: float
    """CPU seconds (user + system) of every process doing the scan: on a shared, busy machine the
    steadier measure of the work each tool does (wall-clock time also counts waiting for a core)."""
    found: int


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best(runs: list[Run]) -> Run:
    """The fastest of repeated runs: noise on a shared machine only ever adds time."""
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), runs[0].found)


def ramparts_single(texts: list[tuple[str, str]], categories: tuple[str, ...] = ("secret", "pii")) -> Run:
    detectors = Detectors(categories, cache_dir=str(CACHE / "ramparts-cache"))  # type: ignore[arg-type]
    start, cpu = time.perf_counter(), time.process_time()
    found = sum(len(detectors.scan(text, KEY)) for _path, text in texts)
    return Run(time.perf_counter() - start, time.process_time() - cpu, found)


def ramparts_parallel(files: list[str], workers: int) -> Run:
    chunks = [files[i::workers] for i in range(workers)]
    start, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        found = sum(pool.map(_worker_scan, chunks))
    used = time.process_time() - cpu + _children_cpu() - children  # the workers have exited here
    return Run(time.perf_counter() - start, used, found)


def detect_secrets_run(files: list[str]) -> Run | None:
    try:
        from detect_secrets.core.scan import scan_file
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    start, cpu = time.perf_counter(), time.process_time()
    found = 0
    with default_settings():
        for path in files:
            found += sum(1 for _ in scan_file(path))
    return Run(time.perf_counter() - start, time.process_time() - cpu, found)


def kingfisher_run(files: list[str], repeat: int = 1) -> Run | None:
    binary = shutil.which("kingfisher") or str(Path(sys.executable).parent / "kingfisher")
    if not os.path.exists(binary):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        # the same files, hard-linked into one folder tree kingfisher walks
        root = Path(tmp) / "tree"
        for path in files:
            target = root / os.path.relpath(path, "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
        out = Path(tmp) / "out.json"
        command = [
            binary,
            "scan",
            str(root),
            "-n",
            "-j",
            "2",
            "--git-history",
            "none",
            "--format",
            "json",
            "-o",
            str(out),
        ]
        subprocess.run(command, capture_output=True, check=False)  # warm its rule cache
        runs = []
        for _ in range(repeat):
            start, children = time.perf_counter(), _children_cpu()
            subprocess.run(command, capture_output=True, check=False)
            runs.append(Run(time.perf_counter() - start, _children_cpu() - children, 0))
        import json

        try:
            reported = json.loads(out.read_text()).get("findings", [])
            found = len(reported) if isinstance(reported, list) else int(reported)
        except (OSError, ValueError):
            found = -1
    return best(runs)._replace(found=found)


def all_findings(texts: list[tuple[str, str]], tree: Path) -> list[str]:
    """Every finding of the secrets+PII scan, one JSON line each, in file then text order."""
    import json

    detectors = Detectors(["secret", "pii"], cache_dir=str(CACHE / "ramparts-cache"))
    return [
        json.dumps([os.path.relpath(path, tree), *finding])
        for path, text in texts
        for finding in detectors.scan(text, KEY)
    ]


def check_findings(lines: list[str], record: str | None, check: str | None) -> bool:
    if record:
        Path(record).write_text("".join(line + "\n" for line in lines))
        print(f"findings: {len(lines)} recorded in {record}")
    if not check:
        return True
    expected = Path(check).read_text().splitlines()
    if lines == expected:
        print(f"findings: the same {len(lines)} as {check}")
        return True
    missing, extra = sorted(set(expected) - set(lines)), sorted(set(lines) - set(expected))
    print(
        f"findings DIFFER from {check}: {len(missing)} missing, {len(extra)} new (order or duplicates otherwise)"
    )
    for line in missing[:10]:
        print("  - " + line)
    for line in extra[:10]:
        print("  + " + line)
    return False


def show(label: str, mb: float, run: Run) -> None:
    print(
        f"{label}: {mb / run.wall:.1f} MB/s wall clock, {mb / run.cpu:.1f} MB per CPU second, "
        f"{run.found} findings"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--record", metavar="FILE", help="write every finding to FILE")
    parser.add_argument("--check", metavar="FILE", help="fail unless the findings are those in FILE")
    parser.add_argument("--findings-only", action="store_true", help="with --record/--check: no timings")
    parser.add_argument(
        "--repeat", type=int, default=1, help="time Ramparts and kingfisher N times, keep the best"
    )
    args = parser.parse_args()
    tree = source_tree()
    files = file_list(tree, args.quick)
    texts = read_all(files)
    mb = sum(len(t.encode("utf-8")) for _p, t in texts) / 1e6
    print(f"tree: {tree.name}, {len(files)} files, {mb:.1f} MB")
    same = True
    if args.record or args.check:
        same = check_findings(all_findings(texts, tree), args.record, args.check)
        if args.findings_only:
            return 0 if same else 1
    ramparts_single(texts[:50])  # warm: compile or load the pattern databases
    repeat = max(1, args.repeat)
    single = best([ramparts_single(texts) for _ in range(repeat)])
    show("ramparts (1 process)", mb, single)
    parallel = best([ramparts_parallel(files, 2) for _ in range(repeat)])
    show("ramparts (2 processes)", mb, parallel)
    secrets_only = best([ramparts_single(texts, ("secret",)) for _ in range(repeat)])
    show("ramparts secrets only (1 process)", mb, secrets_only)
    figures = {
        "ramparts_mb_s": round(mb / single.wall, 1),
        "ramparts_2p_mb_s": round(mb / parallel.wall, 1),
        "ramparts_secrets_mb_s": round(mb / secrets_only.wall, 1),
        "ramparts_cpu_mb_s": round(mb / single.cpu, 1),
    }
    ds = detect_secrets_run(files)
    if ds is None:
        print("detect-secrets: not installed (pip install -r bench/requirements.txt)")
    else:
        show("detect-secrets (1 process)", mb, ds)
        figures["detect_secrets_mb_s"] = round(mb / ds.wall, 2)
        figures["x_detect_secrets"] = round(ds.wall / single.wall, 1)
    kf = kingfisher_run(files, repeat)
    if kf is None:
        print("kingfisher: not installed (pip install -r bench/requirements.txt)")
    else:
        show("kingfisher (-j 2)", mb, kf)
        figures["kingfisher_mb_s"] = round(mb / kf.wall, 1)
        figures["kingfisher_cpu_mb_s"] = round(mb / kf.cpu, 1)
        figures["x_kingfisher_1p"] = round(kf.wall / single.wall, 2)  # secrets+PII vs its secrets
        figures["x_kingfisher_2p"] = round(kf.wall / parallel.wall, 2)
        figures["x_kingfisher_cpu"] = round(kf.cpu / single.cpu, 2)  # MB per CPU second
        figures["x_kingfisher_secrets_1p"] = round(kf.wall / secrets_only.wall, 2)  # both: secrets only
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
