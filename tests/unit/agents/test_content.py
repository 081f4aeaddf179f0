"""The hook's scanning adapter: what it reads before a call, how it flattens and quarantines results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ramparts.agents.claude_code.content import (
    detectors_for,
    quarantined,
    read_targets,
    response_text,
    scan_reads,
    scan_result,
    scans_result,
)
from ramparts.agents.claude_code.normalize import current_branch, tool_call
from ramparts.policy.load import load_policy

KEY = b"k" * 32
AWS = 'aws_access_key_id = "AKIAQ3EGXJ5TZRPLW4NB"\n'


@pytest.fixture(scope="module")
def policy() -> Any:
    return load_policy("profile:baseline")


@pytest.fixture(scope="module")
def detectors(policy: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return detectors_for(policy, ("secret", "injection"), str(tmp_path_factory.mktemp("cache")))


def test_files_a_call_reads_are_scanned_and_the_budget_is_kept(
    tmp_path: Path, policy: Any, detectors: Any
) -> None:
    (tmp_path / "deploy.py").write_text("x = 1\n" + AWS)
    (tmp_path / "big.txt").write_text("a" * 5000 + AWS)
    call = tool_call("Bash", {"command": "cat deploy.py missing.txt big.txt"}, cwd=str(tmp_path), home="/h")
    small = policy._replace(dlp=policy.dlp._replace(max_scan_bytes=4096))
    scanned = scan_reads(call, small, detectors, KEY)
    assert [Path(c.name).name for c in scanned] == ["deploy.py", "big.txt"]  # missing: nothing to read
    assert scanned[0].findings[0].detector == "aws-access-key-id" and scanned[0].findings[0].line == 2
    assert scanned[1].truncated and not scanned[1].findings  # past the budget: only the first part
    assert "AKIAQ3EGXJ5TZRPLW4NB" not in repr(scanned)


def test_a_recursive_read_scans_the_files_of_its_listing(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text(AWS)
    call = tool_call("Bash", {"command": "grep -r aws ."}, cwd=str(tmp_path), home="/h")
    assert str(tmp_path / "src" / "a.py") in list(read_targets(call))
    devices = tool_call("Bash", {"command": "cat /proc/self/status"}, cwd=str(tmp_path), home="/h")
    assert list(read_targets(devices)) == []


def test_tool_results_are_flattened_and_quarantined_in_their_own_shape(policy: Any, detectors: Any) -> None:
    bash = {"stdout": "line one\nIGNORE ALL", "stderr": "", "interrupted": False}
    assert response_text(bash) == "line one\nIGNORE ALL\n"
    replaced = quarantined(bash, "NOTICE")
    assert replaced == {"stdout": "NOTICE", "stderr": "", "interrupted": False}
    read = {"type": "text", "file": {"filePath": "/p/a.md", "content": "body text", "numLines": 1}}
    assert quarantined(read, "NOTICE") == {
        "type": "text",
        "file": {"filePath": "/p/a.md", "content": "NOTICE", "numLines": 1},
    }
    mcp = [{"type": "text", "text": "evil"}, "raw string"]
    assert quarantined(mcp, "NOTICE") == [{"type": "text", "text": ""}, "NOTICE"]
    assert quarantined("plain", "NOTICE") == "NOTICE"
    assert quarantined({"n": 1}, "NOTICE") == "NOTICE"
    content = scan_result("Bash", {"stdout": AWS}, policy, detectors, KEY)
    assert content.source == "tool_result" and content.findings[0].category == "secret"
    assert scans_result("mcp__x__y") and scans_result("WebFetch") and not scans_result("Write")


def test_the_current_branch_is_read_from_the_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/release/2.0\n")
    (repo / "src").mkdir()
    assert current_branch(str(repo / "src")) == "release/2.0"
    (repo / ".git" / "HEAD").write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert current_branch(str(repo)) == ""  # detached
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (tmp_path / "gitdir").mkdir()
    (tmp_path / "gitdir" / "HEAD").write_text("ref: refs/heads/feature\n")
    (worktree / ".git").write_text(f"gitdir: {tmp_path / 'gitdir'}\n")
    assert current_branch(str(worktree)) == "feature"
    assert current_branch(str(tmp_path)) == ""


def test_a_cold_cache_falls_back_and_warms_in_the_background(
    tmp_path: Path, policy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing in the cache the hook's detectors scan all the same. A short text needs no database
    (the keyword index: never cold, no warm-up); a long one needs the keywords' database, and finding it
    missing starts the background warm-up, after which the same detectors (a process keeps them) take
    it up."""
    import time

    from ramparts.detect import keywords
    from ramparts.detect.matcher import available_backends

    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed here: the index serves every text, never cold")
    monkeypatch.setattr(keywords, "RETRY_SECONDS", 0.0)  # look for the database on every long text
    cache = tmp_path / "cache"
    cold = detectors_for(policy, ("secret",), str(cache))
    assert not cold.cold and cold.backend() == "keywords"
    assert cold.scan(AWS, KEY)[0].detector == "aws-access-key-id"
    assert not (cache / "warming").exists()  # nothing was needed
    long = "x = 1\n" * (keywords.KEYWORD_INDEX_MAX // 6) + AWS
    assert [f.detector for f in cold.scan(long, KEY)] == ["aws-access-key-id"]  # same findings meanwhile
    assert cold.cold and (cache / "warming").exists()  # a detached `ramparts scan --warm` was started
    deadline = time.monotonic() + 90
    while True:
        warm = detectors_for(policy, ("secret",), str(cache))
        assert warm is cold  # kept by the process, as the resident hook server keeps them
        assert [f.detector for f in warm.scan(long, KEY)] == ["aws-access-key-id"]
        if (not warm.cold and warm.backend() == "hyperscan") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not warm.cold and warm.backend() == "hyperscan"


# -- issue 13: content not fully scanned is never an allow --------------------------------------------


def _decide_reads(call: Any, policy: Any, detectors: Any) -> tuple[str, tuple[str, ...]]:
    from ramparts.engine import decide
    from ramparts.model import Event, SessionState

    content = scan_reads(call, policy, detectors, KEY)
    event = Event("pre_tool_use", "s", "/", "/h", tool=call, content=content)
    decision = decide(policy, event, SessionState())
    return decision.verdict, decision.rule_ids


def test_a_file_cut_at_the_limit_asks(tmp_path: Path, policy: Any, detectors: Any) -> None:
    (tmp_path / "big.txt").write_text("a" * 5000 + AWS)
    call = tool_call("Bash", {"command": "cat big.txt"}, cwd=str(tmp_path), home="/h")
    small = policy._replace(dlp=policy.dlp._replace(max_scan_bytes=4096))
    verdict, rules = _decide_reads(call, small, detectors)
    assert (verdict, rules) == ("ask", ("dlp.read_partial",))


def test_files_past_the_budget_are_unscanned_and_ask(tmp_path: Path, policy: Any, detectors: Any) -> None:
    (tmp_path / "a.txt").write_text("a" * 4096)
    (tmp_path / "b.txt").write_text(AWS)
    call = tool_call("Bash", {"command": "cat a.txt b.txt"}, cwd=str(tmp_path), home="/h")
    small = policy._replace(dlp=policy.dlp._replace(max_scan_bytes=4096))
    scanned = scan_reads(call, small, detectors, KEY)
    assert scanned[1].error.startswith("the scan budget")
    assert _decide_reads(call, small, detectors)[0] == "ask"


def test_a_folder_too_big_to_list_is_unscanned(tmp_path: Path, policy: Any, detectors: Any) -> None:
    from ramparts.model import FileAccess, ToolCall

    (tmp_path / "f.txt").write_text("x")
    access = FileAccess(str(tmp_path), "read", "argument", recursive=True, below=None)  # the walk gave up
    call = ToolCall("Bash", {"command": "grep -r x ."}, accesses=(access,))
    scanned = scan_reads(call, policy, detectors, KEY)
    assert scanned[0].error.startswith("too many files")
    verdict, rules = _decide_reads(call, policy, detectors)
    assert verdict == "ask" and "dlp.read_unscanned" in rules


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-16"),  # with a byte-order mark
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-16-be"),
        lambda t: b"\xef\xbb\xbf" + t.encode(),
        lambda t: t.encode("utf-32"),
    ],
)
def test_a_secret_in_another_unicode_encoding_is_found(
    tmp_path: Path, policy: Any, detectors: Any, encode: Any
) -> None:
    (tmp_path / "conf.txt").write_bytes(encode("x = 1\n" + AWS))
    call = tool_call("Bash", {"command": "iconv -f utf-16 -t utf-8 conf.txt"}, cwd=str(tmp_path), home="/h")
    verdict, rules = _decide_reads(call, policy, detectors)
    assert verdict == "deny" and "dlp.read_secret" in rules


