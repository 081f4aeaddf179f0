"""Outbound DLP for an Anthropic Messages request body: mask, redact or block what the policy names.

:meth:`Masker.mask_request` walks every string the upstream reads (:mod:`.shapes`: every block
type and top-level field the Messages API defines; unknown ones are refused unless the policy lets
them through) and applies, per finding, the action of the most specific rule: a detector id
(``pii-email``), a prefix (``aws-*``) or a category (``secret``, ``pii``).

- ``mask``: a reversible placeholder from the vault (the same value, the same placeholder, every turn);
- ``redact``: ``[REDACTED:TYPE]``, irreversible;
- ``block``: :class:`MaskBlocked`, which names the rule; the proxy answers 400 (:meth:`MaskBlocked.error_body`).

A value split across two adjacent ``text`` blocks is found in their joined text and masked piece by
piece. Base64 text documents are decoded, masked and re-encoded; a base64 PDF's text is extracted and
scanned (:mod:`.documents`), and the request is blocked or the document dropped per policy.

Never touched: ``thinking`` and ``redacted_thinking`` blocks, provider ids and encrypted values, dict
keys, images (not inspected). What it does not change it returns as the very same objects, so the
body re-serialises to the same bytes and Anthropic's prompt cache keeps hitting.

Values the detectors found before, in this session or elsewhere in this body, are replaced wherever
they occur, even where the detectors would not find them (an assistant turn that repeats a restored
value without the context a detector needs): once known, a value does not leave in clear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from .. import rule_ids as rids
from ..errors import GatewayError
from ..model import Finding
from .cache import ResultCache
from .documents import DocumentPolicy, PdfScan, scan_pdf
from .shapes import ShapeRefused, Shapes, TextFn, walk_request
from .vault import PLACEHOLDER, Vault, label

__all__ = [
    "ACTIONS",
    "BASELINE_RULES",
    "DocumentPolicy",
    "MaskBlocked",
    "MaskPolicy",
    "MaskResult",
    "Masked",
    "Masker",
    "ShapeRefused",
    "Shapes",
    "TextFn",
    "detector_scanner",
    "request_documents",
    "request_texts",
    "walk_request",
]

Action = Literal["mask", "redact", "block"]
ACTIONS: tuple[Action, ...] = ("mask", "redact", "block")
Scanner = Callable[[str], Sequence[Finding]]
"""Findings in a text, with offsets (``Detectors.scan`` bound to a key: :func:`detector_scanner`)."""

BASELINE_RULES: Mapping[str, Action] = {
    "secret": "mask",
    "pii-email": "mask",
    "pii-phone": "mask",
    "pii-us-ssn": "mask",
    "pii-payment-card": "mask",
}
"""The baseline profile: secrets and the review's personal data types, masked reversibly."""

_MIN_ANYWHERE = 6  # a known value shorter than this is replaced only where a detector finds it


class MaskBlocked(GatewayError):
    """A request carries data a ``block`` rule names. Holds no value: rule, detector and location."""

    def __init__(self, rule: str, detector: str, where: str) -> None:
        self.rule = rule
        self.detector = detector
        self.where = where
        super().__init__(f"blocked by gateway rule {rule!r}: {detector} found in {where}")

    def error_body(self) -> dict[str, Any]:
        """The 400 body in Anthropic's error format."""
        return {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": f"Ramparts gateway: {self}"},
        }


class MaskPolicy(NamedTuple):
    """What each entity type gets. Keys: detector id, ``prefix*``, or category (``secret``, ``pii``)."""

    rules: Mapping[str, Action] = BASELINE_RULES
    min_confidence: float = 0.0
    """Findings below this confidence are left alone."""

    @classmethod
    def from_mapping(cls, rules: Mapping[str, str], min_confidence: float = 0.0) -> MaskPolicy:
        checked: dict[str, Action] = {}
        for key, action in rules.items():
            if action not in ACTIONS:
                raise ValueError(f"gateway rule {key!r}: action must be one of {', '.join(ACTIONS)}")
            if not key or key == "*":
                raise ValueError(f"gateway rule {key!r}: name a detector id, a prefix* or a category")
            checked[key] = action
        return cls(checked, min_confidence)

    def rule_for(self, finding: Finding) -> tuple[str, Action] | None:
        """The most specific rule for a finding: exact id > longest prefix > category."""
        exact = self.rules.get(finding.detector)
        if exact is not None:
            return finding.detector, exact
        best: tuple[str, Action] | None = None
        for key, action in self.rules.items():
            if (
                key.endswith("*")
                and finding.detector.startswith(key[:-1])
                and (best is None or len(key) > len(best[0]))
            ):
                best = (key, action)
        if best is not None:
            return best
        category = self.rules.get(finding.category)
        return (finding.category, category) if category is not None else None


