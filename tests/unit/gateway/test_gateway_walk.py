"""The request walk (``shapes.py``) and the masker's new parts, sans-IO: values split across text
blocks, base64 text documents, PDF bounds, tool definition texts."""

from __future__ import annotations

import base64
import io
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.gateway.documents import DocumentPolicy, DocumentUnreadable, pdf_text, scan_pdf
from ramparts.gateway.mask import Masker, MaskPolicy, request_documents, request_texts
from ramparts.gateway.screen import Screener, ToolPoisoned, tool_texts
from ramparts.gateway.shapes import ShapeRefused, Shapes, walk_request
from ramparts.gateway.vault import PLACEHOLDER, MemoryVault
from ramparts.testing.pdf import make_pdf
from tests.unit.gateway.test_gateway_mask import AWS, EMAIL, KEY, fake_scan

KEYS = [
    "type",
    "text",
    "content",
    "source",
    "data",
    "media_type",
    "input",
    "citations",
    "title",
    "url",
    "role",
]
TOP = ["system", "messages", "tools", "metadata", "tool_choice", "container", "model", "thinking", "other"]
RUN_TEXT = f"prefix words; the key {AWS} and mail {EMAIL}; suffix words"


def masker(**options: Any) -> Masker:
    return Masker(MaskPolicy(), fake_scan, MemoryVault(KEY), **options)


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def text_blocks(pieces: list[str]) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": p} for p in pieces]}]}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(RUN_TEXT) - 1), min_size=1, max_size=3, unique=True))
def test_a_value_split_across_adjacent_text_blocks_is_masked_at_any_cut(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(RUN_TEXT)]
    pieces = [RUN_TEXT[a:b] for a, b in itertools.pairwise(bounds)]
    out = masker().mask_request(text_blocks(pieces), "s").body
    joined = "".join(b["text"] for b in out["messages"][0]["content"])
    assert AWS not in joined and EMAIL not in joined
    assert len(out["messages"][0]["content"]) == len(pieces)  # blocks keep their place
    # the joined text is the original with each value replaced by one placeholder
    found = PLACEHOLDER.findall(joined)
    assert len(found) == 2
    assert PLACEHOLDER.sub("X", joined) == RUN_TEXT.replace(AWS, "X").replace(EMAIL, "X")


def test_split_values_in_system_blocks_and_tool_results_too() -> None:
    a, b = RUN_TEXT[:30], RUN_TEXT[30:]
    body = {
        "system": [{"type": "text", "text": a}, {"type": "text", "text": b}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": a}, {"type": "text", "text": b}],
                    }
                ],
            }
        ],
    }
    out = masker().mask_request(body, "s").body
    assert AWS not in json.dumps(out)
    texts = request_texts(body)
    assert RUN_TEXT in texts[-1] or any(
        AWS in t for t in texts[-2:]
    )  # the boundary windows, for the prefetch


def test_base64_text_document_masked_and_reencoded_identical_when_clean() -> None:
    def body(data: str, media: str = "text/plain") -> dict[str, Any]:
        doc = {"type": "document", "source": {"type": "base64", "media_type": media, "data": data}}
        return {"messages": [{"role": "user", "content": [doc]}]}

    clean = body(b64("nothing here"))
    assert masker().mask_request(clean, "s").body is clean
    dirty = body(b64(f"key {AWS}\n"), "text/markdown; charset=utf-8")
    out = masker().mask_request(dirty, "s").body
    decoded = base64.b64decode(out["messages"][0]["content"][0]["source"]["data"]).decode()
    assert AWS not in decoded and PLACEHOLDER.search(decoded)
    # not UTF-8: not readable as text, so the unreadable rule applies (block by default)
    latin = body(b64("caf\xe9 ".encode("latin-1") + AWS.encode()))
    with pytest.raises(ShapeRefused, match="could not be read"):
        masker().mask_request(latin, "s")
    out = masker(documents=DocumentPolicy(unreadable="drop")).mask_request(latin, "s").body
    assert "withheld" in out["messages"][0]["content"][0]["text"]


def pdf_body(data: bytes) -> dict[str, Any]:
    doc = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": b64(data)},
    }
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "read this"}, doc]}]}


def test_pdf_findings_block_or_drop_and_a_clean_pdf_is_the_same_object() -> None:
    clean = pdf_body(make_pdf(["revenue (up) \\ 3%"]))
    assert masker().mask_request(clean, "s").body is clean
    assert request_documents(clean) == [clean["messages"][0]["content"][1]["source"]["data"]]
    dirty = pdf_body(make_pdf(["Quarterly", f"key {AWS}"]))
    with pytest.raises(Exception, match=r"blocked by gateway rule 'secret'.*\(PDF text\)"):
        masker(documents=DocumentPolicy(findings="block")).mask_request(dirty, "s")
    result = masker().mask_request(dirty, "s")  # the default drops it
    notice = result.body["messages"][0]["content"][1]
    assert notice["type"] == "text" and "aws-access-key-id" in notice["text"]
    assert [(f.detector, f.action) for f in result.findings] == [("aws-access-key-id", "drop")]
    # a block rule blocks even when the documents policy drops
    blocking = Masker(
        MaskPolicy.from_mapping({"secret": "block"}),
        fake_scan,
        MemoryVault(KEY),
        documents=DocumentPolicy(findings="drop"),
    )
    with pytest.raises(Exception, match="blocked"):
        blocking.mask_request(dirty, "s")


