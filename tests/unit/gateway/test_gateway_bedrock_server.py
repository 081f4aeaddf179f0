"""The gateway with an Amazon Bedrock upstream (the scripted Bedrock runtime on loopback, which checks
every SigV4 signature): masking before signing, restore across event stream frames, per-model routing,
errors in Anthropic's format, credentials kept away from the client. Each test runs its own loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ramparts.audit.record import to_json
from ramparts.gateway.bedrock import BedrockConfig
from ramparts.gateway.limits import utc_day
from ramparts.testing import ToolUse
from ramparts.testing.bedrock import TEST_CREDENTIALS, BedrockFault, ScriptedBedrockServer
from tests.unit.gateway.gateway_harness import (
    Upstream,
    events_of,
    headers,
    post,
    running,
    text_of,
    tool_input,
)
from tests.unit.gateway.test_gateway_server import (
    EMAIL,
    PHONE,
    VALUES,
    audit_records,
    conversation,
    placeholders,
)

pytestmark = pytest.mark.timeout(60)

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SECRETS = (TEST_CREDENTIALS.access_key, TEST_CREDENTIALS.secret_key, TEST_CREDENTIALS.token or "")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The gateway's botocore default chain finds the test credentials in the environment."""
    for name in (
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_CREDENTIALS.env().items():
        monkeypatch.setenv(name, value)
    yield


def copy_step(request: Any) -> ToolUse:
    """The scripted model writes every placeholder it was sent into a file."""
    found = list(dict.fromkeys(placeholders(request.raw)))
    return ToolUse("Write", {"file_path": "backup.txt", "content": " | ".join(found)})


def bedrock_config(server: ScriptedBedrockServer) -> BedrockConfig:
    return BedrockConfig("us-east-1", (("claude-sonnet-4-5*", SONNET),), endpoint_url=server.url)


def assert_no_aws_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_stream_is_masked_signed_and_restored_across_split_frames(tmp_path: Path) -> None:
    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server), daily_tokens=10**6) as (
            gateway,
            url,
            anthropic,
            token,
        ):
            status, hdrs, raw = await post(url, conversation(), headers(token))
            assert status == 200, raw
            assert hdrs["Content-Type"].startswith("text/event-stream")
            assert hdrs["request-id"] == "00000000-0000-4000-8000-000000000200"
            assert anthropic.requests == []  # routed to Bedrock only
            [sent] = server.requests
            assert sent.signature_ok and sent.operation == "invoke-with-response-stream"
            assert sent.model_id == SONNET
            assert (
                sent.path
                == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
            )
            # the masked body, translated: values replaced by placeholders, no model/stream, betas in the body
            for value in VALUES:
                assert value not in server.all_text()
            assert len(set(placeholders(server.all_text()))) == 3
            assert "model" not in sent.body and "stream" not in sent.body
            assert sent.body["anthropic_version"] == "bedrock-2023-05-31"
            assert sent.body["anthropic_beta"] == ["claude-code-20250219", "interleaved-thinking-2025-05-14"]
            assert sent.body["max_tokens"] == 128000
            assert token not in json.dumps(sent.headers) and "Bearer" not in json.dumps(sent.headers)
            # the client: a normal Anthropic stream with the real values restored
            events = events_of(raw)
            kinds = [e["type"] for e in events]
            assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "error" not in kinds
            assert all("amazon-bedrock-invocationMetrics" not in e for e in events)
            content = tool_input(raw)["content"]
            for value in VALUES:
                assert value in content
            assert "RAMPARTS" not in raw.decode()
            assert_no_aws_secret(raw.decode(), json.dumps(dict(hdrs)))
            gateway.audit.flush()
            assert gateway.usage.used("alice", utc_day()) > 0  # the daily budget is charged
        [record] = audit_records(tmp_path)
        gw = record.gateway
        assert gw is not None and gw.usage is not None
        assert gw.upstream == "bedrock" and gw.outcome == "ok" and gw.status == 200
        assert gw.restored >= 3 and gw.masked >= 3
        assert gw.usage["output_tokens"] == 10 and gw.usage["input_tokens"] > 0
        assert_no_aws_secret(json.dumps(to_json(record)))
        for value in VALUES:
            assert value not in json.dumps(to_json(record))

    with ScriptedBedrockServer([copy_step, copy_step], delta_chars=7, split_bytes=5) as server:
        asyncio.run(scenario(server))


def test_non_streaming_invoke_is_restored(tmp_path: Path) -> None:
    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (_g, url, _up, token):
            status, _h, raw = await post(url, conversation(stream=False), headers(token))
            assert status == 200, raw
            message = json.loads(raw)
            assert message["id"].startswith("msg_bdrk_")
            for value in VALUES:
                assert value in message["content"][0]["input"]["content"]
            [sent] = server.requests
            assert sent.operation == "invoke" and sent.signature_ok
            assert EMAIL not in server.all_text()

    with ScriptedBedrockServer([copy_step, copy_step]) as server:
        asyncio.run(scenario(server))


