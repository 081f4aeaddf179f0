"""S3 Object Lock and Firehose sinks against a local moto server (AWS is not reachable here).

What moto enforces and we test: a PUT with lock headers lands with the mode and retain-until; a
versioned DELETE of a COMPLIANCE-locked version is refused (AccessDenied); a bucket without Object
Lock has no lock configuration (so the sink refuses it). What moto does not enforce (it lets
``put_object_retention`` shorten COMPLIANCE retention, ignores IAM, treats any bypass header value
as a bypass) cannot be proven here: those guarantees are covered by contract tests on the calls
we make (COMPLIANCE mode, Content-MD5, never the bypass header).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto")
from botocore.exceptions import ClientError  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from ramparts.audit.ship import (  # noqa: E402
    Cursor,
    PermanentSinkError,
    ShipItem,
    Shipper,
    TransientSinkError,
)
from ramparts.audit.ship_sources import MemorySource  # noqa: E402
from ramparts.audit.sinks.aws import FirehoseSink, S3Sink, chunks  # noqa: E402

NOW = datetime.datetime(2026, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


_counter = iter(range(10**6))


def _bucket(s3: Any, *, lock: bool = True) -> str:
    name = f"audit-{'lock' if lock else 'plain'}-{next(_counter)}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    return name


def _source(n: int) -> MemorySource:
    src = MemorySource("host-1")
    for i in range(n):
        src.append(json.dumps({"i": i, "text": "é"}, ensure_ascii=False).encode(), "2026-05-01T12:00:00Z")
    return src


def _ship(src: MemorySource, tmp_path: Path, sinks: list[Any], **kw: Any) -> Any:
    now = [0.0]
    shipper = Shipper(
        src,
        Cursor(tmp_path / "ship.db"),
        sinks,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        **kw,
    )
    return shipper.run(until_idle=True)


# -- S3 -----------------------------------------------------------------------------------------------------


def test_s3_objects_land_locked_in_compliance_mode(moto_endpoint: str, tmp_path: Path) -> None:
    s3 = _client("s3", moto_endpoint)
    bucket = _bucket(s3)
    src = _source(3)
    src.set_checkpoint("origin\n3\nroot=\n\n— key sig\n")
    sink = S3Sink.from_options(
        "archive",
        {"bucket": bucket, "prefix": "ramparts/", "retention_days": 30, "endpoint_url": moto_endpoint},
    )
    sink.now = lambda: NOW
    report = _ship(src, tmp_path, [sink], checkpoint_sinks=["archive"])
    assert report.ok, report.errors
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    cp_digest = hashlib.sha256(src.checkpoint.body).hexdigest()[:16]  # type: ignore[union-attr]
    assert keys == [
        "ramparts/host-1/000000000001.json",
        "ramparts/host-1/000000000002.json",
        "ramparts/host-1/000000000003.json",
        f"ramparts/host-1/checkpoints/000000000003-{cp_digest}.txt",
    ]
    head = s3.head_object(Bucket=bucket, Key="ramparts/host-1/000000000002.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == NOW + datetime.timedelta(days=30)
    assert head["Metadata"] == {"log-id": "host-1", "seq": "2", "kind": "record"}
    body = s3.get_object(Bucket=bucket, Key="ramparts/host-1/000000000002.json")["Body"].read()
    assert body == src.items[1].body  # the record's bytes, exactly
    note = s3.get_object(Bucket=bucket, Key=keys[3])["Body"].read()
    assert note == src.checkpoint.body  # type: ignore[union-attr]


def test_s3_locked_versions_cannot_be_deleted_or_replaced(moto_endpoint: str) -> None:
    """Enforced by moto: a versioned DELETE of a COMPLIANCE version is AccessDenied; a PUT to the same
    key (our idempotent re-send) only adds a version, the original stays readable."""
    s3 = _client("s3", moto_endpoint)
    bucket = _bucket(s3)
    sink = S3Sink("archive", s3, bucket, retention_days=1)
    item = ShipItem("host-1", 1, "record", b'{"a":1}')
    sink.send([item])
    key = sink.key(item)
    first = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=first)
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": first}]})
    assert result["Errors"][0]["Code"] == "AccessDenied"
    sink.send([item])  # a duplicate delivery
    s3.put_object(Bucket=bucket, Key=key, Body=b"tampered")  # an overwrite attempt
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 3
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=first)["Body"].read() == b'{"a":1}'


def test_s3_refuses_a_bucket_without_object_lock(moto_endpoint: str, tmp_path: Path) -> None:
    s3 = _client("s3", moto_endpoint)
    bucket = _bucket(s3, lock=False)
    with pytest.raises(PermanentSinkError, match="GetObjectLockConfiguration"):
        S3Sink("archive", s3, bucket, retention_days=1)
    sink = S3Sink.from_options(
        "archive", {"bucket": bucket, "retention_days": 1, "endpoint_url": moto_endpoint}
    )
    report = _ship(_source(1), tmp_path, [sink])
    assert "ObjectLockConfigurationNotFoundError" in report.errors["archive"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_s3_refuses_a_lock_configuration_that_is_not_enabled() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("get_object_lock_configuration", {"ObjectLockConfiguration": {}}, {"Bucket": "bkt"})
        with pytest.raises(PermanentSinkError, match="does not have Object Lock enabled"):
            S3Sink("archive", s3, "bkt", retention_days=1)


def test_s3_requests_carry_compliance_md5_and_never_the_bypass_header(moto_endpoint: str) -> None:
    """A contract test: moto cannot prove WORM, so check what we send."""
    s3 = _client("s3", moto_endpoint)
    bucket = _bucket(s3)
    seen: list[tuple[str, dict[str, str]]] = []

    def capture(request: Any, **_: Any) -> None:
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        seen.append((request.method, headers))

    s3.meta.events.register("before-send.s3", capture)
    sink = S3Sink("archive", s3, bucket, retention_days=7, now=lambda: NOW)
    body = b'{"a":"\xc3\xa9"}'
    sink.send([ShipItem("host-1", 1, "record", body), ShipItem("host-1", 1, "checkpoint", b"o\n1\nr\n")])
    puts = [h for method, h in seen if method == "PUT"]
    assert len(puts) == 2
    for headers in seen:
        assert not any("bypass" in name for name in headers[1])
    assert puts[0]["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert puts[0]["x-amz-object-lock-retain-until-date"].startswith("2026-05-08T12:00:00")
    assert puts[0]["content-md5"] == base64.b64encode(hashlib.md5(body).digest()).decode()
    governance = S3Sink.from_options(
        "g",
        {
            "bucket": bucket,
            "retention_days": 1,
            "endpoint_url": moto_endpoint,
            "unsafe_governance_mode": True,
        },
    )
    assert governance.mode == "GOVERNANCE"


def test_s3_unreachable_endpoint_is_transient() -> None:
    s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    with pytest.raises(TransientSinkError, match="GetObjectLockConfiguration"):
        S3Sink("archive", s3, "bucket-x", retention_days=1)


# -- Firehose ------------------------------------------------------------------------------------------------


def test_firehose_delivers_envelopes_through_moto(moto_endpoint: str, tmp_path: Path) -> None:
    s3 = _client("s3", moto_endpoint)
    bucket = _bucket(s3, lock=False)
    firehose = _client("firehose", moto_endpoint)
    firehose.create_delivery_stream(
        DeliveryStreamName="audit-stream",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "fh/",
        },
    )
    sink = FirehoseSink.from_options("stream", {"stream": "audit-stream", "endpoint_url": moto_endpoint})
    src = _source(4)
    assert _ship(src, tmp_path, [sink]).ok
    lines = []
    for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        lines += s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines()
    items = [json.loads(line) for line in lines]
    assert [(i["log_id"], i["seq"], i["kind"]) for i in items] == [
        ("host-1", n, "record") for n in (1, 2, 3, 4)
    ]
    assert items[0]["record"] == {"i": 0, "text": "é"}


def test_firehose_missing_stream_is_permanent(moto_endpoint: str) -> None:
    sink = FirehoseSink.from_options("stream", {"stream": "no-such-stream", "endpoint_url": moto_endpoint})
    with pytest.raises(PermanentSinkError, match="ResourceNotFoundException"):
        sink.send([ShipItem("host-1", 1, "record", b"{}")])


def _records(src: MemorySource, seqs: list[int]) -> list[dict[str, bytes]]:
    from ramparts.audit.sinks import envelope

    return [{"Data": envelope(src.items[s - 1]) + b"\n"} for s in seqs]


def _ok(n: int) -> dict[str, Any]:
    return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": f"r{i}"} for i in range(n)]}


def test_firehose_partial_failure_retries_only_the_failed_records(tmp_path: Path) -> None:
    client = boto3.client("firehose", region_name="us-east-1")
    src = _source(5)
    with Stubber(client) as stub:
        stub.add_response(
            "put_record_batch",
            {
                "FailedPutCount": 2,
                "RequestResponses": [
                    {"RecordId": "a"},
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"},
                    {"RecordId": "c"},
                    {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"},
                    {"RecordId": "e"},
                ],
            },
            {"DeliveryStreamName": "s", "Records": _records(src, [1, 2, 3, 4, 5])},
        )
        stub.add_response(
            "put_record_batch", _ok(2), {"DeliveryStreamName": "s", "Records": _records(src, [2, 4])}
        )
        report = _ship(src, tmp_path, [FirehoseSink("stream", client, "s")])
        stub.assert_no_pending_responses()
    assert report.ok
    assert Cursor(tmp_path / "ship.db").get("stream", "host-1").seq == 5


def test_firehose_whole_call_errors(tmp_path: Path) -> None:
    client = boto3.client("firehose", region_name="us-east-1")
    sink = FirehoseSink("stream", client, "s")
    item = ShipItem("host-1", 1, "record", b"{}")
    with Stubber(client) as stub:
        stub.add_client_error("put_record_batch", "ServiceUnavailableException", http_status_code=503)
        with pytest.raises(TransientSinkError, match="ServiceUnavailableException"):
            sink.send([item])
        stub.add_client_error("put_record_batch", "InvalidArgumentException", http_status_code=400)
        with pytest.raises(PermanentSinkError, match="InvalidArgumentException"):
            sink.send([item])
    with pytest.raises(PermanentSinkError, match="1000 KiB"):
        sink.send([ShipItem("host-1", 2, "record", json.dumps({"x": "a" * 1_100_000}).encode())])


def test_firehose_splits_calls_at_500_records_and_4_mib(tmp_path: Path) -> None:
    assert chunks([b"x"] * 1200) == [(0, 500), (500, 1000), (1000, 1200)]
    big = [b"y" * (900 * 1024)] * 10  # 4 MiB holds four of these
    assert chunks(big) == [(0, 4), (4, 8), (8, 10)]
    assert chunks([]) == []
    client = boto3.client("firehose", region_name="us-east-1")
    src = _source(3)
    with Stubber(client) as stub:
        stub.add_response("put_record_batch", _ok(3))
        FirehoseSink("stream", client, "s").send(src.items)
        stub.assert_no_pending_responses()


def test_firehose_error_after_an_accepted_chunk_returns_only_the_rest() -> None:
    client = boto3.client("firehose", region_name="us-east-1")
    src = MemorySource("host-1")
    for _ in range(600):
        src.append(b"{}")
    with Stubber(client) as stub:
        stub.add_response("put_record_batch", _ok(500))
        stub.add_client_error("put_record_batch", "ServiceUnavailableException", http_status_code=503)
        left = FirehoseSink("stream", client, "s").send(src.items)
    assert [i.seq for i in left] == list(range(501, 601))
