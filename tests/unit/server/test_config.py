"""The hook's view of the central kill orders (its short cache, fail closed or last known) and the batch
parser's contract: any input either parses or raises BatchError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.errors import PolicyError
from ramparts.server.batch import BatchError, parse_batch
from ramparts.server.config import ServerSettings, central_kill, parse_server, resolve, write_cache

ORDER = {"scope": "session", "target": "s1", "reason": "incident 7", "by": "sec", "at": 1.0}
DOWN = ServerSettings(url="http://127.0.0.1:1", cache_seconds=2, timeout_seconds=0.2)


def test_a_fresh_cache_answers_without_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMPARTS_SERVER_TOKEN", "rpt_x")
    write_cache(str(tmp_path), [ORDER, {"scope": "user", "target": "bob", "reason": "r", "by": "b"}], 100.0)
    assert "incident 7 (central kill switch for this session" in central_kill(
        DOWN, str(tmp_path), "s1", "u", now=101
    )
    assert "user bob" in central_kill(DOWN, str(tmp_path), "s2", "bob", now=101)
    assert central_kill(DOWN, str(tmp_path), "s2", "alice", now=101) == ""


def test_unreachable_server_fails_closed_or_keeps_the_last_orders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPARTS_SERVER_TOKEN", "rpt_x")
    message = central_kill(DOWN, str(tmp_path), "s2", "alice", now=1000)
    assert "cannot be checked" in message and "never fetched" in message and "fail_closed" in message
    write_cache(str(tmp_path), [ORDER], 100.0)
    assert "last fetched 900 s ago" in central_kill(DOWN, str(tmp_path), "s2", "alice", now=1000)
    last = DOWN._replace(unreachable="last_known")
    assert central_kill(last, str(tmp_path), "s2", "alice", now=1000) == ""
    assert "incident 7" in central_kill(last, str(tmp_path), "s1", "alice", now=1000)


def test_settings_from_policy_and_environment() -> None:
    assert resolve("", {}) is None
    env = {"RAMPARTS_SERVER": "http://cp:8790/"}
    assert resolve("", env) == ServerSettings(url="http://cp:8790")
    section = json.dumps({"url": "https://cp", "unreachable": "last_known", "cache_seconds": 5})
    assert resolve(section, {}) == ServerSettings(
        url="https://cp", unreachable="last_known", cache_seconds=5.0
    )
    for bad, where in (
        ({"url": "ftp://x"}, "server.url"),
        ({"unreachable": "open"}, "server.unreachable"),
        ({"cache": 1}, "server.cache"),
        ({"timeout_seconds": 0}, "server.timeout_seconds"),
    ):
        with pytest.raises(PolicyError) as info:
            parse_server(bad)
        assert info.value.problem.startswith(where)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200)
@given(st.binary(max_size=200) | _JSON.map(lambda v: json.dumps(v).encode()))
def test_parse_batch_parses_or_names_the_problem(body: bytes) -> None:
    try:
        parse_batch(body)
    except BatchError as exc:
        assert ":" in str(exc)


@settings(max_examples=100)
@given(
    st.fixed_dictionaries(
        {
            "log_id": st.sampled_from(["abc", "x y", ""]),
            "items": st.lists(
                st.fixed_dictionaries(
                    {
                        "kind": st.sampled_from(["record", "checkpoint", "other"]),
                        "log_id": st.sampled_from(["abc", "def"]),
                        "seq": st.integers(min_value=-2, max_value=3),
                    },
                    optional={"record": _JSON, "checkpoint": st.text(max_size=10)},
                ),
                max_size=3,
            ),
        }
    )
)
def test_parse_batch_on_batch_shaped_input(batch: dict[str, object]) -> None:
    try:
        parsed = parse_batch(json.dumps(batch).encode())
    except BatchError:
        return
    assert parsed.log_id == "abc" and not parsed.records  # no fabricated record passes the envelope checks


def test_the_policy_carries_both_sections_and_rejects_bad_ones_with_their_line() -> None:
    from ramparts.policy.load import compile_policy

    text = (
        "version: 1\nextends: baseline\nserver:\n  url: https://cp.example\n  unreachable: last_known\n"
        "monitor:\n  rules:\n    - {id: fast, kind: rate, threshold: 10, severity: high}\n"
    )
    policy = compile_policy(text.encode(), "test.yaml", base_dir="/opt")
    assert json.loads(policy.server) == {"url": "https://cp.example", "unreachable": "last_known"}
    assert json.loads(policy.monitor)["rules"][0]["id"] == "fast"
    assert compile_policy(b"version: 1\nextends: baseline\n", "t.yaml", base_dir="/opt").server == ""
    with pytest.raises(PolicyError) as info:
        compile_policy(b"version: 1\nserver:\n  url: ftp://x\n", "test.yaml", base_dir="/opt")
    assert info.value.problem.startswith("server.url") and info.value.line in (2, 3)


def test_audit_ship_knows_the_ramparts_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    from ramparts.audit.ship_config import build_sinks, parse_ship_config
    from ramparts.audit.sinks.server import ServerSink

    monkeypatch.setenv("CP_TOKEN", "rpt_x")
    with pytest.warns(UserWarning, match="unsafe_single_checkpoint_sink"):
        config = parse_ship_config(
            {
                "ship": {
                    "sinks": [
                        {
                            "name": "cp",
                            "type": "ramparts",
                            "url": "http://127.0.0.1:8790",
                            "token_env": "CP_TOKEN",
                        }
                    ],
                    "checkpoint_sinks": ["cp"],
                    "unsafe_single_checkpoint_sink": True,
                }
            }
        )
    (sink,) = build_sinks(config.sinks)
    assert isinstance(sink, ServerSink) and sink.path == "/v1/ingest" and sink.token == "rpt_x"
    with pytest.raises(PolicyError):
        parse_ship_config(
            {"ship": {"sinks": [{"name": "cp", "type": "ramparts", "url": "http://cp.example"}]}}
        )


def test_compile_sends_claude_code_telemetry_to_the_control_plane(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    import ramparts
    from ramparts.policy.compile import hook_command, managed_settings
    from ramparts.policy.load import compile_policy

    policy_file = tmp_path / "org.yaml"
    policy_file.write_text(
        "version: 1\nextends: baseline\nserver:\n  url: https://cp.example.com/\n  token_env: CP_TOKEN\n"
    )
    policy = compile_policy(policy_file.read_bytes(), str(policy_file), base_dir=str(tmp_path))
    settings = managed_settings(policy, command=hook_command(str(policy_file), None))
    assert settings["env"]["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] == "https://cp.example.com/otlp/v1/logs"
    assert settings["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert settings["env"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/json"
    helper = settings["otelHeadersHelper"]
    assert helper.endswith(f"-m ramparts server otel-headers --policy {policy_file}")
    assert "rpt_" not in json.dumps(settings)  # no token in the settings file
    plain = compile_policy(b"version: 1\nextends: baseline\n", "p.yaml", base_dir="/opt")
    assert "otelHeadersHelper" not in managed_settings(plain, command="x")

    # the helper prints the header Claude Code adds to its OTLP requests
    src = str(Path(ramparts.__file__).resolve().parents[1])
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": src, "CP_TOKEN": "rpt_abc", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "ramparts", "server", "otel-headers", "--policy", str(policy_file)],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout) == {"Authorization": "Bearer rpt_abc"}
