"""The real claude CLI reads a PDF and a text file, both holding secrets, through the Ramparts
gateway: the scripted model (the recording upstream) sees a notice in the PDF's place and a
placeholder in the text file's, never a value — not even inside the PDF's base64 bytes."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.testing import ScriptedModelServer, Step, ToolUse, run_claude
from ramparts.testing.pdf import make_pdf
from tests.integration.test_gateway_claude import gateway, placeholders, setup_project

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

AWS, EMAIL = "AKIAQ3EGXJ5TZRPLW4NB", "jane.roe@acme-corp.io"
PDF_KEY = "AKIAZ7QWERTYUIOPLKJH"


def strings(value: Any) -> Iterator[str]:
    """Every string of a request, and the bytes of every base64 value decoded."""
    if isinstance(value, str):
        yield value
        with contextlib.suppress(binascii.Error, ValueError):
            yield base64.b64decode(value, validate=True).decode("latin-1")
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_claude_reads_a_pdf_and_a_text_file_with_secrets_and_the_model_sees_none(
    claude_bin: Path, tmp_path: Path
) -> None:
    setup = setup_project(tmp_path)
    project, token = setup["project"], (tmp_path / "token").read_text()
    (project / "report.pdf").write_bytes(
        make_pdf(["Quarterly report", f"deploy key {PDF_KEY}", f"owner {EMAIL}"])
    )
    (project / "notes.txt").write_text(f"deploy notes\naws_access_key_id = {AWS}\n")
    scenario: list[Step] = [
        ToolUse("Read", {"file_path": str(project / "report.pdf")}),
        ToolUse("Read", {"file_path": str(project / "notes.txt")}),
        "done",
    ]
    with (
        ScriptedModelServer(scenario) as server,
        gateway(server.url, setup["state"]) as url,  # the defaults: a PDF with findings is dropped
    ):
        run = run_claude(
            "read report.pdf and notes.txt",
            claude_bin=claude_bin,
            cwd=project,
            home=setup["home"],
            base_url=url,
            settings=setup["settings"],
            extra_env={"ANTHROPIC_AUTH_TOKEN": token, "ANTHROPIC_API_KEY": ""},
        )
        assert run.returncode == 0, run.stderr[-2000:]
        main = server.main_requests()
        assert len(main) == 3
    seen = "\n".join(s for request in server.requests for s in strings(request.body))
    for value in (AWS, PDF_KEY, EMAIL, "acme-corp", "AKIAZ7QW", "AKIAQ3EG"):
        assert value not in seen, f"{value!r} reached the model"
    # the PDF reached Claude Code as a base64 document block; the model got the notice in its place
    last = json.dumps(main[-1].body)
    assert "application/pdf" not in last
    assert "a PDF document was withheld" in last and "aws-access-key-id" in last
    # the text file's key is a placeholder the model can use
    assert placeholders(last)