def test_pdf_bounds_and_broken_files_are_unreadable() -> None:
    pdf = make_pdf(["one line of text that is long enough"])
    assert "one line" in pdf_text(pdf, DocumentPolicy())
    for policy, why in (
        (DocumentPolicy(max_bytes=100), "bytes"),
        (DocumentPolicy(max_chars=5), "characters"),
        (DocumentPolicy(max_pages=0), "pages"),
    ):
        with pytest.raises(DocumentUnreadable, match=why):
            pdf_text(pdf, policy)
    ticks = iter([0.0, 100.0])
    with pytest.raises(DocumentUnreadable, match="took over"):
        pdf_text(pdf, DocumentPolicy(timeout=1), clock=lambda: next(ticks))
    for broken in (b"%PDF-1.4\n" + b"\x00" * 50, b"<html>", pdf[: len(pdf) // 2]):
        result = scan_pdf(b64(broken), fake_scan, DocumentPolicy())
        assert isinstance(result, str) or result == (), broken[:20]
    assert scan_pdf("not base64!", fake_scan, DocumentPolicy()) == "not valid base64"


def test_an_encrypted_pdf_is_unreadable() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf([f"key {AWS}"]))).pages:
        writer.add_page(page)
    writer.encrypt("owner-only-password", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    assert scan_pdf(b64(out.getvalue()), fake_scan, DocumentPolicy()) == "encrypted"
    with pytest.raises(ShapeRefused, match="encrypted"):
        masker().mask_request(pdf_body(out.getvalue()), "s")
    passed = masker(documents=DocumentPolicy(unreadable="pass"))
    body = pdf_body(out.getvalue())
    result = passed.mask_request(body, "s")
    assert result.body is body and result.findings[0].detector == "document-unreadable"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_as_a_pdf_never_crash(data: bytes) -> None:
    result = scan_pdf(b64(b"%PDF-1.4\n" + data), fake_scan, DocumentPolicy())
    assert isinstance(result, str | tuple)


def visited(body: dict[str, Any]) -> list[str]:
    seen: list[str] = []

    def fn(text: str, where: str) -> str:
        seen.append(text)
        return text

    walk_request(body, fn)
    return seen


def test_walk_visits_every_string_of_every_known_shape() -> None:
    from tests.unit.gateway.test_gateway_shapes import CASES, UNTOUCHED, body_for

    for name, case in CASES.items():
        body = body_for(case, "MARK-1 MARK-2")
        joined = "\n".join(visited(body))
        assert "MARK-1" in joined, name
        assert walk_request(body, lambda text, where: text) is body
    for name, case in UNTOUCHED.items():
        assert not any("MARK-1" in t for t in visited(body_for(case, "MARK-1"))), name


def test_unknown_shapes_policy_pass_and_screen() -> None:
    body = {
        "sidecar": {"a": [EMAIL]},
        "messages": [{"role": "user", "content": [{"type": "hologram", "x": EMAIL}]}],
    }
    with pytest.raises(ShapeRefused, match="sidecar"):
        walk_request(body, lambda t, w: t)
    with pytest.raises(ShapeRefused, match="hologram"):
        walk_request(body, lambda t, w: t, Shapes(fields={"sidecar": "pass"}))
    passed = Shapes(blocks={"hologram": "pass"}, fields={"sidecar": "pass"})
    assert masker(shapes=passed).mask_request(body, "s").body is body
    screened = (
        masker(shapes=Shapes(blocks={"hologram": "screen"}, fields={"sidecar": "screen"}))
        .mask_request(body, "s")
        .body
    )
    assert EMAIL not in json.dumps(screened)
    refused = ShapeRefused("field", "sidecar", "sidecar")
    assert (
        refused.error_body()["error"]["type"] == "invalid_request_error"
        and refused.rule == "gateway.shape.field"
    )


def test_tool_definition_texts_and_thresholds() -> None:
    body = {
        "tools": [
            {
                "name": "a",
                "description": "Reads.",
                "input_schema": {"properties": {"p": {"description": "path", "title": "P"}}},
            },
            {"name": "b", "type": "web_search_20250305"},
            {"name": "c", "description": "suspicious"},
            {"name": "d", "description": "evil"},
        ]
    }
    assert tool_texts(body) == [(0, "a", "Reads.\npath\nP"), (2, "c", "suspicious"), (3, "d", "evil")]
    scores = {"suspicious": 0.6, "evil": 0.9}
    screener = Screener(lambda t: (scores.get(t, 0.0), "sig", "fp"), block=0.8, warn=0.5)
    with pytest.raises(ToolPoisoned, match="'d'") as raised:
        screener.screen_request(body)
    assert raised.value.screened.where == "tools[3]"
    del body["tools"][3]
    result = screener.screen_request(body)
    assert [(s.tool_use_id, s.action) for s in result.tools] == [("c", "warn")]
    assert result.body is body
    strict = Screener(lambda t: (scores.get(t, 0.0), "sig", "fp"), block=0.8, warn=0.5, tool_block=0.55)
    with pytest.raises(ToolPoisoned, match="'c'"):
        strict.screen_tools(body)


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(TOP), _any_json, max_size=5))
def test_arbitrary_bodies_are_walked_or_refused_by_name_never_crash(body: dict[str, Any]) -> None:
    try:
        masker(shapes=Shapes()).mask_request(body, "s")
    except ShapeRefused as refused:
        assert refused.error_body()["error"]["type"] == "invalid_request_error"
    except Exception as exc:  # a block rule is the only other way out (none in the default rules)
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc


def test_a_body_nested_too_deeply_is_refused_not_crashed() -> None:
    body = json.loads('{"metadata":' + "[" * 900 + "]" * 900 + "}")
    with pytest.raises(ShapeRefused, match="nested too deeply"):
        masker().mask_request(body, "s")