class Masked(NamedTuple):
    """One finding and what was done to it (for the audit record: no value, a keyed fingerprint)."""

    where: str
    detector: str
    category: str
    rule: str
    action: str
    """``mask``, ``redact``, ``block``; for a document: ``drop``, ``block`` or ``pass``."""
    fingerprint: str


class MaskResult(NamedTuple):
    body: Any
    """The body to send upstream: the input object itself when nothing changed."""
    findings: tuple[Masked, ...]
    changed: bool


def detector_scanner(detectors: Any, key: bytes, limit: int | None = None) -> Scanner:
    """Bind a :class:`ramparts.detect.scanner.Detectors` to a fingerprint key (secrets and PII only)."""

    def scan(text: str) -> Sequence[Finding]:
        result: Sequence[Finding] = detectors.scan(text, key, limit=limit, categories=("secret", "pii"))
        return result

    return scan


DROPPED = (
    "[Ramparts gateway: a {what} was withheld here: {why}. Its content did not reach the model; "
    "ask the user for the parts you need without the secret or personal data.]"
)
_WINDOW = 2048  # characters each side of a block boundary scanned for a value split across blocks


class Masker:
    """Masks request bodies for one policy, detector set and vault (thread-safe; no state per call).

    ``shapes`` says what happens to unknown block types and fields (refused by default) and images;
    ``documents`` what a PDF with findings, or an unreadable one, gets; ``pdf_scan`` finds what a
    base64 PDF's text holds (default: :func:`.documents.scan_pdf` with ``scan``, on this thread,
    cached by the base64 data)."""

    def __init__(
        self,
        policy: MaskPolicy,
        scan: Scanner,
        vault: Vault,
        *,
        shapes: Shapes | None = None,
        documents: DocumentPolicy | None = None,
        pdf_scan: Callable[[str], PdfScan] | None = None,
    ) -> None:
        self.policy = policy
        self.scan = scan
        self.vault = vault
        self.shapes = shapes or Shapes()
        self.documents = documents or DocumentPolicy()
        if pdf_scan is None:
            pdfs = ResultCache(256)  # a PDF is resent every turn: read it once

            def pdf_scan(data: str) -> PdfScan:
                return pdfs.get_or(data, lambda d: scan_pdf(d, self.scan, self.documents))

        self.pdf_scan = pdf_scan

    def mask_request(self, body: Any, session_id: str) -> MaskResult:
        """Mask a Messages (or count_tokens) request body. Raises :class:`MaskBlocked` and
        :class:`.shapes.ShapeRefused`."""
        if not isinstance(body, dict):
            return MaskResult(body, (), False)
        replace: dict[str, str] = {v: p for p, v in self.vault.known(session_id).items()}
        spans: dict[str, list[tuple[int, int, str, str | None]]] = {}
        drops: dict[str, Any] = {}
        findings: list[Masked] = []

        def ruled(f: Finding, where: str, *, document: bool = False) -> tuple[str, str] | None:
            """The rule and action for a finding (recorded); raises on ``block``."""
            if f.confidence < self.policy.min_confidence or f.category == "injection":
                return None
            rule = self.policy.rule_for(f)
            if rule is None:
                return None
            name, action = rule
            if document and action != "block":
                action_taken = "drop" if self.documents.findings == "drop" else "block"
            else:
                action_taken = action
            findings.append(Masked(where, f.detector, f.category, name, action_taken, f.fingerprint))
            if action_taken == "block":
                raise MaskBlocked(name, f.detector, where)
            return name, action

        def placeholder(value: str, detector: str, action: str) -> str:
            if value not in replace:
                replace[value] = (
                    self.vault.placeholder_for(session_id, detector, value)
                    if action == "mask"
                    else f"[REDACTED:{label(detector)}]"
                )
            return replace[value]

        def collect(text: str, where: str) -> str:
            for f in self.scan(text):
                rule = ruled(f, where)
                value = text[f.start : f.end]
                if rule is None or not value:
                    continue
                placeholder(value, f.detector, rule[1])
                spans.setdefault(where, []).append((f.start, f.end, value, None))
            return text

        def run(texts: list[tuple[str, str]]) -> None:
            """A value split across adjacent text blocks: scan around each boundary of the joined
            text; the first piece becomes the placeholder, the other pieces become empty."""
            starts, joined, windows = boundary_windows(texts)
            seen: set[tuple[int, int]] = set()
            for lo, boundary, window in windows:
                for f in self.scan(window):
                    start, end = lo + f.start, lo + f.end
                    if not start < boundary < end or (start, end) in seen:
                        continue
                    seen.add((start, end))
                    first = next(
                        i for i in range(len(texts)) if starts[i] <= start < starts[i] + len(texts[i][1])
                    )
                    rule = ruled(f, texts[first][0])
                    if rule is None:
                        continue
                    value = joined[start:end]
                    token = placeholder(value, f.detector, rule[1])
                    for i, (where, text) in enumerate(texts):
                        a, b = max(start, starts[i]), min(end, starts[i] + len(text))
                        if a < b:
                            piece = text[a - starts[i] : b - starts[i]]
                            spans.setdefault(where, []).append(
                                (a - starts[i], b - starts[i], piece, token if i == first else "")
                            )

        def document(block: dict[str, Any], where: str, media: str, data: str) -> Any:
            what = "PDF document" if media == "application/pdf" else f"{media} document"
            result = self.pdf_scan(data) if media == "application/pdf" else f"{media} is not read"
            if isinstance(result, str):
                findings.append(
                    Masked(
                        where,
                        "document-unreadable",
                        "document",
                        rids.GATEWAY_DOCUMENTS_UNREADABLE,
                        self.documents.unreadable,
                        "",
                    )
                )
                if self.documents.unreadable == "block":
                    raise ShapeRefused(
                        "document",
                        media,
                        where,
                        f"its text could not be read ({result}); the policy's "
                        "gateway.documents.unreadable is block",
                    )
                if self.documents.unreadable == "drop":
                    drops[where] = {
                        "type": "text",
                        "text": DROPPED.format(what=what, why=f"its text could not be read ({result})"),
                    }
                return block
            detectors = sorted({f.detector for f in result if ruled(f, f"{where} (PDF text)", document=True)})
            if detectors:
                why = "it holds data the policy does not let leave (" + ", ".join(detectors) + ")"
                drops[where] = {"type": "text", "text": DROPPED.format(what=what, why=why)}
            return block

        walk_request(body, collect, self.shapes, runs=run, document=document)
        if not replace and not drops:
            return MaskResult(body, tuple(findings), False)
        anywhere = sorted((v for v in replace if len(v) >= _MIN_ANYWHERE), key=len, reverse=True)

        def apply(text: str, where: str) -> str:
            return _substitute(text, spans.get(where, ()), anywhere, replace)

        def swap(block: dict[str, Any], where: str, media: str, data: str) -> Any:
            return drops.get(where, block)

        out = walk_request(body, apply, self.shapes, document=swap)
        return MaskResult(out, tuple(findings), out is not body)


