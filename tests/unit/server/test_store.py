"""The control plane's store on SQLite and PostgreSQL: tokens, idempotent ingest, history rewrites, rules."""

from __future__ import annotations

import json
import time

import pytest

from ramparts.server.batch import BatchError, parse_batch
from ramparts.server.store import ForeignLogError, ServerStore
from tests.server_harness import HostLog, hook_record


def test_tokens_are_stored_as_hashes_and_revocable(server: ServerStore) -> None:
    info, secret = server.create_token("host", "host-a")
    assert secret.startswith("rpt_") and info.kind == "host"
    assert server.authenticate(secret) == info
    assert server.authenticate(secret + "x") is None
    assert server.authenticate("rpt_" + info.id + "_" + "A" * 43) is None
    if not server.postgres:
        import sqlite3

        with sqlite3.connect(server.location) as db:
            dump = "\n".join(db.iterdump())
        assert secret not in dump and secret[17:] not in dump
    assert server.revoke_token(info.id)
    assert server.authenticate(secret) is None
    assert not server.revoke_token(info.id)
    assert [t.revoked is not None for t in server.tokens()] == [True]


def test_ingest_is_idempotent_and_verifies_checkpoints(server: ServerStore, host: HostLog) -> None:
    token, _ = server.create_token("host", "host-a")
    now = time.time()
    for i in range(12):
        host.append(hook_record("s1", now + i))
    result = server.ingest(token, parse_batch(host.body()))
    assert (result.accepted, result.duplicates, result.quarantined, result.state) == (12, 0, 0, "ok")
    assert result.checkpoints == 1
    (log,) = server.logs()
    assert (log.log_id, log.size, log.verified_size, log.state) == (host.log_id, 12, 10, "ok")
    again = server.ingest(token, parse_batch(host.body()))
    assert (again.accepted, again.duplicates, again.quarantined, again.checkpoints) == (0, 12, 0, 0)
    assert server.record_count() == 12
    host.store.checkpoint()  # a checkpoint at 12, shipped alone
    server.ingest(token, parse_batch(host.body(after=11)))
    assert server.logs()[0].verified_size == 12
    assert [r["session"] for r in server.session_records("s1")] == ["s1"] * 12


def test_a_log_belongs_to_the_token_that_first_shipped_it(server: ServerStore, host: HostLog) -> None:
    a, _ = server.create_token("host", "host-a")
    b, _ = server.create_token("host", "host-b")
    host.append(hook_record("s1", time.time()))
    server.ingest(a, parse_batch(host.body()))
    with pytest.raises(ForeignLogError):
        server.ingest(b, parse_batch(host.body()))


def test_a_rewritten_record_is_stored_apart_and_alerted(server: ServerStore, host: HostLog) -> None:
    token, _ = server.create_token("host", "host-a")
    now = time.time()
    for i in range(4):
        host.append(hook_record("s1", now + i))
    server.ingest(token, parse_batch(host.body(checkpoint=False)))
    forged = host.body(checkpoint=False).replace(b'"reasons":["test"]', b'"reasons":["edited"]', 1)
    result = server.ingest(token, parse_batch(forged))
    assert result.state == "rewritten" and result.quarantined == 1 and result.accepted == 0
    assert server.session_records("s1")[0]["reasons"] == ["test"]  # the first version stands
    assert server.quarantined(host.log_id) == [(0, "record", "conflicting record")]
    assert [(a.rule, a.severity) for a in server.alerts()] == [("integrity.rewritten", "high")]
    # from then on, the log's new records are kept apart too
    host.append(hook_record("s1", now + 10))
    later = server.ingest(token, parse_batch(host.body(after=3, checkpoint=False)))
    assert (later.accepted, later.quarantined) == (0, 1)
    assert server.record_count() == 4


def test_a_checkpoint_that_contradicts_the_records_is_stored_apart(
    server: ServerStore, host: HostLog
) -> None:
    token, _ = server.create_token("host", "host-a")
    now = time.time()
    for i in range(5):
        host.append(hook_record("s1", now + i))
    # the server received edited records first; the host's genuine checkpoint then contradicts them
    forged = host.body(checkpoint=False).replace(b'"decision":"allow"', b'"decision":"deny"', 1)
    server.ingest(token, parse_batch(forged))
    genuine = host.body(after=4)
    result = server.ingest(token, parse_batch(genuine))
    assert result.state == "rewritten" and result.checkpoints == 0 and result.quarantined == 1
    (log,) = server.logs()
    assert log.verified_size == 0 and "does not match" in log.problem
    assert server.quarantined(host.log_id)[0][1] == "checkpoint"


