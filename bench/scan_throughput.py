"""``ramparts scan`` against kingfisher, gitleaks and detect-secrets on real source trees, side by side.

Usage::

    .venv/bin/python bench/scan_throughput.py [--quick] [--trees django,botocore,stdlib] [--repeat N]

The trees, fetched or copied once into ``.bench-cache/`` (git ignores it):

- **django**: Django 5.1.4's sdist (source and docs, many small files);
- **botocore**: botocore 1.44.8's sdist (156 MB, mostly large JSON service models);
- **stdlib**: this interpreter's standard library (without ``site-packages`` and ``__pycache__``).

Every tool is run the way a user runs it, as a command on the same folder, and timed in wall-clock
time from start to exit (start-up included), with the CPU time of the process and all its workers:

- ``ramparts scan DIR --detectors secrets --format json`` (its worker pool: one process per core),
  and the same with ``--detectors secrets,pii``;
- ``kingfisher scan DIR --no-update-check --no-validate --format json`` (``kingfisher-bin``, Rust +
  Vectorscan, secrets only, a thread per core);
- ``gitleaks dir DIR --report-format json`` when a ``gitleaks`` binary is on PATH. No package registry
  reachable here ships it (see docs/detectors.md): without it the run prints "not installed" and
  ``gitleaks=not-installed``, never a ratio;
- ``detect-secrets scan --all-files DIR`` (the engine LLM Guard uses), on a sample of the tree only:
  at well under 1 MB/s a whole tree would take minutes. Its figure is MB per second of that sample.

Each tool's exit status and its report are checked: a tool that exits with an unexpected status,
prints no parsable report or scans no file is reported as FAILED (and the benchmark exits 1), never
as fast. Findings are counted from each report; Ramparts' secrets count is compared with kingfisher's.

The headline figures are ratios of wall-clock time measured in the same run, Ramparts over kingfisher
(``..._x_kf``; at most 1.0 means Ramparts is at least as fast). ``--repeat N`` runs Ramparts and
kingfisher N times, interleaved, and keeps the fastest of each (noise on a shared machine only adds
time). ``--quick`` scans a fixed sample of each tree (every 12th file, hard-linked into
``.bench-cache/samples/``) once each, in well under a minute.

``--record FILE`` writes every finding of the secrets+PII scans (tree, path, line, column, detector,
confidence, fingerprint, excerpt; a fixed fingerprint key) to FILE; ``--check FILE`` fails unless
this run's findings are exactly those, so a faster scan is also shown to find what the slower one did.
Install the comparison tools with ``.venv/bin/pip install -r bench/requirements.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-cache"
SDISTS = {"django": ("django==5.1.4", "Django-5.1.4"), "botocore": ("botocore==1.44.8", "botocore-1.44.8")}
QUICK_EVERY = 12
DETECT_SECRETS_MB = 1.0
"""detect-secrets scans about this many MB of each tree (every Nth file), a tenth with --quick."""
KEY = b"b" * 32


# -- the trees --------------------------------------------------------------------------------------


def sdist_tree(spec: str, folder: str) -> Path:
    target = CACHE / folder
    if target.is_dir():
        return target
    CACHE.mkdir(exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", spec]
    subprocess.run([*pip, "-d", str(CACHE)], check=True)
    with tarfile.open(next(CACHE.glob(f"{folder}.tar.gz"))) as archive:
        archive.extractall(CACHE, filter="data")
    return target


def stdlib_tree() -> Path:
    source = Path(sysconfig.get_paths()["stdlib"])
    target = CACHE / f"stdlib-{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(
            source,
            tmp,
            symlinks=True,
            ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc"),
        )
        tmp.rename(target)
    return target


def tree(name: str) -> Path:
    if name == "stdlib":
        return stdlib_tree()
    return sdist_tree(*SDISTS[name])


def all_files(root: Path) -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        out.extend(Path(folder) / f for f in sorted(files) if not os.path.islink(os.path.join(folder, f)))
    return out


def sample(root: Path, every: int, label: str) -> Path:
    """Every ``every``-th file of ``root``, hard-linked into a folder of the same layout (built once)."""
    target = CACHE / "samples" / f"{root.name}-{label}"
    if target.is_dir():
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in all_files(root)[::every]:
        dest = tmp / path.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)
    tmp.rename(target)
    return target


def size_mb(root: Path) -> tuple[int, float]:
    files = all_files(root)
    return len(files), sum(f.stat().st_size for f in files) / 1e6


# -- running the tools ------------------------------------------------------------------------------


class Run(NamedTuple):
    wall: float
    cpu: float
    """User + system seconds of the tool's process and every process it waited for (workers)."""
    found: int
    files: int
    """Files the tool says it scanned (-1: it does not say)."""
    error: str = ""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    argv: Sequence[str],
    ok: set[int],
    parse: Callable[[str], tuple[int, int]],
    env: dict[str, str] | None = None,
) -> Run:
    """Run a tool; FAILED (``error``) unless its exit status is in ``ok`` and its report parses to a
    finding count and at least one scanned file."""
    before, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - before
    if done.returncode not in ok:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return Run(wall, cpu, -1, -1, f"exit status {done.returncode}: {tail}")
    try:
        found, files = parse(done.stdout)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        return Run(wall, cpu, -1, -1, f"unreadable report: {exc!r}")
    if files == 0:
        return Run(wall, cpu, found, files, "scanned no file")
    return Run(wall, cpu, found, files)


