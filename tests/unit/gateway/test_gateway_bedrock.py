"""The Bedrock upstream's sans-IO parts: routing, translation, SigV4 (checked against botocore's own
client and an independent recomputation), the event stream decoder, error mapping, configuration."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import RefreshableCredentials
from botocore.eventstream import EventStreamBuffer

from ramparts.errors import PolicyError
from ramparts.gateway.bedrock import (
    ANTHROPIC_VERSION,
    BedrockConfig,
    EventStreamDecoder,
    EventStreamError,
    bedrock_error,
    betas,
    count_tokens_body,
    error_from_response,
    model_url,
    sanitize,
    sign,
    translate_body,
)
from ramparts.gateway.upstream import BedrockCredentialsError, BedrockUpstream
from ramparts.policy.load import compile_policy
from ramparts.policy.types import BedrockSettings, policy_from_json, policy_to_json
from ramparts.testing.bedrock import (
    TEST_CREDENTIALS,
    ScriptedBedrockServer,
    chunk_frame,
    eventstream_frame,
    exception_frame,
)

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-v1:0"
CONFIG = BedrockConfig(
    region="us-east-1",
    models=(("claude-sonnet-4-5*", SONNET), ("claude-opus-*", PROFILE_ARN)),
)


# -- routing and translation --------------------------------------------------------------------------


def test_route_first_matching_glob_wins_and_others_stay_with_anthropic() -> None:
    assert CONFIG.route("claude-sonnet-4-5") == SONNET
    assert CONFIG.route("claude-sonnet-4-5-20250929") == SONNET
    assert CONFIG.route("claude-opus-4-1") == PROFILE_ARN
    assert CONFIG.route("claude-haiku-4-5") is None
    assert CONFIG.route(None) is None and CONFIG.route(7) is None
    config = BedrockConfig("eu-west-1", (("claude-*", "a.b"), ("claude-opus-*", "c.d")))
    assert config.route("claude-opus-4-1") == "a.b"  # file order, not specificity
    assert config.endpoint == "https://bedrock-runtime.eu-west-1.amazonaws.com"
    assert BedrockConfig("cn-north-1", (("x", "a.b"),)).endpoint.endswith(".amazonaws.com.cn")
    assert BedrockConfig("us-east-1", (("x", "a.b"),), "http://127.0.0.1:9/").endpoint == "http://127.0.0.1:9"
    assert BedrockConfig("us-east-1", (("claude-x", "a.b"), ("c-*", "d.e"))).literal_models() == ["claude-x"]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"region": "mars"}, "AWS region"),
        ({"models": ()}, "at least one"),
        ({"models": (("c", "bad id!"),)}, "Bedrock model id"),
        ({"models": (("", "a.b"),)}, "empty"),
        ({"endpoint_url": "ftp://x"}, "http(s) URL"),
        ({"endpoint_url": "http://x/?a=1"}, "http(s) URL"),
    ],
)
def test_config_rejects_what_bedrock_would_not_take(kwargs: dict[str, Any], needle: str) -> None:
    base: dict[str, Any] = {"region": "us-east-1", "models": (("c*", "a.b"),)}
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        BedrockConfig(**{**base, **kwargs})


def test_translation_is_the_bedrock_sdks() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "stream": True,
        "max_tokens": 100,
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 50},
    }
    out = translate_body(
        body, betas(["claude-code-20250219, interleaved-thinking-2025-05-14", "x,claude-code-20250219"])
    )
    assert out == {
        "max_tokens": 100,
        "system": [{"type": "text", "text": "s"}],
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 50},
        "anthropic_version": ANTHROPIC_VERSION,
        "anthropic_beta": ["claude-code-20250219", "interleaved-thinking-2025-05-14", "x"],
    }
    assert body["model"] == "claude-sonnet-4-5" and body["stream"] is True  # the input is untouched
    assert out["messages"] is body["messages"]  # not copied deeply: the masked objects go as they are
    # a body that already says which version / betas keeps them; no header, no beta list
    kept = translate_body({"anthropic_version": "v", "anthropic_beta": ["b"], "messages": []}, ["c"])
    assert kept == {"anthropic_version": "v", "anthropic_beta": ["b"], "messages": []}
    assert "anthropic_beta" not in translate_body({"messages": []}, [])


def _botocore_wire(operation: str, **params: Any) -> Any:
    """What botocore's own bedrock-runtime client would send (captured before it leaves)."""
    import botocore.session

    client = botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id=TEST_CREDENTIALS.access_key,
        aws_secret_access_key=TEST_CREDENTIALS.secret_key,
        aws_session_token=TEST_CREDENTIALS.token,
    )
    captured: list[Any] = []

    class Stop(Exception):
        pass

    def before_send(request: Any, **_kw: Any) -> None:
        captured.append(request)
        raise Stop

    client.meta.events.register("before-send", before_send)
    with pytest.raises(Stop):
        getattr(client, operation)(**params)
    return captured[0]


