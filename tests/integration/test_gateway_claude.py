"""The real claude CLI through the Ramparts gateway (one process, then two replicas behind a
round-robin balancer) to the scripted model: the file's email address, phone number and AWS key never
reach the model, and the Write the model makes from placeholders puts the real values on disk.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ramparts.gateway.tokens import TokenStore
from ramparts.gateway.vault import PLACEHOLDER
from ramparts.testing import RecordedRequest, ScriptedModelServer, Step, ToolUse, run_claude

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EMAIL, PHONE, AWS = "jane.roe@acme-corp.io", "+1 415 555 2671", "AKIAQ3EGXJ5TZRPLW4NB"
FILE = f"owner: Jane Roe\nemail: {EMAIL}\nphone: {PHONE}\naws_access_key_id = {AWS}\nregion = eu-west-1\n"
UPSTREAM_KEY = "sk-ant-api03-gateway-upstream-key-for-tests"
SRC = str(Path(__file__).resolve().parents[2] / "src")


def placeholders(text: str) -> list[str]:
    return [m.group(0) for m in PLACEHOLDER.finditer(text)]


@contextmanager
def gateway(upstream: str, state: Path, *, lifetime: float = 150, extra: Sequence[str] = ()) -> Iterator[str]:
    """``ramparts gateway`` as its own process on a free loopback port; stops by itself."""
    env = {**os.environ, "ANTHROPIC_API_KEY": UPSTREAM_KEY, "PYTHONPATH": SRC}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ramparts",
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--state-dir",
            str(state),
            "--max-lifetime",
            str(lifetime),
            *extra,
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
            process.communicate(timeout=10)  # reaps it and closes the pipes
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


class RoundRobin:
    """A tiny L7 balancer: each HTTP request goes to the next backend in turn (Claude Code keeps its
    connection alive, so per-connection balancing would pin a session to one replica)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.routed: list[tuple[int, str]] = []
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        import aiohttp
        from aiohttp import web

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        client = aiohttp.ClientSession(auto_decompress=False)

        async def forward(request: web.Request) -> web.StreamResponse:
            index = len(self.routed) % len(self.backends)
            self.routed.append((index, request.path))
            skip = {"host", "content-length", "transfer-encoding", "connection"}
            hdrs = {k: v for k, v in request.headers.items() if k.lower() not in skip}
            async with client.request(
                request.method,
                self.backends[index] + request.path_qs,
                headers=hdrs,
                data=await request.read(),
            ) as upstream:
                out = web.StreamResponse(
                    status=upstream.status,
                    headers={k: v for k, v in upstream.headers.items() if k.lower() not in skip},
                )
                await out.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await out.write(chunk)
                await out.write_eof()
                return out

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop.wait(), 150)
        except TimeoutError:
            pass
        finally:
            await client.close()
            await runner.cleanup()

    def __enter__(self) -> RoundRobin:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def copy_file_step(request: RecordedRequest) -> Step:
    """The scripted model copies what the Read returned (masked) into backup.txt, placeholders and all."""
    messages = request.body["messages"]
    results = [
        block["content"] if isinstance(block["content"], str) else block["content"][0]["text"]
        for message in messages
        if isinstance(message.get("content"), list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    text = next(r for r in results if "aws_access_key_id" in r)  # the config file's Read
    lines = [m.group(1) for m in re.finditer(r"^\s*\d+\t(.*)$", text, re.MULTILINE)]
    content = "\n".join(lines).rstrip("\n") + "\n"
    assert len(placeholders(content)) == 3, f"the model did not get three placeholders: {text!r}"
    return ToolUse("Write", {"file_path": str(Path(request.body["_cwd"]) / "backup.txt"), "content": content})


def setup_project(tmp_path: Path) -> dict[str, Path]:
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.txt").write_text(FILE)
    (project / "README.md").write_text("# demo\n")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"permissions": {"allow": ["Read", "Write", "Edit"]}}))
    state = tmp_path / "state"
    state.mkdir()
    store = TokenStore(str(state / "gateway.db"))
    token = store.create("alice")
    store.close()
    (tmp_path / "token").write_text(token)
    return {
        "project": project,
        "settings": settings,
        "state": state,
        "home": tmp_path / "home",
        "tmp": tmp_path,
    }


def writer_for(project: Path) -> Any:
    def step(request: RecordedRequest) -> Step:
        body = dict(request.body)
        body["_cwd"] = str(project)
        return copy_file_step(
            RecordedRequest(request.method, request.path, request.headers, body, request.raw)
        )

    return step


def assert_nothing_leaked(server: ScriptedModelServer, token: str) -> None:
    seen = server.all_text()
    for value in (EMAIL, PHONE, AWS, "acme-corp", "AKIAQ3EG", "555 2671"):
        assert value not in seen, f"{value!r} reached the model"
    assert len(set(placeholders(seen))) >= 3
    for request in server.requests:
        assert request.headers.get("x-api-key") == UPSTREAM_KEY
        assert token not in json.dumps(request.headers)