def best(runs: list[Run]) -> Run:
    failed = [r for r in runs if r.error]
    if failed:
        return failed[0]
    return runs[0]._replace(wall=min(r.wall for r in runs), cpu=min(r.cpu for r in runs))


class Ramparts:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.reports: dict[str, Any] = {}
        warm = subprocess.run(self.argv("--warm"), capture_output=True, text=True, env=self.env, check=False)
        if warm.returncode != 0:
            raise SystemExit(f"ramparts scan --warm failed: {warm.stderr.strip()}")
        key_dir = state / "keys"
        key_dir.mkdir(parents=True, exist_ok=True)
        (key_dir / "fingerprint.key").write_bytes(KEY)  # fixed: --record/--check compare fingerprints

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ramparts", "scan", "--state-dir", str(self.state), *args]

    def run(self, root: Path, detectors: str) -> Run:
        def parse(out: str) -> tuple[int, int]:
            report = json.loads(out)
            self.reports[f"{root}:{detectors}"] = report
            return len(report["findings"]), int(report["scanned_files"])

        return timed(
            self.argv(str(root), "--detectors", detectors, "--format", "json"), {0, 1}, parse, self.env
        )


def _kingfisher_parse(out: str) -> tuple[int, int]:
    """kingfisher's JSON: one object with the findings, then one with the summary (each a line)."""
    docs = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
    summary = next(d for d in docs if "blobs_scanned" in d)
    listed = next((d["findings"] for d in docs if isinstance(d.get("findings"), list)), None)
    found = len(listed) if listed is not None else int(summary["findings"])
    return found, int(summary["blobs_scanned"])


def kingfisher(root: Path) -> Run | None:
    binary = shutil.which("kingfisher") or str(Path(sys.executable).parent / "kingfisher")
    if not os.path.exists(binary):
        return None
    argv = [binary, "scan", str(root), "--no-update-check", "--no-validate", "--format", "json"]
    return timed(argv, {0, 200, 205}, _kingfisher_parse)  # 200: findings, 205: validated findings


def gitleaks(root: Path) -> Run | None:
    binary = shutil.which("gitleaks")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"

        def parse(out: str) -> tuple[int, int]:
            del out
            return len(json.loads(report.read_text())), -1

        argv = [binary, "dir", str(root), "--report-format", "json", "--report-path", str(report)]
        return timed([*argv, "--no-banner", "--exit-code", "0"], {0}, parse)


def detect_secrets(root: Path) -> Run | None:
    binary = shutil.which("detect-secrets") or str(Path(sys.executable).parent / "detect-secrets")
    if not os.path.exists(binary):
        return None

    def parse(out: str) -> tuple[int, int]:
        results = json.loads(out)["results"]
        return sum(len(v) for v in results.values()), -1

    return timed([binary, "scan", "--all-files", str(root)], {0}, parse)


# -- findings identity ----------------------------------------------------------------------------


def finding_lines(name: str, root: Path, report: dict[str, Any]) -> list[str]:
    keys = ("line", "column", "detector", "confidence", "fingerprint", "excerpt")
    return [
        json.dumps([name, os.path.relpath(f["path"], root), *(f[k] for k in keys)])
        for f in report["findings"]
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
        f"findings DIFFER from {check}: {len(missing)} missing, {len(extra)} new (else order or duplicates)"
    )
    for line in missing[:10]:
        print("  - " + line)
    for line in extra[:10]:
        print("  + " + line)
    return False


# -- the report -------------------------------------------------------------------------------------