@pytest.mark.parametrize("model_id", [SONNET, PROFILE_ARN])
def test_urls_and_count_tokens_body_match_botocores_client(model_id: str) -> None:
    endpoint = "http://127.0.0.1:1"
    wire = _botocore_wire("invoke_model", modelId=model_id, body=b"{}")
    assert model_url(endpoint, model_id, "invoke") == wire.url
    wire = _botocore_wire("invoke_model_with_response_stream", modelId=model_id, body=b"{}")
    assert model_url(endpoint, model_id, "invoke-with-response-stream") == wire.url
    inner = b'{"anthropic_version":"bedrock-2023-05-31","messages":[]}'
    wire = _botocore_wire("count_tokens", modelId=model_id, input={"invokeModel": {"body": inner}})
    assert model_url(endpoint, model_id, "count-tokens") == wire.url
    assert json.loads(count_tokens_body(inner)) == json.loads(wire.body)


def test_signature_verifies_independently_and_covers_body_path_and_key() -> None:
    server = ScriptedBedrockServer()  # not started: only its verifier is used
    url = model_url("http://127.0.0.1:4567", SONNET, "invoke")
    path = url[len("http://127.0.0.1:4567") :]
    body = b'{"anthropic_version":"bedrock-2023-05-31","messages":[]}'
    headers = sign("POST", url, body, {"Content-Type": "application/json"}, TEST_CREDENTIALS, "us-east-1")
    assert headers["X-Amz-Security-Token"] == TEST_CREDENTIALS.token
    assert (
        headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={TEST_CREDENTIALS.access_key}/")
        and "/us-east-1/bedrock/aws4_request" in headers["Authorization"]
    )
    received = {**headers, "Host": "127.0.0.1:4567"}
    assert server.verify("POST", path, received, body) is None
    assert server.verify("POST", path, received, body + b" ")[0] == "InvalidSignatureException"  # type: ignore[index]
    assert server.verify("POST", path.replace("invoke", "count-tokens"), received, body) is not None
    assert server.verify("POST", path, {**received, "Host": "127.0.0.1:1"}, body) is not None
    assert server.verify("POST", path, {"Host": "h"}, body) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
    wrong = TEST_CREDENTIALS.__class__(TEST_CREDENTIALS.access_key, "not-the-secret", TEST_CREDENTIALS.token)
    bad = sign("POST", url, body, {}, wrong, "us-east-1")
    assert (
        server.verify("POST", path, {**bad, "Host": "127.0.0.1:4567"}, body)[0] == "InvalidSignatureException"
    )  # type: ignore[index]
    other = sign("POST", url, body, {}, TEST_CREDENTIALS, "eu-west-1")
    assert server.verify("POST", path, {**other, "Host": "127.0.0.1:4567"}, body) is not None


