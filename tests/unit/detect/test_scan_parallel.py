"""``ramparts scan -j N``: a pool of worker processes gives the same report, byte for byte, as one process."""

from __future__ import annotations

import functools
import multiprocessing
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts._locations import detector_cache_dir
from ramparts.cli import scan as scan_cli
from ramparts.detect.files import Skipped, walk
from ramparts.detect.scanner import Detectors
from ramparts.policy.types import DetectSettings

KEY = b"p" * 32
RNG = random.Random(21)


def _token(prefix: str, n: int) -> str:
    return prefix + "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(n))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough files for the pool (secrets, personal data, clean files, a binary, an ignored folder, a
    file larger than --max-bytes), in nested folders so the walk order matters."""
    root = tmp_path_factory.mktemp("tree")
    for i in range(40):
        folder = root / f"pkg{i % 5}" / ("deep" if i % 3 else "")
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"# module {i}", "def f():", "    return 1"] * (i % 7 + 1)
        if i % 4 == 0:
            lines.insert(1, f'STRIPE = "{_token("sk_live_", 24)}"')
        if i % 6 == 1:
            lines.append(f"# owner: user{i}@example-corp.io, call +1 415 555 01{i:02d}")
        if i % 9 == 2:
            lines.append(f"GITHUB_TOKEN={_token('ghp_', 36)}")
        (folder / f"m{i}.py").write_text("\n".join(lines) + "\n")
    (root / "pkg1" / "blob.bin").write_bytes(b"\x00\x01" + _token("sk_live_", 24).encode())
    (root / "ignored").mkdir()
    (root / "ignored" / "leak.txt").write_text(f"token={_token('sk_live_', 24)}\n")
    (root / ".gitignore").write_text("ignored/\n")
    big = "filler line\n" * 3000 + f'KEY = "{_token("sk_live_", 24)}"\n' + "tail\n" * 3000
    (root / "pkg2" / "big.txt").write_text(big)
    return root


def _run(state: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "ramparts", "scan", "--state-dir", str(state), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_two_workers_report_exactly_what_one_process_reports(tree: Path, state: Path, fmt: str) -> None:
    stdin = f"from stdin: {_token('sk_live_', 24)} and jane@acme-corp.io\n"
    # stdin between two folders, a cut file, every detector: all of it in the order given
    args = ["--format", fmt, "--max-bytes", "40000", str(tree / "pkg0"), "-", str(tree)]
    one = _run(state, *args, "-j", "1", stdin=stdin)
    two = _run(state, *args, "-j", "2", stdin=stdin)
    assert one[0] == 1, one[2]
    assert one[1].count("stripe") >= 10 or fmt != "json"
    assert two == one


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_pool_really_runs_and_keeps_the_order(
    tree: Path, state: Path, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked workers use this process's detectors; spawned ones (macOS) build their own from the
    settings: the same results either way."""
    monkeypatch.setattr(scan_cli, "START_METHOD", method)
    cache = detector_cache_dir(str(state))
    detectors = Detectors(["secret", "pii"], cache_dir=cache)
    sources: list[str | Skipped | tuple[str, bytes]] = list(
        walk([str(tree)], max_bytes=1 << 20, gitignore=True, sniff=False)
    )
    sources.insert(3, ("<stdin>", b"password = 'hunter2hunter2'\n"))
    spec = (DetectSettings(), ("secret", "pii"), cache)
    scan_cli._JOB = (detectors, KEY, 1 << 20)
    try:
        serial = list(scan_cli._scan_all(sources, 1, spec))
        parallel = []
        workers = 0
        for result in scan_cli._scan_all(sources, 2, spec):
            workers = max(workers, len(multiprocessing.active_children()))
            parallel.append(result)
    finally:
        scan_cli._JOB = None
    assert workers == 2
    assert parallel == serial
    assert sum(r.scanned for r in serial) == len(sources) - 1  # the binary is skipped
    assert any(why == "binary" for r in serial for _path, why in r.skipped)
    assert sum(len(r.located) for r in serial) >= 15


def test_few_small_files_stay_in_this_process(tree: Path, state: Path) -> None:
    detectors = Detectors(["secret"], cache_dir=detector_cache_dir(str(state)))
    sources = [str(tree / "pkg0" / "m0.py"), str(tree / "pkg1" / "deep" / "m1.py")]
    scan_cli._JOB = (detectors, KEY, 1 << 20)
    try:
        results = []
        for result in scan_cli._scan_all(sources, 2, (DetectSettings(), ("secret",), None)):
            assert not multiprocessing.active_children()
            results.append(result)
    finally:
        scan_cli._JOB = None
    assert [r.scanned for r in results] == [True, True]


_PIECES = st.sampled_from(
    ["AKIA" + "Q" * 4 + "7EXAMPLEKEY12", "token = 'Zx81kq0PwLm3Nb7Rt5Yv'", "ghp_", "sk_live_", "@", "call ",
     "+1 415 555 0199", "jane@acme-corp.io", "4111 1111 1111 1111", "\n", " ", "x", "0", "é", "İ"]
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=40), cut=st.integers(min_value=1, max_value=400))
def test_a_file_read_as_bytes_scans_as_its_text(
    pieces: list[str], cut: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``read_file`` hands the prefilters the file's own bytes for an ASCII file: the findings are
    those of the same text built afresh (whose bytes the prefilter has to make itself)."""
    from ramparts.detect.files import read_file
    from ramparts.detect.matcher import ascii_bytes

    path = tmp_path_factory.mktemp("read") / "f.txt"
    path.write_bytes("".join(pieces).encode("utf-8"))
    read = read_file(str(path), cut)
    assert not isinstance(read, Skipped)
    text, was_cut = read
    fresh = "".join(pieces).encode("utf-8")[:cut].decode("utf-8", "replace")
    assert text == fresh and was_cut == (len("".join(pieces).encode("utf-8")) > cut)
    if text.isascii():
        assert ascii_bytes(text) == fresh.encode("ascii")
    detectors = _detectors()
    assert detectors.scan(text, KEY) == detectors.scan(fresh, KEY)  # a separate str: no bytes remembered


@functools.cache
def _detectors() -> Detectors:
    return Detectors(["secret", "pii"], cache_dir=os.environ.get("RAMPARTS_CACHE_DIR"))


class _DiesOnMarker:
    """Detectors whose scan ends its (worker) process on one file: a worker killed mid-scan."""

    secrets = None

    def scan(self, text: str, key: bytes) -> list[object]:
        if "DIE-HERE" in text:
            os._exit(3)
        return []


@pytest.mark.timeout(120)
def test_a_worker_that_dies_fails_the_scan_instead_of_hanging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ramparts.cli._main import build_parser

    for i in range(20):
        (tmp_path / f"f{i:02d}.txt").write_text("DIE-HERE\n" if i == 13 else "fine\n")
    args = build_parser().parse_args(["scan", str(tmp_path), "-j", "2"])
    try:
        code = scan_cli._files(_DiesOnMarker(), KEY, args, (DetectSettings(), ("secret",), None))
    finally:
        scan_cli._JOB = None
    assert code == 2
    assert "a worker process died" in capsys.readouterr().err