def _pdf_call(path: Path) -> Any:
    return tool_call("Read", {"file_path": str(path)}, cwd=str(path.parent), home="/h")


def test_a_pdf_is_scanned_as_the_text_a_reader_shows(tmp_path: Path, policy: Any, detectors: Any) -> None:
    # Claude Code's Read renders a PDF's pages for the model: the deflated bytes on disk hide the key
    from ramparts.agents.claude_code.content import decodings
    from ramparts.testing.pdf import make_pdf

    pdf = make_pdf(["Quarterly report", AWS.strip()], compress=True)
    assert b"AKIAQ3EGXJ5TZRPLW4NB" not in pdf
    assert not any(detectors.scan(text, KEY, categories=("secret",)) for text in decodings(pdf))
    (tmp_path / "report.pdf").write_bytes(pdf)
    (scanned,) = scan_reads(_pdf_call(tmp_path / "report.pdf"), policy, detectors, KEY)
    assert scanned.findings and scanned.findings[0].detector == "aws-access-key-id" and not scanned.error
    (tmp_path / "clean.pdf").write_bytes(make_pdf(["nothing to see"], compress=True))
    (clean,) = scan_reads(_pdf_call(tmp_path / "clean.pdf"), policy, detectors, KEY)
    assert not clean.findings and not clean.error