def test_each_model_goes_to_its_upstream(tmp_path: Path) -> None:
    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (gateway, url, anthropic, token):
            for model in ("claude-sonnet-4-5-20250929", "claude-opus-4-1", "claude-sonnet-4-5"):
                status, _h, raw = await post(url, {**conversation(), "model": model}, headers(token))
                assert status == 200, raw
            assert len(server.requests) == 2 and len(anthropic.requests) == 1
            assert anthropic.requests[0].body["model"] == "claude-opus-4-1"
            assert anthropic.requests[0].headers["x-api-key"] == "sk-upstream-secret-key"
            assert "Authorization" not in anthropic.requests[0].headers  # no AWS signature there
            for request in server.requests:
                assert "x-api-key" not in {k.lower() for k in request.headers}  # nor the Anthropic key here
            gateway.audit.flush()
        assert [r.gateway.upstream for r in audit_records(tmp_path)] == ["bedrock", "", "bedrock"]

    with ScriptedBedrockServer() as server:
        asyncio.run(scenario(server))


def test_a_bad_signature_is_an_anthropic_403_without_aws_internals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-key")

    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (gateway, url, _up, token):
            status, _h, raw = await post(url, conversation(), headers(token))
            assert status == 403
            error = json.loads(raw)
            assert error["type"] == "error" and error["error"]["type"] == "permission_error"
            assert "InvalidSignatureException" in error["error"]["message"]
            assert "Canonical" not in raw.decode()
            assert_no_aws_secret(raw.decode())
            assert "not-the-right-secret-key" not in raw.decode()
            [sent] = server.requests
            assert not sent.signature_ok
            gateway.audit.flush()
        record = audit_records(tmp_path)[-1]
        assert (record.gateway.status, record.gateway.upstream_status, record.gateway.outcome) == (
            403,
            403,
            "upstream_status",
        )
        assert_no_aws_secret(json.dumps(to_json(record)))

    with ScriptedBedrockServer() as server:
        asyncio.run(scenario(server))


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        (BedrockFault("ThrottlingException", "Too many requests", 429), 429, "rate_limit_error"),
        (
            BedrockFault("ValidationException", "Input is too long for requested model.", 400),
            400,
            "invalid_request_error",
        ),
        (BedrockFault("ServiceUnavailableException", "busy", 503), 529, "overloaded_error"),
        (
            BedrockFault(
                "AccessDeniedException", "User: arn:aws:iam::123456789012:user/x is not authorized", 403
            ),
            403,
            "permission_error",
        ),
    ],
)
def test_http_errors_become_anthropic_errors(
    tmp_path: Path, fault: BedrockFault, status: int, kind: str
) -> None:
    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (_g, url, _up, token):
            got, _h, raw = await post(url, conversation(), headers(token))
            error = json.loads(raw)
            assert (got, error["type"], error["error"]["type"]) == (status, "error", kind)
            assert error["error"]["message"].startswith(f"Amazon Bedrock {fault.error_type}: ")
            assert "123456789012" not in raw.decode()

    with ScriptedBedrockServer(faults=[fault]) as server:
        asyncio.run(scenario(server))


@pytest.mark.parametrize(
    ("exception", "kind"),
    [("modelStreamErrorException", "api_error"), ("throttlingException", "rate_limit_error")],
)
def test_exception_mid_stream_ends_with_an_sse_error_event(tmp_path: Path, exception: str, kind: str) -> None:
    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (gateway, url, _up, token):
            status, _h, raw = await post(url, conversation(), headers(token))
            assert status == 200
            events = events_of(raw)
            assert [e["type"] for e in events[:2]] == ["message_start", "content_block_start"]
            assert events[-1] == {
                "type": "error",
                "error": {
                    "type": kind,
                    "message": f"Amazon Bedrock {exception[0].upper() + exception[1:]}: it broke",
                },
            }
            # the text that was held back (a placeholder's possible beginning) is flushed before the error
            assert text_of(raw) == "Writing [["
            gateway.audit.flush()
        record = audit_records(tmp_path)[-1]
        assert record.gateway is not None
        assert record.gateway.outcome == "upstream_error" and record.gateway.status == 200

    with ScriptedBedrockServer(
        ["Writing [[RAMPARTS:EMAIL:0123abcd]] and more"] * 2,
        delta_chars=5,
        faults=[BedrockFault(exception, "it broke", after=4)],
    ) as server:
        asyncio.run(scenario(server))


