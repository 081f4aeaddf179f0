"""A PDF holding a key, read by the real claude CLI with only the hook in the way (no gateway): the
hook scans the text Claude Code's Read would render, not the deflated bytes on disk, and denies."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.testing import ToolUse
from ramparts.testing.pdf import make_pdf
from tests.integration.test_claude_hook import session, settings_file, user_allows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

KEY_ID = "AKIAZ7QWERTYUIOPLKJH"


def test_reading_a_pdf_with_a_key_is_denied_by_the_hook(claude_bin: Path, tmp_path: Path) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    pdf = make_pdf(["Quarterly report", f"aws_access_key_id = {KEY_ID}"], compress=True)
    assert KEY_ID.encode() not in pdf  # a scan of the file's bytes finds nothing
    (project / "report.pdf").write_bytes(pdf)
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    setup = {"project": project, "home": home, "state": tmp_path / "state", "policy": policy, "tmp": tmp_path}
    user_allows(setup, ["Read"])
    run, server = session(
        claude_bin,
        setup,
        [ToolUse("Read", {"file_path": str(project / "report.pdf")}), "done"],
        settings_file(setup, native_rules=False),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = server.tool_result(0)
    assert result is not None and result.is_error and "dlp.read_secret" in result.content, result
    assert KEY_ID not in server.all_text()