def test_a_checkpoint_signed_by_another_key_is_refused(server: ServerStore, host: HostLog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    token, _ = server.create_token("host", "host-a")
    host.append(hook_record("s1", time.time()))
    server.ingest(token, parse_batch(host.body(checkpoint=False)))
    other = HostLog(tmp_path / "other", checkpoint_every=1)
    other.append(hook_record("s2", time.time()))
    note = json.loads(other.body())["items"][-1]["checkpoint"]
    batch = {
        "log_id": host.log_id,
        "items": [{"kind": "checkpoint", "log_id": host.log_id, "seq": 1, "checkpoint": note}],
    }
    result = server.ingest(token, parse_batch(json.dumps(batch).encode()))
    assert result.state == "rewritten" and result.quarantined == 1
    other.close()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda b: b.replace(b'"decision":"allow"', b'"decision":"perhaps"', 1),
            "items[0].record.rec.decision",
        ),
        (lambda b: b.replace(b'"seq":0,"time"', b'"seq":"0","time"', 1), "items[0].seq"),
        (lambda b: b.replace(b'"surface":"hook"', b'"surface":"hook","extra":1', 1), "items[0].record"),
        (lambda b: b.replace(b'{"log_id":"', b'{"log_id":"x y', 1), "log_id"),
        (lambda b: b.replace(b'{"log_id":', b'{"old":1,"log_id":', 1), "body: Object contains unknown field"),
    ],
)
def test_a_malformed_batch_names_the_field_and_stores_nothing(
    server: ServerStore, host: HostLog, edit, field
) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        host.append(hook_record("s1", time.time() + i))
    body = edit(host.body())
    with pytest.raises(BatchError) as info:
        parse_batch(body)
    assert str(info.value).startswith(field), str(info.value)
    assert server.record_count() == 0


def test_a_burst_trips_the_rate_rule_once_and_orders_a_kill(server: ServerStore, host: HostLog) -> None:
    token, _ = server.create_token("host", "host-a")
    start = time.time()
    for i in range(45):
        host.append(hook_record("burst", start + i * 1.2))  # 45 calls in 54 s
    for i in range(5):
        host.append(hook_record("calm", start + i * 20))
    result = server.ingest(token, parse_batch(host.body()))
    assert result.kills == 1 and result.alerts == 1
    (order,) = server.kills()
    assert (order.scope, order.target) == ("session", "burst")
    assert "rate.tool_calls" in order.reason and "31 tool calls in 60 s" in order.reason
    (alert,) = server.alerts()
    assert (alert.rule, alert.severity, alert.session, alert.response) == (
        "rate.tool_calls",
        "high",
        "burst",
        "kill",
    )


def test_kill_orders_and_lifts(server: ServerStore) -> None:
    server.kill("user", "bob", "incident 42", "admin")
    server.kill("user", "bob", "incident 43", "admin")  # replaces
    assert [(o.scope, o.target, o.reason) for o in server.kills()] == [("user", "bob", "incident 43")]
    assert server.lift("user", "bob") and not server.lift("user", "bob")
    with pytest.raises(ValueError):
        server.kill("all", "bob", "x", "admin")


def test_a_user_far_above_their_baseline_is_alerted_once(server: ServerStore, host: HostLog) -> None:
    token, _ = server.create_token("host", "host-a")
    midnight = 1_796_083_200.0  # 2026-12-01T00:00:00Z
    for day in range(1, 6):  # five ordinary days: 20 tool calls each, 100 s apart
        for i in range(20):
            host.append(hook_record(f"d{day}", midnight - day * 86400 + i * 100))
    for i in range(25):  # today starts normally
        host.append(hook_record("today", midnight + i * 100))
    assert server.ingest(token, parse_batch(host.body())).alerts == 0
    for i in range(25, 400):  # then 400 calls in the day: 20 standard deviations above the usual
        host.append(hook_record("today", midnight + i * 100))
    result = server.ingest(token, parse_batch(host.body(after=124)))
    assert result.alerts == 1
    (alert,) = [a for a in server.alerts() if a.rule == "anomaly.user_baseline"]
    assert alert.severity == "medium" and alert.user == "alice"
    assert "on 2026-12-01 against 20 a day" in alert.message
    for i in range(400, 420):
        host.append(hook_record("today", midnight + i * 100))
    assert server.ingest(token, parse_batch(host.body(after=524))).alerts == 0  # once a day