def test_refreshable_credentials_are_read_again_per_request() -> None:
    issued = iter(range(1, 100))

    def refresh() -> dict[str, str]:
        n = next(issued)
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)  # always stale
        return {
            "access_key": f"ASIAREFRESHED{n:07d}",
            "secret_key": "s",
            "token": f"token-{n}",
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    upstream = BedrockUpstream(CONFIG, credentials=credentials)
    first = upstream.signed("invoke", SONNET, b"{}")
    second = upstream.signed("invoke", SONNET, b"{}")
    keys = [h["Authorization"].split("Credential=")[1].split("/")[0] for _u, h, _s in (first, second)]
    assert keys[0] != keys[1] and all(k.startswith("ASIAREFRESHED") for k in keys)
    assert first[2] == (keys[0], first[1]["X-Amz-Security-Token"])  # what error messages are scrubbed of


def test_no_credentials_is_an_error_naming_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    with pytest.raises(BedrockCredentialsError, match="no AWS credentials"):
        BedrockUpstream(CONFIG).signed("invoke", SONNET, b"{}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secret_key)
    _url, headers, _s = BedrockUpstream(CONFIG).signed("invoke-with-response-stream", SONNET, b"{}")
    assert TEST_CREDENTIALS.access_key in headers["Authorization"]
    assert headers["X-Amzn-Bedrock-Accept"] == "application/json"
    assert TEST_CREDENTIALS.secret_key not in json.dumps(headers)


# -- the event stream ---------------------------------------------------------------------------------


def test_frame_encoder_round_trips_through_botocore() -> None:
    frames = [
        eventstream_frame({":message-type": "event", ":event-type": "chunk"}, b'{"bytes":"e30="}'),
        eventstream_frame({":message-type": "event", "ünïcode": "välue"}, b""),
        eventstream_frame({}, b"x" * 70000),
    ]
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(frames))
    messages = list(buffer)
    assert [m.headers for m in messages] == [
        {":message-type": "event", ":event-type": "chunk"},
        {":message-type": "event", "ünïcode": "välue"},
        {},
    ]
    assert [m.payload for m in messages] == [b'{"bytes":"e30="}', b"", b"x" * 70000]
    assert [m.prelude.total_length for m in messages] == [len(f) for f in frames]


EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 5, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "héllo"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 5}},
]


def test_decoder_turns_chunks_into_sse_events_whatever_the_split() -> None:
    stream = b"".join(chunk_frame(e) for e in EVENTS)
    expected = [{k: v for k, v in e.items() if k != "amazon-bedrock-invocationMetrics"} for e in EVENTS]
    for size in (1, 3, 7, 64, len(stream)):
        decoder = EventStreamDecoder()
        got = [e for i in range(0, len(stream), size) for e in decoder.feed(stream[i : i + size])]
        assert decoder.pending() == b""
        assert [e.event for e in got] == [e["type"] for e in EVENTS]
        assert [json.loads(e.data or "") for e in got] == expected
        assert decoder.error is None


def test_decoder_ignores_other_events_and_stops_at_an_exception_frame() -> None:
    stream = (
        eventstream_frame({":message-type": "event", ":event-type": "initial-response"}, b"{}")
        + chunk_frame(EVENTS[0])
        + exception_frame("throttlingException", "Too many tokens, please wait before trying again.")
        + chunk_frame(EVENTS[1])
    )
    decoder = EventStreamDecoder()
    got = decoder.feed(stream)
    assert [e.event for e in got] == ["message_start", "error"]
    assert json.loads(got[1].data or "") == {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Amazon Bedrock ThrottlingException: Too many tokens, please wait before trying again.",
        },
    }
    assert decoder.error is not None and decoder.error.status == 429
    assert decoder.feed(chunk_frame(EVENTS[2])) == [] and decoder.pending() == b""
    generic = EventStreamDecoder()
    error = eventstream_frame(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "x"}, b""
    )
    assert json.loads(generic.feed(error)[0].data or "")["error"]["type"] == "api_error"


