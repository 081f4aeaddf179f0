"""The shipper: durable cursor, at-least-once resume, backoff, independent sinks, configuration rules."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from ramparts.audit.ship import (
    Backoff,
    Cursor,
    PermanentSinkError,
    ShipItem,
    Shipper,
    TransientSinkError,
    open_shipper,
)
from ramparts.audit.ship_config import parse_ship_config
from ramparts.audit.ship_sources import MemorySource, StoreSource
from ramparts.audit.store import AuditStore
from ramparts.errors import PolicyError

SRC = str(Path(__file__).resolve().parents[3] / "src")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ListSink:
    """Records what it receives; fails on demand (a number of calls, or a predicate)."""

    def __init__(self, name: str, fail_times: int = 0, error: Exception | None = None) -> None:
        self.name = name
        self.got: list[ShipItem] = []
        self.calls = 0
        self.fail_times = fail_times
        self.error = error or TransientSinkError(f"sink {name}: down")
        self.closed = False

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise self.error
        self.got.extend(items)
        return []

    def close(self) -> None:
        self.closed = True


def _source(n: int, log_id: str = "log-a") -> MemorySource:
    src = MemorySource(log_id)
    for i in range(n):
        src.append(json.dumps({"i": i, "text": f"record {i}"}).encode(), "2026-05-01T12:00:00Z")
    return src


def _shipper(src: MemorySource, tmp_path: Path, sinks: list[ListSink], **kw: object) -> Shipper:
    clock = FakeClock()
    kw.setdefault("clock", clock)
    kw.setdefault("sleep", clock.sleep)
    return Shipper(src, Cursor(tmp_path / "ship.db"), sinks, rng=random.Random(1), **kw)  # type: ignore[arg-type]


def test_delivers_in_batches_and_saves_the_cursor(tmp_path: Path) -> None:
    src = _source(25)
    sink = ListSink("a")
    report = _shipper(src, tmp_path, [sink], batch_size=10).run(until_idle=True)
    assert report.ok and report.delivered == {"a": 25}
    assert [i.seq for i in sink.got] == list(range(1, 26))
    assert sink.calls == 3
    assert Cursor(tmp_path / "ship.db").get("a", "log-a").seq == 25
    # nothing new: nothing sent again
    again = ListSink("a")
    _shipper(src, tmp_path, [again]).run(until_idle=True)
    assert again.got == []
    src.append(b'{"i":99}')
    _shipper(src, tmp_path, [again]).run(until_idle=True)
    assert [i.seq for i in again.got] == [26]


def test_cursor_file_is_wal_and_full_sync(tmp_path: Path) -> None:
    cursor = Cursor(tmp_path / "state" / "ship.db")
    assert cursor._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert cursor._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    cursor.delivered("s", "l", 5)
    cursor.delivered("s", "l", 3)  # never moves back
    assert cursor.get("s", "l").seq == 5
    assert cursor.get("s", "other-log").seq == -1  # nothing delivered: the log's seqs start at 0


def test_crash_between_delivery_and_cursor_save_resends_but_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _source(30)
    sink = ListSink("a")
    shipper = _shipper(src, tmp_path, [sink], batch_size=10)
    real = Cursor.delivered
    calls = {"n": 0}

    def crash_on_second(self: Cursor, name: str, log_id: str, seq: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process dies after the sink took batch 2, before the cursor moved
        real(self, name, log_id, seq)

    monkeypatch.setattr(Cursor, "delivered", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        shipper.run(until_idle=True)
    monkeypatch.setattr(Cursor, "delivered", real)
    assert Cursor(tmp_path / "ship.db").get("a", "log-a").seq == 10
    restarted = ListSink("a")
    _shipper(src, tmp_path, [restarted], batch_size=10).run(until_idle=True)
    seen = [i.seq for i in sink.got] + [i.seq for i in restarted.got]
    assert set(seen) == set(range(1, 31))  # no loss
    assert [i.seq for i in restarted.got] == list(range(11, 31))  # batch 2 again: a duplicate, by design


def test_backoff_is_exponential_with_jitter_and_gives_up_in_one_shot_runs(tmp_path: Path) -> None:
    src = _source(3)
    clock = FakeClock()
    sink = ListSink("a", fail_times=100)
    shipper = _shipper(
        src, tmp_path, [sink], clock=clock, sleep=clock.sleep, backoff=Backoff(base=1.0, cap=8.0, attempts=5)
    )
    report = shipper.run(until_idle=True)
    assert sink.calls == 5
    assert report.errors == {"a": "sink a: down"}
    # full jitter: attempt n waits within [0, min(cap, base * 2**(n-1))]
    assert len(clock.sleeps) == 4
    for n, slept in enumerate(clock.sleeps, start=1):
        assert 0 <= slept <= min(8.0, 2 ** (n - 1))
    assert Cursor(tmp_path / "ship.db").get("a", "log-a").last_error == "sink a: down"


def test_retry_succeeds_after_transient_failures(tmp_path: Path) -> None:
    src = _source(4)
    clock = FakeClock()
    sink = ListSink("a", fail_times=2)
    report = _shipper(src, tmp_path, [sink], clock=clock, sleep=clock.sleep).run(until_idle=True)
    assert report.ok and [i.seq for i in sink.got] == [1, 2, 3, 4]
    assert len(clock.sleeps) == 2
    assert Cursor(tmp_path / "ship.db").get("a", "log-a").last_error == ""


def test_a_failing_sink_does_not_stop_the_others(tmp_path: Path) -> None:
    src = _source(5)
    bad = ListSink("bad", fail_times=1000)
    worse = ListSink("worse", error=RuntimeError("boom"), fail_times=1000)
    good = ListSink("good")
    report = _shipper(src, tmp_path, [bad, worse, good]).run(until_idle=True)
    assert [i.seq for i in good.got] == [1, 2, 3, 4, 5]
    assert set(report.errors) == {"bad", "worse"}
    assert report.errors["worse"] == "unexpected RuntimeError"  # never the exception text


def test_permanent_error_is_reported_and_not_retried(tmp_path: Path) -> None:
    src = _source(2)
    sink = ListSink(
        "a", fail_times=1000, error=PermanentSinkError("sink a: collector answered 403 Forbidden")
    )
    shipper = _shipper(src, tmp_path, [sink])
    report = shipper.run(until_idle=True)
    assert sink.calls == 1
    assert report.errors == {"a": "sink a: collector answered 403 Forbidden"}
    shipper.run_once()
    assert sink.calls == 1


class PartialSink(ListSink):
    """Accepts every other item on the first call (like Firehose's per-record failures)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.batches: list[list[int]] = []

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        self.batches.append([i.seq for i in items])
        if len(self.batches) == 1:
            self.got.extend(items[::2])
            return items[1::2]
        self.got.extend(items)
        return []


def test_partial_delivery_retries_only_the_rest(tmp_path: Path) -> None:
    src = _source(6)
    sink = PartialSink("a")
    report = _shipper(src, tmp_path, [sink]).run(until_idle=True)
    assert report.ok
    assert sink.batches == [[1, 2, 3, 4, 5, 6], [2, 4, 6]]
    assert sorted(i.seq for i in sink.got) == [1, 2, 3, 4, 5, 6]


def test_latest_checkpoint_goes_to_every_checkpoint_sink_once(tmp_path: Path) -> None:
    src = _source(3)
    src.set_checkpoint("example/log\n3\nroot=\n\n— key sig\n")
    a, b, c = ListSink("a"), ListSink("b"), ListSink("c")
    shipper = _shipper(src, tmp_path, [a, b, c], checkpoint_sinks=["a", "b"], record_sinks=["a", "c"])
    shipper.run(until_idle=True)
    assert [(i.kind, i.seq) for i in a.got] == [
        ("record", 1),
        ("record", 2),
        ("record", 3),
        ("checkpoint", 3),
    ]
    assert [(i.kind, i.seq) for i in b.got] == [("checkpoint", 3)]  # a checkpoint-only sink
    assert all(i.kind == "record" for i in c.got)
    shipper.run(until_idle=True)
    assert len(b.got) == 1  # the same checkpoint is not sent twice
    src.append(b'{"i":4}')
    src.set_checkpoint("example/log\n4\nroot2=\n\n— key sig\n")
    shipper.run(until_idle=True)
    assert [i.seq for i in b.got] == [3, 4]
    assert Cursor(tmp_path / "ship.db").get("b", "log-a").checkpoint_seq == 4


def test_errors_are_logged_without_record_contents(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    canary = "AKIA" + "CANARY" * 4
    src = MemorySource("log-a")
    src.append(json.dumps({"input": canary}).encode())

    class Leaky(ListSink):
        def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
            raise ValueError(items[0].body.decode())  # a library error echoing what it was given

    with caplog.at_level(logging.DEBUG, logger="ramparts"):
        report = _shipper(src, tmp_path, [Leaky("a")], backoff=Backoff(attempts=2)).run(until_idle=True)
    assert canary not in caplog.text and canary not in json.dumps(report.errors)
    assert "unexpected ValueError" in caplog.text
    assert canary not in sqlite3.connect(tmp_path / "ship.db").execute("SELECT * FROM cursor").fetchall()[0]


def test_service_loop_keeps_retrying_and_stops_on_request(tmp_path: Path) -> None:
    src = _source(2)
    clock = FakeClock()
    sink = ListSink("a", fail_times=10)
    shipper = _shipper(
        src, tmp_path, [sink], clock=clock, backoff=Backoff(base=0.1, cap=1.0, attempts=3), interval=2.0
    )

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(sink.got) == 2 and len(clock.sleeps) > 12:
            shipper.stop()

    shipper.sleep = sleep
    shipper.run()  # not until_idle: attempts=3 does not make a service give up
    assert sink.calls > 10 and [i.seq for i in sink.got] == [1, 2]
    assert max(clock.sleeps) <= 2.0


def test_store_source_ships_the_merkle_logs_exact_bytes_and_signed_checkpoints(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "audit.db") as store:
        for i in range(3):
            store.append({"i": i, "time": f"2026-05-01T12:00:0{i}Z", "text": "é\n"})
        src = StoreSource(store)
        assert src.log_id == store.log.meta().log_id  # type: ignore[union-attr]
        items = src.items_after(0, 10)
        assert [(i.seq, i.kind, i.time) for i in items] == [
            (1, "record", "2026-05-01T12:00:01Z"),
            (2, "record", "2026-05-01T12:00:02Z"),
        ]
        assert items[0].body == store.tail(2)[0].raw
        assert [i.seq for i in src.items_after(-1, 2)] == [0, 1]
        assert src.latest_checkpoint() is None or src.latest_checkpoint().kind == "checkpoint"  # type: ignore[union-attr]
        note = store.checkpoint()
        cp = src.latest_checkpoint()
        assert cp is not None and cp.kind == "checkpoint" and cp.seq == 3 and cp.body == note.encode()
        assert StoreSource(store, "host-1").log_id == "host-1"
    with AuditStore(tmp_path / "empty.db") as empty:
        assert StoreSource(empty, "x").latest_checkpoint() is None


# -- configuration ------------------------------------------------------------------------------------------


def _cfg(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sinks": [
            {"name": "local", "type": "jsonl", "path": "/tmp/x.jsonl"},
            {"name": "archive", "type": "s3", "bucket": "audit-lock", "retention_days": 365},
        ],
        "checkpoint_sinks": ["local", "archive"],
    }
    base.update(extra)
    return base


def test_config_defaults_and_shape() -> None:
    config = parse_ship_config({"ship": _cfg(retry={"attempts": 3, "base_seconds": 0.1})})
    assert [s.name for s in config.sinks] == ["local", "archive"]
    assert config.checkpoint_sinks == ("local", "archive")
    assert (config.batch_size, config.interval, config.retry_attempts, config.retry_base) == (
        100,
        5.0,
        3,
        0.1,
    )
    assert config.warnings == ()


def test_config_needs_two_checkpoint_sinks_unless_unsafe() -> None:
    with pytest.raises(PolicyError, match="at least two independent sinks"):
        parse_ship_config(_cfg(checkpoint_sinks=["archive"]))
    with pytest.raises(PolicyError, match="at least two"):
        parse_ship_config(_cfg(checkpoint_sinks=["archive", "archive"]))
    with pytest.warns(UserWarning, match="fewer than two checkpoint sinks"):
        config = parse_ship_config(_cfg(checkpoint_sinks=["archive"], unsafe_single_checkpoint_sink=True))
    assert config.checkpoint_sinks == ("archive",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, "ship.colour: unknown key"),
        ({"sinks": []}, "ship.sinks: must be a non-empty list"),
        ({"checkpoint_sinks": ["local", "nope"]}, "no sink named 'nope'"),
        ({"batch_size": 0}, "ship.batch_size"),
        ({"retry": {"tries": 3}}, "ship.retry.tries: unknown key"),
        ({"sinks": [{"name": "x", "type": "ftp"}]}, r"ship.sinks\[0\].type"),
        (
            {"sinks": [{"name": "x", "type": "jsonl", "path": "p", "bucket": "b"}]},
            r"sinks\[0\].bucket: unknown",
        ),
        ({"sinks": [{"name": "x", "type": "s3", "bucket": "b"}]}, r"retention_days: is required"),
        ({"sinks": [{"name": "x", "type": "syslog", "host": "h", "transport": "smtp"}]}, "udp, tcp or tls"),
        (
            {"sinks": [{"name": "x", "type": "http", "url": "https://c.example/in"}]},
            "token_env or token_file",
        ),
        (
            {"sinks": [{"name": "x", "type": "http", "url": "http://c.example/in", "token_env": "T"}]},
            "plain http to a remote host",
        ),
        (
            {
                "sinks": [
                    {"name": "x", "type": "jsonl", "path": "a"},
                    {"name": "x", "type": "jsonl", "path": "b"},
                ]
            },
            "duplicate sink name",
        ),
    ],
)
def test_config_errors_name_their_path(change: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_ship_config(_cfg(**change))


def test_config_warns_on_unsafe_keys_and_local_only_checkpoints() -> None:
    sinks = [
        {"name": "a", "type": "jsonl", "path": "a"},
        {"name": "b", "type": "jsonl", "path": "b"},
        {"name": "s", "type": "s3", "bucket": "bk", "retention_days": 1, "unsafe_governance_mode": True},
    ]
    with pytest.warns(UserWarning) as caught:
        config = parse_ship_config({"sinks": sinks, "checkpoint_sinks": ["a", "b"]})
    texts = [str(w.message) for w in caught]
    assert any("unsafe_governance_mode" in t for t in texts)
    assert any("local files" in t for t in texts)
    assert len(config.warnings) == 2


def test_open_shipper_selects_named_sinks(tmp_path: Path) -> None:
    src = _source(2)
    config = {
        "sinks": [
            {"name": "one", "type": "jsonl", "path": str(tmp_path / "one.jsonl")},
            {"name": "two", "type": "jsonl", "path": str(tmp_path / "two.jsonl"), "records": False},
        ],
        "checkpoint_sinks": ["one", "two"],
    }
    with pytest.warns(UserWarning, match="local files"):
        shipper = open_shipper(src, str(tmp_path), config, only=["two"])
    src.set_checkpoint("o\n2\nr\n")
    assert shipper.run(until_idle=True).ok
    lines = (tmp_path / "two.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["checkpoint"]
    assert not (tmp_path / "one.jsonl").exists()
    with pytest.warns(UserWarning), pytest.raises(Exception, match="no sink named three"):
        open_shipper(src, str(tmp_path), config, only=["three"])


# -- the command and process-level behaviour -----------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "PYTHONWARNINGS": "ignore"}


def _write_config(tmp_path: Path, batch_size: int = 50) -> Path:
    cfg = tmp_path / "ship.yaml"
    cfg.write_text(
        "ship:\n"
        "  log_id: host-1\n"
        f"  batch_size: {batch_size}\n"
        "  interval_seconds: 0.2\n"
        "  unsafe_single_checkpoint_sink: true\n"
        "  checkpoint_sinks: [local]\n"
        "  sinks:\n"
        f"    - {{name: local, type: jsonl, path: '{tmp_path / 'out.jsonl'}'}}\n"
    )
    return cfg


def _delivered(path: Path) -> list[int]:
    out = []
    for line in path.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line torn by SIGKILL; the item is sent again
        if item["kind"] == "record":
            out.append(item["seq"])
    return out


def test_cli_ship_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with AuditStore(state / "audit.db") as store:
        for i in range(7):
            store.append({"i": i})
        store.checkpoint()
    cfg = _write_config(tmp_path)
    cmd = [sys.executable, "-m", "ramparts", "audit", "ship", "--once", "--state-dir", str(state)]
    result = subprocess.run(
        [*cmd, "--config", str(cfg)], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "local: delivered 8 item(s)" in result.stdout  # 7 records and the signed checkpoint
    assert _delivered(tmp_path / "out.jsonl") == list(range(7))
    bad = subprocess.run(
        [*cmd, "--config", str(cfg), "--sink", "nope"], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1 and "no sink named nope" in bad.stderr


def test_sigkill_during_shipping_loses_nothing(tmp_path: Path) -> None:
    """Kill the shipper at random moments; after a final run every record is in the sink."""
    state = tmp_path / "state"
    total = 3000
    with AuditStore(state / "audit.db") as store:
        store.log.append_many({"i": i} for i in range(total))  # one transaction: the fixture, fast
    cfg = _write_config(tmp_path, batch_size=1)  # one fsynced append and one cursor commit per record
    cmd = [sys.executable, "-m", "ramparts", "audit", "ship", "--state-dir", str(state), "--config", str(cfg)]
    rng = random.Random(7)
    cursor = Cursor(state / "ship.db")
    killed_midway = 0
    for _ in range(5):
        before = cursor.get("local", "host-1").seq
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while cursor.get("local", "host-1").seq == before and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until this run is shipping, then kill it at a random moment
        time.sleep(rng.uniform(0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        at = cursor.get("local", "host-1").seq
        killed_midway += 0 <= at < total - 1
        if at == total - 1:
            break
    assert killed_midway >= 1  # the kills did land while records were being shipped
    subprocess.run([*cmd, "--once"], env=_env(), check=True, capture_output=True, timeout=120)
    seqs = _delivered(tmp_path / "out.jsonl")
    assert set(seqs) == set(range(total))
    assert cursor.get("local", "host-1").seq == total - 1


def test_the_hook_never_imports_shipping_libraries() -> None:
    code = (
        "import sys, ramparts.audit.ship, ramparts.audit.ship_config, ramparts.audit.sinks,"
        " ramparts.agents.claude_code.hook;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'opentelemetry', 'moto')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hook = subprocess.run(
        [sys.executable, "-c", "import sys, ramparts.agents.claude_code.hook; "
         "sys.exit('ramparts.audit.ship' in sys.modules)"],
        env=_env(), capture_output=True, timeout=60,
    )  # fmt: skip
    assert hook.returncode == 0


def test_service_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with AuditStore(state / "audit.db") as store:
        store.append({"i": 0})
    cfg = _write_config(tmp_path)
    cmd = [sys.executable, "-m", "ramparts", "audit", "ship", "--state-dir", str(state), "--config", str(cfg)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        out = tmp_path / "out.jsonl"
        while time.monotonic() < deadline and not (out.exists() and _delivered(out) == [0]):
            time.sleep(0.05)
        with AuditStore(state / "audit.db") as store:
            store.append({"i": 1})  # picked up by the running service on its next round
        while time.monotonic() < deadline and _delivered(out) != [0, 1]:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert _delivered(out) == [0, 1]
    assert "local: delivered" in stdout