def test_claude_through_the_gateway_masks_the_file_and_writes_the_real_values(
    claude_bin: Path, tmp_path: Path
) -> None:
    setup = setup_project(tmp_path)
    project, token = setup["project"], (tmp_path / "token").read_text()
    scenario: list[Step] = [ToolUse("Read", {"file_path": str(project / "config.txt")}), writer_for(project)]
    with ScriptedModelServer(scenario, delta_chars=7) as server, gateway(server.url, setup["state"]) as url:
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
        assert_nothing_leaked(server, token)
        main = server.main_requests()
        assert len(main) >= 3
        assert main[0].headers.get("Authorization") is None
        write = json.dumps(run.tool_uses()[-1]["input"])
        assert EMAIL in write and "RAMPARTS" not in write  # the CLI got the real values
    assert (project / "backup.txt").read_text() == FILE


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_two_replicas_behind_a_balancer_restore_each_others_placeholders(
    claude_bin: Path, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """Turn 1 → replica A, turn 2 → B (B masks the file first), turn 3 → A (A restores the Write).

    ``sqlite``: both on one state directory. ``postgres``: each with its own state directory (two
    machines), one ``--store-url`` and one ``--vault-key`` file; the token is made in that store."""
    setup = setup_project(tmp_path)
    project, token = setup["project"], (tmp_path / "token").read_text()
    state_a = state_b = setup["state"]
    extra: list[str] = []
    if store == "postgres":
        pg = request.getfixturevalue("postgres_server")
        url = f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.database}?schema=gw_{uuid.uuid4().hex[:12]}"
        extra = ["--store-url", url, "--vault-key", str(tmp_path / "shared-vault.key")]
        state_a, state_b = tmp_path / "machine-a", tmp_path / "machine-b"
        tokens = TokenStore(url)
        token = tokens.create("alice")
        tokens.close()
    scenario: list[Step] = [
        ToolUse("Read", {"file_path": str(project / "config.txt")}),
        ToolUse("Read", {"file_path": str(project / "README.md")}),
        writer_for(project),
    ]
    with (
        ScriptedModelServer(scenario, delta_chars=7) as server,
        gateway(server.url, state_a, extra=extra) as replica_a,
        gateway(server.url, state_b, extra=extra) as replica_b,
        RoundRobin([replica_a, replica_b]) as balancer,
    ):
        run = run_claude(
            "back up config.txt to backup.txt",
            claude_bin=claude_bin,
            cwd=project,
            home=setup["home"],
            base_url=balancer.url,
            settings=setup["settings"],
            extra_env={"ANTHROPIC_API_KEY": token},  # x-api-key this time
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert_nothing_leaked(server, token)
        messages_routes = [i for i, path in balancer.routed if path == "/v1/messages"]
        assert messages_routes[:4] == [0, 1, 0, 1]
        main = server.main_requests()
        # the file's placeholders as B sent them (turn 2) and as A sent them (turn 3): the same
        assert sorted(set(placeholders(main[1].raw))) == sorted(set(placeholders(main[2].raw)))
    assert (project / "backup.txt").read_text() == FILE


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _strip_cache_control(value: Any) -> Any:
    """Without the marker, and with string content as the one text block Claude Code turns it into
    when it puts the marker on it."""
    if isinstance(value, dict) and isinstance(value.get("content"), str) and "role" in value:
        value = {**value, "content": [{"type": "text", "text": value["content"]}]}
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


def test_masked_prefix_is_byte_identical_across_five_turns(claude_bin: Path, tmp_path: Path) -> None:
    """Prompt caching survives masking: each turn re-masks the whole conversation to the same bytes.

    Claude Code moves its ``cache_control`` marker to the newest message every turn, so the bytes
    compared are everything before the previous turn's last message; that message must differ only by
    the marker (and the shape Claude Code gives it to carry the marker)."""
    setup = setup_project(tmp_path)
    project, token = setup["project"], (tmp_path / "token").read_text()
    config, readme = str(project / "config.txt"), str(project / "README.md")
    scenario: list[Step] = [
        ToolUse("Read", {"file_path": config}),
        ToolUse("Read", {"file_path": readme}),
        ToolUse("Read", {"file_path": config}),
        ToolUse("Read", {"file_path": readme}),
    ]
    with ScriptedModelServer(scenario) as server, gateway(server.url, setup["state"]) as url:
        run = run_claude(
            "read the files",
            claude_bin=claude_bin,
            cwd=project,
            home=setup["home"],
            base_url=url,
            settings=setup["settings"],
            extra_env={"ANTHROPIC_AUTH_TOKEN": token, "ANTHROPIC_API_KEY": ""},
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert_nothing_leaked(server, token)
        turns = server.main_requests()
    assert len(turns) == 5
    for before, after in itertools.pairwise(turns):
        old, new = before.body["messages"], after.body["messages"]
        start = before.raw.index('"messages":[') + len('"messages":[')
        stable = _compact(old[:-1])[1:-1]  # every message but the last, as the gateway serialised them
        assert before.raw[start : start + len(stable)] == stable
        assert after.raw[: start + len(stable)] == before.raw[: start + len(stable)]
        assert _strip_cache_control(new[len(old) - 1]) == _strip_cache_control(old[-1])
        assert after.body["system"] == before.body["system"] and after.body["tools"] == before.body["tools"]
    # the masked file content is part of the stable prefix from the second turn on
    last_prefix = turns[-1].raw[: turns[-1].raw.index(_compact(turns[-1].body["messages"][-1]))]
    assert len(set(placeholders(last_prefix))) >= 3