@pytest.mark.parametrize(
    ("stream", "needle"),
    [
        (chunk_frame(EVENTS[0])[:-1] + b"\0", "malformed"),  # message CRC
        (b"\0\0\0\x20\0\0\0\0\0\0\0\0" + b"\0" * 20, "malformed"),  # prelude CRC
        (eventstream_frame({":message-type": "event", ":event-type": "chunk"}, b'{"bytes":"!!"}'), "base64"),
        (
            eventstream_frame(
                {":message-type": "event", ":event-type": "chunk"},
                json.dumps({"bytes": base64.b64encode(b'{"type":"x\\ny"}').decode()}).encode(),
            ),
            "not a Messages stream event",
        ),
        (eventstream_frame({":message-type": "surprise"}, b""), "unknown message type"),
    ],
)
def test_decoder_rejects_broken_input(stream: bytes, needle: str) -> None:
    with pytest.raises(EventStreamError, match=needle):
        EventStreamDecoder().feed(stream)


def test_decoder_is_bounded_and_a_cut_frame_is_an_error() -> None:
    big = chunk_frame({"type": "content_block_delta", "delta": {"text": "x" * 5000}})
    decoder = EventStreamDecoder(max_frame_bytes=1000)
    with pytest.raises(EventStreamError, match="over 1000 bytes"):
        for i in range(0, len(big), 100):
            decoder.feed(big[i : i + 100])
    cut = EventStreamDecoder()
    assert cut.feed(chunk_frame(EVENTS[0])[:20]) == []
    with pytest.raises(EventStreamError, match="ended inside a frame"):
        cut.pending()


# -- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aws_type", "status", "expected"),
    [
        ("ValidationException", 400, (400, "invalid_request_error")),
        ("AccessDeniedException", 403, (403, "permission_error")),
        ("UnrecognizedClientException", 403, (403, "permission_error")),
        ("ResourceNotFoundException", 404, (404, "not_found_error")),
        ("ThrottlingException", 429, (429, "rate_limit_error")),
        ("ServiceQuotaExceededException", 400, (429, "rate_limit_error")),
        ("ModelTimeoutException", 408, (504, "timeout_error")),
        ("ServiceUnavailableException", 503, (529, "overloaded_error")),
        ("ModelNotReadyException", 429, (529, "overloaded_error")),
        ("InternalServerException", 500, (500, "api_error")),
        ("ModelStreamErrorException", 424, (500, "api_error")),
        ("ModelErrorException", 424, (500, "api_error")),
        ("validationException", None, (400, "invalid_request_error")),  # an event stream's spelling
        ("com.amazon.coral.service#UnrecognizedClientException", 403, (403, "permission_error")),
        ("SomethingNew", 503, (529, "overloaded_error")),
        (None, 418, (400, "invalid_request_error")),
        (None, 500, (502, "api_error")),
    ],
)
def test_bedrock_errors_map_to_anthropic_errors(
    aws_type: str | None, status: int | None, expected: tuple[int, str]
) -> None:
    error = bedrock_error(aws_type, "the message", status)
    assert (error.status, error.kind) == expected
    assert error.body()["type"] == "error" and error.body()["error"]["type"] == expected[1]


