"""The real claude CLI through ``ramparts gateway`` to Amazon Bedrock (the scripted Bedrock runtime,
which checks every SigV4 signature): the file's values never reach Bedrock, and the Write the model
makes from placeholders, streamed back as event stream frames split every few bytes, puts the real
values on disk. Claude Code itself speaks the Anthropic API to the gateway and knows nothing of AWS.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ramparts.testing import Step, ToolUse, run_claude
from ramparts.testing.bedrock import TEST_CREDENTIALS, ScriptedBedrockServer
from tests.integration.test_gateway_claude import (
    AWS,
    EMAIL,
    FILE,
    PHONE,
    SRC,
    placeholders,
    setup_project,
    writer_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@contextmanager
def bedrock_gateway(endpoint: str, state: Path, *, lifetime: float = 150) -> Iterator[str]:
    """``ramparts gateway`` sending every ``claude-*`` model to Bedrock at ``endpoint``; the Anthropic
    upstream is a closed port (nothing may go there) and no Anthropic key is set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    env.update(TEST_CREDENTIALS.env(), PYTHONPATH=SRC)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ramparts",
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:9",
            "--bedrock-region",
            "us-east-1",
            "--bedrock-endpoint-url",
            endpoint,
            "--bedrock-model",
            f"claude-*={BEDROCK_MODEL}",
            "--state-dir",
            str(state),
            "--max-lifetime",
            str(lifetime),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            process.kill()
            raise AssertionError(f"gateway did not start: {line!r} {process.communicate()[1][-2000:]}")
        yield match.group(1)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_claude_through_the_gateway_to_bedrock_masks_the_file_and_writes_the_real_values(
    claude_bin: Path, tmp_path: Path
) -> None:
    setup = setup_project(tmp_path)
    project, token = setup["project"], (tmp_path / "token").read_text()
    scenario: list[Step] = [ToolUse("Read", {"file_path": str(project / "config.txt")}), writer_for(project)]
    with (
        ScriptedBedrockServer(scenario, delta_chars=7, split_bytes=11) as server,
        bedrock_gateway(server.url, setup["state"]) as url,
    ):
        run = run_claude(
            "back up config.txt to backup.txt",
            claude_bin=claude_bin,
            cwd=project,
            home=setup["home"],
            base_url=url,
            settings=setup["settings"],
            extra_env={"ANTHROPIC_AUTH_TOKEN": token, "ANTHROPIC_API_KEY": ""},
        )
        assert run.returncode == 0, run.stderr[-2000:]
        requests = server.requests
        assert requests and all(r.signature_ok for r in requests)
        assert {r.model_id for r in requests} == {BEDROCK_MODEL}
        main = server.main_requests()
        assert len(main) >= 3
        assert all(r.operation == "invoke-with-response-stream" for r in main)
        seen = server.all_text()
        for value in (EMAIL, PHONE, AWS, "acme-corp", "AKIAQ3EG", "555 2671"):
            assert value not in seen, f"{value!r} reached Bedrock"
        assert len(set(placeholders(seen))) >= 3
        for request in requests:
            assert token not in json.dumps(request.headers)
            assert "model" not in request.body and request.body["anthropic_version"] == "bedrock-2023-05-31"
        write = json.dumps(run.tool_uses()[-1]["input"])
        assert EMAIL in write and "RAMPARTS" not in write  # the CLI got the real values
        for secret in (
            TEST_CREDENTIALS.secret_key,
            TEST_CREDENTIALS.token or "",
            TEST_CREDENTIALS.access_key,
        ):
            assert secret not in run.stdout and secret not in run.stderr
    assert (project / "backup.txt").read_text() == FILE
