"""The resident hook's client is installed by default, so where it cannot work it must fall back to the
full hook (which decides), never deny everything or crash."""

from __future__ import annotations

import os
import time

import pytest

from ramparts.agents.claude_code import hook_client

HOOK = ["/usr/bin/python3", "-I", "-m", "ramparts", "hook", "--state-dir", "/nonexistent/state"]


@pytest.mark.parametrize(("module", "name"), [(hook_client._socket, "AF_UNIX"), (os, "getuid")])
def test_without_unix_sockets_or_uids_the_client_falls_back(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str
) -> None:
    monkeypatch.delattr(module, name)  # as on Windows
    with pytest.raises(hook_client._Fallback, match="no Unix sockets"):
        hook_client.ask({"--no-start": "1"}, HOOK, b"{}", time.monotonic())


def test_a_platform_that_cannot_start_a_detached_server_is_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def no_setsid(path: str, argv: list[str], env: dict[str, str], **kwargs: object) -> int:
        calls.append(argv)
        raise NotImplementedError("setsid is not supported")  # what os.posix_spawn raises without it

    monkeypatch.setattr(os, "posix_spawn", no_setsid)
    hook_client._start_server(HOOK, "/nonexistent/state/hook.sock", None)
    assert calls and calls[0][4] == "hook-server"