def test_error_messages_never_carry_credentials_arns_or_account_ids() -> None:
    canonical = (
        "The request signature we calculated does not match the signature you provided.\n\n"
        f"The Canonical String for this request should have been\n'x-amz-security-token:{TEST_CREDENTIALS.token}'"
    )
    error = error_from_response(
        403,
        {
            "x-amzn-ErrorType": "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/"
        },
        json.dumps({"message": canonical}).encode(),
    )
    assert (error.status, error.kind) == (403, "permission_error")
    assert "Canonical" not in error.message and TEST_CREDENTIALS.token not in error.message  # type: ignore[operator]
    denied = error_from_response(
        403,
        {"x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
        json.dumps(
            {
                "Message": "User: arn:aws:sts::123456789012:assumed-role/gw/i-1 is not authorized to perform: "
                f"bedrock:InvokeModel on resource: {PROFILE_ARN} ({TEST_CREDENTIALS.access_key})"
            }
        ).encode(),
        secrets=(TEST_CREDENTIALS.access_key,),
    )
    assert denied.message.startswith(
        "Amazon Bedrock AccessDeniedException: User: arn:[redacted] is not authorized"
    )
    for leak in ("123456789012", "assumed-role", TEST_CREDENTIALS.access_key):
        assert leak not in denied.message
    assert sanitize("a" * 5000) == "a" * 1000
    plain = error_from_response(400, {}, b"not json")
    assert plain.message == "Amazon Bedrock HTTP 400: no message" and plain.kind == "invalid_request_error"
    typed = error_from_response(
        400, {}, json.dumps({"__type": "ValidationException", "message": "m"}).encode()
    )
    assert typed.message == "Amazon Bedrock ValidationException: m"


# -- the policy section and the CLI ---------------------------------------------------------------------

SECTION = f"""version: 1
gateway:
  models: ["claude-*"]
  bedrock:
    region: us-east-1
    endpoint_url: http://127.0.0.1:9/
    models:
      claude-sonnet-4-5*: {SONNET}
      "claude-opus-*": {PROFILE_ARN}
"""


def test_policy_section_compiles_round_trips_and_builds_the_config() -> None:
    from ramparts.cli.gateway import gateway_options

    policy = compile_policy(SECTION.encode(), "p.yaml")
    assert policy.gateway.bedrock == BedrockSettings(
        "us-east-1", (("claude-sonnet-4-5*", SONNET), ("claude-opus-*", PROFILE_ARN)), "http://127.0.0.1:9"
    )
    assert policy_from_json(json.loads(json.dumps(policy_to_json(policy)))) == policy
    assert compile_policy(b"version: 1\n", "p.yaml").gateway.bedrock is None
    options = gateway_options(policy.gateway)
    assert options["bedrock"] == BedrockConfig(
        "us-east-1", (("claude-sonnet-4-5*", SONNET), ("claude-opus-*", PROFILE_ARN)), "http://127.0.0.1:9"
    )
    # a later layer replaces the section as a whole; null removes it
    layered = compile_policy(b"version: 1\nextends: baseline\ngateway:\n  bedrock: null\n", "p.yaml")
    assert layered.gateway.bedrock is None and layered.gateway.models == ("claude-*",)


@pytest.mark.parametrize(
    ("section", "where", "needle"),
    [
        ("    region: mars\n    models: {a: b.c}\n", "4:13", "'mars' is not an AWS region name"),
        ("    region: us-east-1\n    models:\n      a: 'no spaces'\n", "6:10", "is not a Bedrock model id"),
        ("    region: us-east-1\n", "4:5", "'models' is a required property"),
        ("    region: us-east-1\n    models: {}\n", "5:13", "should be non-empty"),
        (
            "    region: us-east-1\n    endpoint_url: ftp://x\n    models: {a: b}\n",
            "5:19",
            "is not an http(s) URL",
        ),
        ("    region: us-east-1\n    model: {a: b}\n", "5:5", "unknown key 'gateway.bedrock.model'"),
    ],
)
def test_policy_section_errors_name_their_line(section: str, where: str, needle: str) -> None:
    with pytest.raises(PolicyError) as info:
        compile_policy(f"version: 1\ngateway:\n  bedrock:\n{section}".encode(), "p.yaml")
    assert f"p.yaml:{where}: " in str(info.value)
    assert needle in str(info.value)


def test_cli_flags_build_or_override_the_bedrock_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    from tests.unit.policy.test_policy_gateway import _captured_config

    state = str(tmp_path / "state")
    base = ["gateway", "--state-dir", state, "--upstream", "http://127.0.0.1:7"]
    code, config = _captured_config(
        monkeypatch, [*base, "--bedrock-region", "eu-west-1", "--bedrock-model", f"claude-sonnet-*={SONNET}"]
    )
    assert code == 0 and config is not None and config.bedrock is not None
    assert config.bedrock.route("claude-sonnet-4-5") == SONNET and config.bedrock.region == "eu-west-1"
    code, config = _captured_config(monkeypatch, [*base])
    assert code == 0 and config is not None and config.bedrock is None
    policy = tmp_path / "p.yaml"
    policy.write_text(SECTION)
    code, config = _captured_config(
        monkeypatch, [*base, "--policy", str(policy), "--bedrock-region", "us-west-2"]
    )
    assert code == 0 and config is not None and config.bedrock is not None
    assert config.bedrock.region == "us-west-2" and config.bedrock.route("claude-opus-4-1") == PROFILE_ARN
    for bad in (
        ["--bedrock-model", "no-equals"],
        ["--bedrock-model", "a=b.c"],
        ["--bedrock-region", "us-east-1"],
    ):
        code, config = _captured_config(monkeypatch, [*base, *bad])
        assert code == 2 and config is None
    err = capsys.readouterr().err
    assert "GLOB=ID" in err and "need a region" in err and "need models" in err


def test_the_scripted_server_speaks_bedrock_to_botocores_own_client() -> None:
    """Cross-check of the fake: botocore's client signs requests the fake accepts, and parses the
    fake's event stream (frames, chunk payloads, the exception frame) with the service model."""
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import ClientError, EventStreamError

    from ramparts.testing.bedrock import BedrockFault

    body = json.dumps(
        {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        }
    ).encode()
    faults = [
        BedrockFault("throttlingException", "slow down", after=2),
        BedrockFault("ValidationException", "no", 400),
    ]
    clients: list[Any] = []
    with ScriptedBedrockServer(delta_chars=1, split_bytes=9, faults=faults) as server:
        client = botocore.session.get_session().create_client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id=TEST_CREDENTIALS.access_key,
            aws_secret_access_key=TEST_CREDENTIALS.secret_key,
            aws_session_token=TEST_CREDENTIALS.token,
            config=Config(retries={"max_attempts": 1}),
        )
        clients.append(client)
        stream = client.invoke_model_with_response_stream(modelId=SONNET, body=body)["body"]
        with pytest.raises(EventStreamError, match="slow down"):
            for _event in stream:
                pass
        stream.close()
        with pytest.raises(ClientError, match="ValidationException"):
            client.invoke_model(modelId=SONNET, body=body)
        stream = client.invoke_model_with_response_stream(modelId=SONNET, body=body)["body"]
        events = [json.loads(part["chunk"]["bytes"]) for part in stream]
        stream.close()
        assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
        assert (
            "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta") == "ok"
        )
        answer = client.invoke_model(modelId=SONNET, body=body)
        assert json.loads(answer["body"].read())["type"] == "message"
        counted = client.count_tokens(modelId=SONNET, input={"invokeModel": {"body": body}})
        assert counted["inputTokens"] >= 1
        assert all(r.signature_ok for r in server.requests) and len(server.requests) == 5
        assert server.requests[-1].body == json.loads(body)
        wrong = botocore.session.get_session().create_client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id=TEST_CREDENTIALS.access_key,
            aws_secret_access_key="wrong",
            aws_session_token=TEST_CREDENTIALS.token,
            config=Config(retries={"max_attempts": 1}),
        )
        clients.append(wrong)
        with pytest.raises(ClientError, match="InvalidSignatureException"):
            wrong.invoke_model(modelId=SONNET, body=body)
    for opened in clients:
        opened.close()  # its connection pool: no socket left for the garbage collector to report


def test_a_refresh_that_fails_is_a_credentials_error_naming_no_value() -> None:
    from botocore.exceptions import ClientError

    def refused() -> dict[str, str]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not for you"}}, "AssumeRole")

    expired = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).isoformat()
    credentials = RefreshableCredentials.create_from_metadata(
        {"access_key": "ASIAOLD", "secret_key": "s", "token": "t", "expiry_time": expired}, refused, "test"
    )
    with pytest.raises(BedrockCredentialsError, match=r"could not be read \(ClientError\)"):
        BedrockUpstream(CONFIG, credentials=credentials).signed("invoke", SONNET, b"{}")
