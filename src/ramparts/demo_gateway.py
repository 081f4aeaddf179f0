"""The gateway leg of ``ramparts demo``: a real ``claude`` session through ``ramparts gateway``.

The gateway runs as its own process on 127.0.0.1 (a free port, state under the demo's workdir, its
settings from the demo policy's ``gateway`` section), in front of the scripted model. The agent reads a
project file holding an e-mail address, a phone number and an AWS access key; the scripted model,
which only ever sees placeholders, writes them back into a new file. The leg prints what the upstream
saw, what landed on disk, and whether any real value reached the upstream.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .audit.record import from_json
from .audit.store import AuditStore
from .testing import RecordedRequest, ScriptedModelServer, Step, ToolUse, run_claude

EMAIL, PHONE, AWS_KEY = "jane.roe@acme-corp.io", "+1 415 555 2671", "AKIAQ3EGXJ5TZRPLW4NB"
VALUES = (EMAIL, PHONE, AWS_KEY)
CONFIG = (
    f"owner: Jane Roe\nemail: {EMAIL}\nphone: {PHONE}\naws_access_key_id = {AWS_KEY}\nregion = eu-west-1\n"
)
UPSTREAM_KEY = "sk-ant-api03-ramparts-demo-upstream-key"
"""The key the gateway sends upstream (its own ``ANTHROPIC_API_KEY``); the client never has it."""
PLACEHOLDER = re.compile(r"\[\[RAMPARTS:[A-Z][A-Z0-9_]{0,31}:[0-9a-f]{8,32}\]\]")
_READ_LINE = re.compile(r"^\s*\d+\t(.*)$", re.MULTILINE)  # Claude Code's Read numbers each line: "  1\t…"
START_TIMEOUT = 60.0


def _ramparts(*args: str) -> list[str]:
    return [sys.executable, "-m", "ramparts", *args]


def create_token(state: Path, user: str) -> str:
    """``ramparts gateway token create``: the client's token (only its hash is stored)."""
    done = subprocess.run(
        _ramparts("gateway", "token", "create", "--user", user, "--state-dir", str(state)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@contextmanager
def gateway_process(upstream: str, state: Path, policy_file: Path, *, lifetime: float = 300) -> Iterator[str]:
    """``ramparts gateway`` on a free loopback port; yields its URL and stops it on the way out.

    Its stdout (the ``listening on`` line) and stderr go to files in ``state``, so no pipe can fill up;
    ``--max-lifetime`` stops it by itself should this process die first."""
    out, err = state / "gateway.out", state / "gateway.log"
    env = {**os.environ, "ANTHROPIC_API_KEY": UPSTREAM_KEY}
    env.pop("RAMPARTS_POLICY", None)
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            _ramparts(
                "gateway",
                "--listen",
                "127.0.0.1:0",
                "--policy",
                str(policy_file),
                "--upstream",
                upstream,
                "--state-dir",
                str(state),
                "--max-lifetime",
                str(lifetime),
            ),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            match = re.search(r"listening on (http://\S+)", out.read_text("utf-8", "replace"))
            if match:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                tail = err.read_text("utf-8", "replace")[-2000:]
                raise RuntimeError(f"ramparts gateway did not start (exit {process.poll()}): {tail}")
            time.sleep(0.05)
        yield match.group(1)
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: it closes the listener and flushes its audit records
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tool_result_texts(request: RecordedRequest) -> list[str]:
    texts = []
    for message in request.body.get("messages", []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, list):
                    inner = "".join(b.get("text", "") for b in inner if isinstance(b, dict))
                texts.append(str(inner))
    return texts


def file_as_sent(request: RecordedRequest, marker: str) -> str:
    """The file's text as a Read result in this request carried it (line numbers removed)."""
    text = next((t for t in _tool_result_texts(request) if marker in t), "")
    lines = [m.group(1) for m in _READ_LINE.finditer(text)]
    return "\n".join(lines).rstrip("\n") + "\n" if lines else ""


class CopyStep:
    """The scripted model copies the config file it was shown (placeholders and all) into backup.txt."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.content = ""

    def __call__(self, request: RecordedRequest) -> ToolUse | str:
        self.content = file_as_sent(request, "aws_access_key_id")
        if not self.content:
            return "I could not read config.txt."
        return ToolUse("Write", {"file_path": str(self.project / "backup.txt"), "content": self.content})


def _indented(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.rstrip("\n").splitlines())


def run_gateway_leg(*, workdir: Path, claude_bin: Path, policy_file: Path) -> bool:
    """Run and print the leg; True when the upstream saw no real value and the file got them all."""
    base = workdir / "gateway"
    project, home, state = base / "project", base / "home", base / "state"
    for folder in (project, home, state):
        folder.mkdir(parents=True)
    os.chmod(state, 0o700)
    (project / "config.txt").write_text(CONFIG, "utf-8")
    settings_file = base / "settings.json"
    settings_file.write_text(json.dumps({"permissions": {"allow": ["Read", "Write"]}}), "utf-8")
    print("\n== gateway leg: claude -> ramparts gateway (127.0.0.1) -> scripted model ==")
    token = create_token(state, "demo")
    print('client token for user "demo" from `ramparts gateway token create` (ANTHROPIC_AUTH_TOKEN);')
    print("the upstream key stays in the gateway's environment")
    print("(no hook in this leg: it would deny reading a file that holds an AWS key before any model saw it)")
    print(f"project/config.txt on disk:\n{_indented(CONFIG)}")
    copy = CopyStep(project)
    scenario: list[Step] = [
        ToolUse("Read", {"file_path": str(project / "config.txt")}),
        copy,
        "Backed up config.txt to backup.txt.",
    ]
    started = time.monotonic()
    with ScriptedModelServer(scenario, delta_chars=7) as server:
        with gateway_process(server.url, state, policy_file) as url:
            print(
                f"gateway {url} (settings from {policy_file.name}'s gateway section; --upstream {server.url})"
            )
            run = run_claude(
                "Back up config.txt to backup.txt.",
                claude_bin=claude_bin,
                cwd=project,
                home=home,
                base_url=url,
                settings=settings_file,
                extra_env={"ANTHROPIC_AUTH_TOKEN": token, "ANTHROPIC_API_KEY": ""},
                timeout=120,
            )
        requests = server.requests
        seen = server.all_text()
        key_ok = all(r.headers.get("x-api-key") == UPSTREAM_KEY for r in requests)
        token_seen = any(token in json.dumps(r.headers) or token in r.raw for r in requests)
    print(f"claude exited {run.returncode} after {time.monotonic() - started:.1f}s (gateway start included)")
    print(
        f"what the upstream saw of config.txt (the Read's tool_result):\n{_indented(copy.content or '(nothing)')}"
    )
    if copy.content:
        print(
            "the model's Write(backup.txt) streamed back those placeholders in 7-character input_json_delta pieces"
        )
    backup = project / "backup.txt"
    written = backup.read_text("utf-8") if backup.exists() else ""
    print(
        f"project/backup.txt on disk (restored by the gateway in the stream):\n{_indented(written or '(missing)')}"
    )
    leaked = [value for value in VALUES if value in seen]
    placeholders = sorted(set(PLACEHOLDER.findall(seen)))
    restored = written == CONFIG
    print(f"backup.txt holds the real values: {'yes' if restored else 'NO - FAILURE'}")
    print(
        f"upstream: {len(requests)} requests, {len(placeholders)} distinct placeholders, "
        f"{'the gateway' if key_ok else 'NOT the gateway'}'s key, client token "
        f"{'SEEN - FAILURE' if token_seen else 'never seen'}"
    )
    print("gateway audit (state/audit.db):")
    with AuditStore(state / "audit.db") as store:
        for rec in store.records():
            record = from_json(rec.data())
            gw = record.gateway
            if gw is None:
                continue
            counts: dict[str, int] = {}
            for f in record.findings:
                if f.action in ("mask", "redact", "block"):
                    key = f"{f.detector}:{f.action}"
                    counts[key] = counts.get(key, 0) + 1
            by = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
            clamped = f" max_tokens {gw.max_tokens_asked}->{gw.max_tokens_sent}" if gw.max_tokens_sent else ""
            print(
                f"    #{rec.seq} {gw.route or '?'} {gw.model or '?'} status {gw.status or '?'}"
                f"{clamped} masked {gw.masked}{f' ({by})' if by else ''} restored {gw.restored}"
            )
    print(
        f"real values that reached the upstream: {'YES - FAILURE: ' + ', '.join(leaked) if leaked else 'no'}"
    )
    return (
        run.returncode == 0 and not leaked and restored and key_ok and not token_seen and bool(placeholders)
    )