def show(label: str, mb: float, run: Run | None, missing: str) -> None:
    if run is None:
        print(f"  {label:<28} not installed ({missing})")
    elif run.error:
        print(f"  {label:<28} FAILED: {run.error}")
    else:
        files = f", {run.files} files" if run.files >= 0 else ""
        print(
            f"  {label:<28} {run.wall:6.2f} s wall {mb / run.wall:7.1f} MB/s, {run.cpu:6.2f} s CPU, "
            f"{run.found} findings{files}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a sample of each tree, once")
    parser.add_argument("--trees", default="django,botocore,stdlib", help="comma-separated tree names")
    parser.add_argument("--repeat", type=int, default=0, help="runs per tool, best kept (default 3, quick 1)")
    parser.add_argument("--record", metavar="FILE", help="write every secrets+PII finding to FILE")
    parser.add_argument("--check", metavar="FILE", help="fail unless the findings are those in FILE")
    args = parser.parse_args()
    names = [n.strip() for n in args.trees.split(",") if n.strip()]
    unknown = set(names) - {"django", "botocore", "stdlib"}
    if unknown:
        parser.error(f"unknown trees: {', '.join(sorted(unknown))}")
    repeat = args.repeat or (1 if args.quick else 3)
    figures: dict[str, object] = {}
    failed: list[str] = []
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        ramparts = Ramparts(Path(tmp) / "state")
        for name in names:
            full = tree(name)
            root = sample(full, QUICK_EVERY, f"every{QUICK_EVERY}") if args.quick else full
            count, mb = size_mb(root)
            print(f"{name}: {root.relative_to(ROOT)}, {count} files, {mb:.1f} MB")
            if name == names[0]:
                kingfisher(root)  # build its rule cache (once), as Ramparts' was by --warm
            runs: dict[str, list[Run]] = {"secrets": [], "secrets,pii": [], "kingfisher": []}
            for _ in range(repeat):
                runs["secrets"].append(ramparts.run(root, "secrets"))
                found = kingfisher(root)
                if found is not None:
                    runs["kingfisher"].append(found)
                runs["secrets,pii"].append(ramparts.run(root, "secrets,pii"))
            secrets, both = best(runs["secrets"]), best(runs["secrets,pii"])
            kf = best(runs["kingfisher"]) if runs["kingfisher"] else None
            gl = gitleaks(root)
            every = max(1, round(mb / (DETECT_SECRETS_MB / (10 if args.quick else 1))))
            ds_root = sample(root, every, f"ds-every{every}") if every > 1 else root
            ds_mb = size_mb(ds_root)[1]
            ds = detect_secrets(ds_root)
            show("ramparts secrets", mb, secrets, "")
            show("ramparts secrets+pii", mb, both, "")
            show("kingfisher (secrets)", mb, kf, "pip install kingfisher-bin")
            show("gitleaks (secrets)", mb, gl, "no gitleaks binary on PATH")
            show(f"detect-secrets ({ds_mb:.1f} MB)", ds_mb, ds, "pip install detect-secrets")
            for label, run in (
                ("ramparts secrets", secrets),
                ("ramparts secrets+pii", both),
                ("kingfisher", kf),
                ("gitleaks", gl),
                ("detect-secrets", ds),
            ):
                if run is not None and run.error:
                    failed.append(f"{name}: {label}")
            if not secrets.error and not both.error:
                figures[f"{name}_mb"] = round(mb, 1)
                figures[f"{name}_secrets_s"] = round(secrets.wall, 2)
                figures[f"{name}_pii_s"] = round(both.wall, 2)
                figures[f"{name}_secrets_found"] = secrets.found
                lines += finding_lines(name, root, ramparts.reports[f"{root}:secrets,pii"])
            if kf is not None and not kf.error and not secrets.error and not both.error:
                figures[f"{name}_kf_s"] = round(kf.wall, 2)
                figures[f"{name}_kf_found"] = kf.found
                figures[f"{name}_secrets_x_kf"] = round(secrets.wall / kf.wall, 2)
                figures[f"{name}_pii_x_kf"] = round(both.wall / kf.wall, 2)
                figures[f"{name}_secrets_x_kf_cpu"] = round(secrets.cpu / kf.cpu, 2)
                figures[f"{name}_pii_x_kf_cpu"] = round(both.cpu / kf.cpu, 2)
                verdict = "met" if max(secrets.wall, both.wall) <= kf.wall else "MISSED"
                fewer = " (FEWER findings than kingfisher)" if secrets.found < kf.found else ""
                print(
                    f"  ramparts / kingfisher wall time: secrets {secrets.wall / kf.wall:.2f}x, "
                    f"secrets+pii {both.wall / kf.wall:.2f}x: goal <= 1.0x {verdict}{fewer}"
                )
                print(  # steadier than wall time on a shared machine (the goal is wall time)
                    f"  ramparts / kingfisher CPU time: secrets {secrets.cpu / kf.cpu:.2f}x, "
                    f"secrets+pii {both.cpu / kf.cpu:.2f}x"
                )
            if gl is None:
                figures["gitleaks"] = "not-installed"  # no ratio: a tool that did not run is not fast
            elif not gl.error and not secrets.error:
                figures[f"{name}_secrets_x_gitleaks"] = round(secrets.wall / gl.wall, 2)
            if ds is not None and not ds.error and not secrets.error:
                figures[f"{name}_ds_mb_s"] = round(ds_mb / ds.wall, 2)
                figures[f"{name}_x_ds_speed"] = round((mb / secrets.wall) / (ds_mb / ds.wall), 1)
    same = check_findings(lines, args.record, args.check) if (args.record or args.check) else True
    for what in failed:
        print(f"FAILED: {what}")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0 if same and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
