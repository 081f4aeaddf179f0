"""The text of a PDF document block, for the detectors (sans-IO; pypdf).

A PDF the agent reads travels as a ``document`` block with a base64 source, resent every turn. The
gateway does not rewrite PDFs: it extracts their text (bounded: bytes, pages, characters, time),
scans it, and the masker then blocks the request or drops the document per policy
(:class:`DocumentPolicy`). A PDF whose text cannot be extracted (broken, encrypted, over a bound)
follows ``DocumentPolicy.unreadable`` (fail closed by default).

Images inside a PDF are not read (no OCR): a scanned page carries no text for the detectors.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import time
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from ..errors import GatewayError
from ..model import Finding

PdfScan = tuple[Finding, ...] | str
"""The findings in a PDF's text, or why its text could not be read."""


class DocumentPolicy(NamedTuple):
    """What a binary (base64) document gets."""

    findings: Literal["block", "drop"] = "drop"
    """A PDF whose text holds a value a mask/redact rule names: send a notice in the document's place
    (the default: a PDF cannot be masked, so dropping is masking's counterpart; the session goes on), or
    refuse the request (400 — and every later turn of the session, which resends the PDF). A ``block``
    rule's finding always refuses."""
    unreadable: Literal["block", "drop", "pass"] = "block"
    """A PDF that cannot be parsed (or is over a bound), or a binary media type the gateway cannot
    read: refuse (fail closed), drop it, or send it unscreened."""
    max_bytes: int = 32 * 1024 * 1024
    max_pages: int = 200
    max_chars: int = 4 * 1024 * 1024
    """Extracted text beyond this makes the document unreadable (bounds the scan)."""
    timeout: float = 20.0
    """Seconds of extraction (checked between pages; the scan pool's own timeout backs it)."""


class DocumentUnreadable(GatewayError):
    """The document's text could not be extracted within the bounds."""


def pdf_text(data: bytes, policy: DocumentPolicy, clock: Callable[[], float] = time.monotonic) -> str:
    """The text of every page, pages joined by a newline. Raises :class:`DocumentUnreadable`."""
    if len(data) > policy.max_bytes:
        raise DocumentUnreadable(f"over {policy.max_bytes} bytes")
    if not data.startswith(b"%PDF-"):
        raise DocumentUnreadable("not a PDF (no %PDF- header)")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about sloppy files are not ours
    deadline = clock() + policy.timeout
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentUnreadable("encrypted")
        pages = reader.pages
        if len(pages) > policy.max_pages:
            raise DocumentUnreadable(f"over {policy.max_pages} pages")
        parts: list[str] = []
        size = 0
        for page in pages:
            if clock() > deadline:
                raise DocumentUnreadable(f"text extraction took over {policy.timeout:g} s")
            text = page.extract_text() or ""
            size += len(text)
            if size > policy.max_chars:
                raise DocumentUnreadable(f"over {policy.max_chars} characters of text")
            parts.append(text)
        return "\n".join(parts)
    except DocumentUnreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise DocumentUnreadable(f"pypdf could not parse it ({type(exc).__name__})") from exc
    except RecursionError as exc:
        raise DocumentUnreadable("nested too deeply") from exc


def scan_pdf(data: str, scan: Callable[[str], Sequence[Finding]], policy: DocumentPolicy) -> PdfScan:
    """Decode base64 ``data``, extract the PDF's text and scan it: findings, or why it is unreadable."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "not valid base64"
    try:
        text = pdf_text(raw, policy)
    except DocumentUnreadable as exc:
        return str(exc)
    return tuple(scan(text)) if text else ()
