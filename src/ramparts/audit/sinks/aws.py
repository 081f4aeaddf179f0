"""AWS sinks (boto3, imported here only): S3 with Object Lock, and Kinesis Data Firehose.

S3: one object per item, ``<prefix>/<log_id>/<seq:012d>.json`` holding the record's bytes exactly,
and ``<prefix>/<log_id>/checkpoints/<size:012d>-<sha256[:16]>.txt`` holding a checkpoint note.
Keys are idempotent: sending an item again writes an identical new version. Every PUT carries
``ObjectLockMode=COMPLIANCE`` (GOVERNANCE only with ``unsafe_governance_mode``), a retain-until of
now + ``retention_days`` and ``Content-MD5``; never ``x-amz-bypass-governance-retention``. The
bucket must have Object Lock enabled, checked with ``GetObjectLockConfiguration`` at start.

Firehose: ``PutRecordBatch`` of envelopes (one JSON object and a newline each), at most 500
records and 4 MiB a call; records the service reports failed (``FailedPutCount``, per-record
``ErrorCode``) are returned to the shipper, which retries only those.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..ship import PermanentSinkError, ShipItem, TransientSinkError
from . import envelope

log = logging.getLogger("ramparts.audit.ship")

# error codes that retrying cannot fix; anything else (throttling, 5xx, unknown) is retried
PERMANENT_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "NoSuchBucket",
    "ResourceNotFoundException",
    "InvalidArgumentException",
    "InvalidRequest",
    "ValidationException",
    "InvalidKMSResourceException",
    "ObjectLockConfigurationNotFoundError",
    "MissingUploadObjectWithObjectLockHeaders",
}
FIREHOSE_MAX_RECORDS = 500
FIREHOSE_MAX_BYTES = 4 * 1024 * 1024
FIREHOSE_MAX_RECORD = 1000 * 1024


def _client(service: str, o: Mapping[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=o.get("profile") or None)
    return session.client(
        service,
        region_name=o.get("region") or None,
        endpoint_url=o.get("endpoint_url") or None,
        config=Config(
            retries={"total_max_attempts": 2, "mode": "standard"},  # the shipper does the backing off
            connect_timeout=5,
            read_timeout=15,
        ),
    )


def _translate(name: str, action: str, exc: Exception) -> Exception:
    """botocore's exceptions to ours; the message names the call and the error code only."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "?"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        text = f"sink {name}: {action} failed: {code} (HTTP {status})"
        return PermanentSinkError(text) if code in PERMANENT_CODES else TransientSinkError(text)
    if isinstance(exc, BotoCoreError):
        return TransientSinkError(f"sink {name}: {action} failed: {type(exc).__name__}")
    return exc


class S3Sink:
    def __init__(
        self,
        name: str,
        client: Any,
        bucket: str,
        *,
        retention_days: int,
        prefix: str = "",
        mode: str = "COMPLIANCE",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        check: bool = True,
    ) -> None:
        self.name = name
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retention = timedelta(days=retention_days)
        self.mode = mode
        self.now = now
        self.checked = False
        if check:
            self.check_bucket()

    @classmethod
    def from_options(cls, name: str, o: Mapping[str, Any]) -> S3Sink:
        return cls(
            name,
            _client("s3", o),
            o["bucket"],
            retention_days=int(o["retention_days"]),
            prefix=o.get("prefix", ""),
            mode="GOVERNANCE" if o.get("unsafe_governance_mode") else "COMPLIANCE",
            check=False,  # checked before the first PUT, so a down endpoint is retried, not fatal
        )

    def check_bucket(self) -> None:
        """Refuse a bucket without Object Lock: its objects could be overwritten or deleted."""
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except Exception as exc:
            raise _translate(self.name, f"GetObjectLockConfiguration on {self.bucket}", exc) from exc
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise PermanentSinkError(
                f"sink {self.name}: bucket {self.bucket} does not have Object Lock enabled"
            )
        self.checked = True

    def key(self, item: ShipItem) -> str:
        base = f"{self.prefix}/{item.log_id}" if self.prefix else item.log_id
        if item.kind == "record":
            return f"{base}/{item.seq:012d}.json"
        return f"{base}/checkpoints/{item.seq:012d}-{hashlib.sha256(item.body).hexdigest()[:16]}.txt"

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        if not self.checked:
            self.check_bucket()
        for item in items:
            md5 = base64.b64encode(hashlib.md5(item.body, usedforsecurity=False).digest()).decode()
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(item),
                    Body=item.body,
                    ContentMD5=md5,
                    ContentType="application/json" if item.kind == "record" else "text/plain; charset=utf-8",
                    ObjectLockMode=self.mode,
                    ObjectLockRetainUntilDate=self.now() + self.retention,
                    Metadata={"log-id": item.log_id, "seq": str(item.seq), "kind": item.kind},
                )
            except Exception as exc:
                raise _translate(self.name, f"PutObject seq {item.seq}", exc) from exc
        return []

    def close(self) -> None:
        pass


def chunks(datas: Sequence[bytes]) -> list[tuple[int, int]]:
    """Split into [start, end) runs of at most 500 records and 4 MiB."""
    out: list[tuple[int, int]] = []
    start, size = 0, 0
    for i, data in enumerate(datas):
        if i > start and (i - start >= FIREHOSE_MAX_RECORDS or size + len(data) > FIREHOSE_MAX_BYTES):
            out.append((start, i))
            start, size = i, 0
        size += len(data)
    if start < len(datas):
        out.append((start, len(datas)))
    return out


class FirehoseSink:
    def __init__(self, name: str, client: Any, stream: str) -> None:
        self.name = name
        self.client = client
        self.stream = stream

    @classmethod
    def from_options(cls, name: str, o: Mapping[str, Any]) -> FirehoseSink:
        return cls(name, _client("firehose", o), o["stream"])

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        datas = [envelope(item) + b"\n" for item in items]
        for item, data in zip(items, datas, strict=True):
            if len(data) > FIREHOSE_MAX_RECORD:
                raise PermanentSinkError(
                    f"sink {self.name}: item {item.seq} exceeds Firehose's 1000 KiB limit"
                )
        failed: list[ShipItem] = []
        codes: set[str] = set()
        for start, end in chunks(datas):
            try:
                response = self.client.put_record_batch(
                    DeliveryStreamName=self.stream, Records=[{"Data": d} for d in datas[start:end]]
                )
            except Exception as exc:
                if failed or start:  # earlier chunks went through: retry only what is left
                    error = _translate(self.name, "PutRecordBatch", exc)
                    if isinstance(error, PermanentSinkError):
                        raise error from exc
                    return [*failed, *items[start:]]
                raise _translate(self.name, "PutRecordBatch", exc) from exc
            if response.get("FailedPutCount", 0):
                for item, result in zip(items[start:end], response["RequestResponses"], strict=True):
                    if result.get("ErrorCode"):
                        failed.append(item)
                        codes.add(str(result["ErrorCode"]))
        if failed:
            log.warning(
                "sink %s: Firehose refused %d record(s): %s", self.name, len(failed), ", ".join(sorted(codes))
            )
        return failed

    def close(self) -> None:
        pass