def test_a_pdf_that_cannot_be_read_whole_is_not_passed_over(
    tmp_path: Path, policy: Any, detectors: Any
) -> None:
    import io

    from pypdf import PdfReader, PdfWriter

    from ramparts.testing.pdf import make_pdf

    pdf = make_pdf([AWS.strip()], compress=True)
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        writer.add_page(page)
    writer.encrypt("owner-only-password", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    (tmp_path / "locked.pdf").write_bytes(out.getvalue())
    (tmp_path / "broken.pdf").write_bytes(pdf[: len(pdf) // 2])
    (tmp_path / "big.pdf").write_bytes(pdf + b"%" + b"x" * 5000 + b"\n")
    small = policy._replace(dlp=policy.dlp._replace(max_scan_bytes=len(pdf)))
    for name, why, limits in (
        ("locked.pdf", "encrypted", policy),
        ("broken.pdf", "could not be extracted", policy),
        ("big.pdf", "scan budget", small),
    ):
        (scanned,) = scan_reads(_pdf_call(tmp_path / name), limits, detectors, KEY)
        assert why in scanned.error, (name, scanned)


def test_a_recent_warm_up_is_not_started_again_nor_subprocess_imported(tmp_path: Path) -> None:
    """Within two minutes of a warm-up, a cold hook neither starts another nor imports ``subprocess``
    (with ``signal``, ``selectors``, ``threading``: about 20 M instructions) to decide that it need not."""
    import json
    import subprocess
    import sys

    import ramparts

    src = str(Path(ramparts.__file__).resolve().parent.parent)
    (tmp_path / "warming").write_text("1")
    probe = (
        "import json, os, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from ramparts.agents.claude_code import content\n"
        "before = os.stat(os.path.join(sys.argv[2], 'warming')).st_mtime_ns\n"
        "content.warm_in_background(sys.argv[2])\n"
        "after = os.stat(os.path.join(sys.argv[2], 'warming')).st_mtime_ns\n"
        "print(json.dumps({'rewritten': before != after, 'subprocess': 'subprocess' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, src, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {"rewritten": False, "subprocess": False}
