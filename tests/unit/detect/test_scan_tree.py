"""Speed work must not change what the PII scan finds: a committed tree of synthetic files (every
entity, its near-misses, context words, dates, SVG-like digit runs, non-ASCII text with ``İ``, the
Kelvin sign and Greek sigma) and the findings the scanner gave on it before any optimisation.

Each file's findings are pinned as (detector, start, end, confidence, line), and the whole finding
tuples (fingerprints and excerpts included, with a fixed key) by a digest. Every backend must give
them exactly. To regenerate after an intended change in what is found (and say why in the commit):
``RAMPARTS_WRITE_SCAN_TREE=1 pytest tests/unit/detect/test_scan_tree.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ramparts.detect.matcher import available_backends
from ramparts.detect.pii import PiiScanner
from ramparts.detect.scanner import Detectors

TREE = Path(__file__).with_name("scan_tree")
EXPECTED = Path(__file__).with_name("scan_tree_pii.json")
KEY = b"k" * 32


def texts() -> list[tuple[str, str]]:
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(TREE.iterdir())]


def pinned(scanner: PiiScanner) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, text in texts():
        found = scanner.scan(text, KEY)
        out[name] = {
            "findings": [[f.detector, f.start, f.end, f.confidence, f.line] for f in found],
            "sha256": hashlib.sha256(json.dumps([list(f) for f in found]).encode()).hexdigest(),
        }
    return out


@pytest.mark.parametrize("backend", available_backends())
def test_every_backend_finds_exactly_the_pinned_pii(backend: str) -> None:
    got = pinned(PiiScanner(backend=backend))
    if os.environ.get("RAMPARTS_WRITE_SCAN_TREE") and backend == available_backends()[0]:
        EXPECTED.write_text(json.dumps(got, separators=(",", ":")) + "\n")
    expected = json.loads(EXPECTED.read_text())
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name]["findings"] == expected[name]["findings"], (backend, name)
        assert got[name]["sha256"] == expected[name]["sha256"], (backend, name)


def test_secrets_and_pii_together_are_each_scan_with_overlaps_left_to_secrets() -> None:
    """``Detectors.scan`` is the secret findings plus the PII findings no secret overlaps, in order, and no
    excerpt shows a value either family found."""
    detectors = Detectors(["secret", "pii"])
    assert detectors.secrets is not None and detectors.pii is not None
    for _name, text in texts():
        secrets = detectors.secrets.scan(text, KEY)
        pii = [
            f
            for f in detectors.pii.scan(text, KEY)
            if not any(f.start < s.end and s.start < f.end for s in secrets)
        ]
        found = detectors.scan(text, KEY)
        expected = sorted(secrets + pii, key=lambda f: (f.start, f.detector))
        # the same findings; their excerpts mask every value found, of either family
        assert [f._replace(excerpt="") for f in found] == [f._replace(excerpt="") for f in expected]
        for finding in found:
            near = [
                text[g.start : g.end]
                for g in found
                if g.start >= finding.start - 40
                and g.end <= finding.end + 40
                and g.end - g.start >= 6
                and "\n" not in text[min(g.start, finding.start) : max(g.end, finding.end)]
            ]
            assert not any(value in finding.excerpt for value in near), finding