def boundary_windows(texts: list[tuple[str, str]]) -> tuple[list[int], str, list[tuple[int, int, str]]]:
    """For a run of adjacent text blocks: each block's offset in the joined text, the joined text, and
    per boundary ``(window start, boundary, window)``: up to ``_WINDOW`` characters each side."""
    starts, pos = [], 0
    for _where, text in texts:
        starts.append(pos)
        pos += len(text)
    joined = "".join(t for _w, t in texts)
    windows = []
    for boundary in starts[1:]:
        lo = max(0, boundary - _WINDOW)
        windows.append((lo, boundary, joined[lo : boundary + _WINDOW]))
    return starts, joined, windows


def request_texts(body: Any, shapes: Shapes | None = None) -> list[str]:
    """Every text :meth:`Masker.mask_request` scans in ``body`` (to scan them ahead, in parallel):
    the texts, then the windows around the boundaries of adjacent text blocks."""
    out: list[str] = []
    joints: list[str] = []

    def collect(text: str, where: str) -> str:
        out.append(text)
        return text

    def run(texts: list[tuple[str, str]]) -> None:
        joints.extend(window for _lo, _b, window in boundary_windows(texts)[2])

    if isinstance(body, dict):
        walk_request(body, collect, shapes, runs=run)
    return out + joints


def request_documents(body: Any, shapes: Shapes | None = None) -> list[str]:
    """The base64 data of every PDF document in ``body`` (to extract and scan them ahead)."""
    out: list[str] = []

    def document(block: dict[str, Any], where: str, media: str, data: str) -> Any:
        if media == "application/pdf":
            out.append(data)
        return block

    if isinstance(body, dict):
        walk_request(body, lambda text, where: text, shapes, document=document)
    return out


def _substitute(
    text: str,
    found: Sequence[tuple[int, int, str, str | None]],
    anywhere: Sequence[str],
    replace: Mapping[str, str],
) -> str:
    candidates = [v for v in anywhere if v in text]
    if not found and not candidates:
        return text
    cuts: list[tuple[int, int, str, str | None]] = list(found)
    if candidates:
        pattern = re.compile("|".join(re.escape(v) for v in candidates))
        cuts.extend((m.start(), m.end(), m.group(0), None) for m in pattern.finditer(text))
    keep = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)] if "[[RAMPARTS:" in text else []
    cuts.sort(key=lambda c: (c[0], -(c[1] - c[0]), c[3] is None))  # a split value's piece first
    out: list[str] = []
    pos = 0
    for start, end, value, token in cuts:
        if text[start:end] != value:
            continue  # not the text these offsets were found in (never expected)
        if start < pos or any(s < end and start < e for s, e in keep):
            continue  # overlaps a span already replaced, or inside a placeholder
        out.append(text[pos:start])
        out.append(replace[value] if token is None else token)  # token: a piece of a split value
        pos = end
    if pos == 0:
        return text
    out.append(text[pos:])
    return "".join(out)