def test_count_tokens_goes_to_bedrock_masked(tmp_path: Path) -> None:
    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (gateway, url, anthropic, token):
            body = conversation()
            del body["stream"]
            status, _h, raw = await post(
                url, body, headers(token), path="/v1/messages/count_tokens?beta=true"
            )
            assert status == 200, raw
            answer = json.loads(raw)
            assert list(answer) == ["input_tokens"] and answer["input_tokens"] > 10
            [sent] = server.requests
            assert sent.operation == "count-tokens" and sent.signature_ok
            assert sent.body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in sent.body
            assert EMAIL not in server.all_text() and PHONE not in server.all_text()
            assert len(set(placeholders(server.all_text()))) == 3
            assert anthropic.requests == []
            gateway.audit.flush()
        record = audit_records(tmp_path)[-1]
        assert (record.gateway.route, record.gateway.upstream, record.gateway.status) == (
            "/v1/messages/count_tokens",
            "bedrock",
            200,
        )

    with ScriptedBedrockServer() as server:
        asyncio.run(scenario(server))


def test_without_aws_credentials_nothing_is_sent_and_the_client_gets_an_api_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)

    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (_g, url, _up, token):
            status, _h, raw = await post(url, conversation(), headers(token))
            assert status == 500
            error = json.loads(raw)["error"]
            assert error["type"] == "api_error" and "no AWS credentials" in error["message"]
            assert server.requests == []

    with ScriptedBedrockServer() as server:
        asyncio.run(scenario(server))


def test_unreachable_bedrock_is_502(tmp_path: Path) -> None:
    async def scenario() -> None:
        config = BedrockConfig("us-east-1", (("claude-*", SONNET),), endpoint_url="http://127.0.0.1:9")
        async with running(tmp_path, bedrock=config) as (_g, url, _up, token):
            status, _h, raw = await post(url, conversation(), headers(token))
            assert status == 502 and json.loads(raw)["error"]["type"] == "api_error"

    asyncio.run(scenario())


def test_models_listing_names_the_literal_bedrock_models(tmp_path: Path) -> None:
    async def handler(request: Any, up: Upstream) -> Any:
        from aiohttp import web

        return web.json_response({"data": [{"id": "claude-opus-4-1"}], "has_more": False})

    async def scenario() -> None:
        config = BedrockConfig(
            "us-east-1", (("claude-sonnet-4-5", SONNET), ("claude-haiku-*", "a.b"), ("gpt-x", "c.d"))
        )
        async with (
            running(tmp_path, Upstream(handler=handler), bedrock=config, models=("claude-*",)) as (
                _g,
                url,
                _u,
                token,
            ),
            aiohttp.ClientSession() as client,
            client.get(url + "/v1/models", headers=headers(token)) as response,
        ):
            ids = [m["id"] for m in (await response.json())["data"]]
            assert ids == ["claude-opus-4-1", "claude-sonnet-4-5"]

    asyncio.run(scenario())


def test_silences_get_pings_and_a_client_disconnect_ends_the_bedrock_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ramparts.gateway import upstream as upstream_module

    monkeypatch.setattr(upstream_module, "PING_INTERVAL", 0.05)

    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (gateway, url, _up, token):
            status, _h, raw = await post(url, conversation(), headers(token))
            assert status == 200
            kinds = [e["type"] for e in events_of(raw)]
            assert "ping" in kinds
            real = [k for k in kinds if k != "ping"]  # pings may come anywhere, as Anthropic's do
            assert real[0] == "message_start" and real[-1] == "message_stop"
            assert text_of(raw) == "quiet"
            server.delay = 2.0  # a long silence: the client leaves
            client = aiohttp.ClientSession()
            response = await client.post(
                url + "/v1/messages", data=json.dumps(conversation()), headers=headers(token)
            )
            assert response.status == 200
            assert b"ping" in await asyncio.wait_for(response.content.readany(), 5)
            response.close()
            await client.close()
            for _ in range(100):
                if gateway.in_flight == 0:
                    break
                await asyncio.sleep(0.01)
            assert gateway.in_flight == 0
            gateway.audit.flush()
        assert audit_records(tmp_path)[-1].gateway.outcome == "client_aborted"

    with ScriptedBedrockServer(["quiet"] * 2, split_bytes=300, delay=0.12) as server:
        asyncio.run(scenario(server))


def test_an_unexpected_failure_is_an_anthropic_500_naming_only_its_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ramparts.gateway import upstream as upstream_module

    def broken(self: Any, operation: str, model_id: str, body: bytes) -> Any:
        raise RuntimeError("x-amz-security-token: do-not-show")

    monkeypatch.setattr(upstream_module.BedrockUpstream, "signed", broken)

    async def scenario(server: ScriptedBedrockServer) -> None:
        async with running(tmp_path, bedrock=bedrock_config(server)) as (gateway, url, _up, token):
            for path in ("/v1/messages?beta=true", "/v1/messages/count_tokens"):
                status, _h, raw = await post(url, conversation(), headers(token), path=path)
                assert status == 500
                error = json.loads(raw)
                assert error["error"]["type"] == "api_error" and "RuntimeError" in error["error"]["message"]
                assert "do-not-show" not in raw.decode()
            assert server.requests == []
            gateway.audit.flush()
        assert [r.gateway.outcome for r in audit_records(tmp_path)] == ["error", "error"]

    with ScriptedBedrockServer() as server:
        asyncio.run(scenario(server))
