"""Speed work must not move a finding: this tree's secret and PII scan against another tree's.

Usage::

    .venv/bin/python bench/detect_equivalence.py --baseline-src DIR [--quick] [--hook]

``DIR`` is another tree's ``src`` (``git archive BASE src | tar -x -C /tmp/base`` then ``--baseline-src
/tmp/base/src``). Each tree runs what a gateway detector worker runs (``Detectors(("secret", "pii"))``
with the Hyperscan backend, one fixed fingerprint key) in a process of its own over the same texts:
every row of ``$RAMPARTS_CORPORA``'s ``secrets/*.jsonl`` and ``pii/`` (``--quick``: every third), the
injection corpora's rows (every tenth; ``--quick``: every thirtieth), ``bench/gateway.py``'s fresh
20 KB prompts, and 20 KB joins of shuffled secret, PII and injection rows (the size the gateway
scans; ASCII and not). For each text every finding (detector, category, severity, confidence, span,
line, fingerprint, excerpt) is compared, exactly. Texts and findings are never printed, only counts.

``--hook``: the hook's detectors instead (``backend="cached"`` over a warmed cache), this tree's both
with one scanner for every text and with a fresh one per text (a short text then goes through the
hook's keyword index, :mod:`ramparts.detect.keywords`), each compared with the baseline's.

The last line is ``RESULT texts=… findings=… mismatches=… seconds_this=… seconds_base=…``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

_SNIPPET = """
import json, sys, time
from ramparts.detect.scanner import Detectors
path, out, cache, mode = sys.argv[1:5]
key = bytes(range(32))
with open(path, encoding="utf-8") as handle:
    texts = json.load(handle)
if mode == "gateway":
    detectors = Detectors(("secret", "pii"), cache_dir=cache)
else:  # the hook's detectors, from a warm cache
    from ramparts.cli.scan import warm
    warm(cache)
    def hook():
        return Detectors(("secret", "pii"), cache_dir=cache, backend="cached")
    detectors = hook()
if mode == "hook-fresh":  # one process per event: each text scanned by detectors of its own
    rows = [[list(f) for f in hook().scan(text, key, categories=("secret", "pii"))] for text in texts]
else:
    rows = [[list(f) for f in detectors.scan(text, key, categories=("secret", "pii"))] for text in texts]
t0 = time.process_time()  # again, timed: a long-lived worker's steady state (each rule compiled)
for text in texts:
    detectors.scan(text, key, categories=("secret", "pii"))
elapsed = time.process_time() - t0
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"rows": rows, "seconds": elapsed, "backend": detectors.backend()}, handle)
"""


def _rows(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [str(json.loads(line)["text"]) for line in handle if line.strip()]


def texts(quick: bool) -> list[str]:
    from gateway import prompt

    folder = Path(os.environ.get("RAMPARTS_CORPORA", ROOT.parent / "shared" / "corpora"))
    secret_rows: list[str] = []
    pii_rows: list[str] = []
    injection_rows: list[str] = []
    if folder.is_dir():
        for path in sorted((folder / "secrets").glob("*.jsonl")):
            secret_rows += _rows(path)
        for path in sorted((folder / "pii").glob("*.json")):
            with path.open(encoding="utf-8") as handle:
                pii_rows += [str(item["full_text"]) for item in json.load(handle)]
        for path in sorted((folder / "injection").glob("*.jsonl")):
            injection_rows += _rows(path)
    else:
        print(f"# no corpora at {folder}: the bench prompts and their joins only")
    step = 3 if quick else 1
    out = secret_rows[::step] + pii_rows[::step] + injection_rows[:: 30 if quick else 10]
    rnd = random.Random(20261207)
    out += [prompt(tag=f"{rnd.random()}")["messages"][2]["content"][0]["content"] for _ in range(20)]
    pool = secret_rows + pii_rows + injection_rows[::10]
    rnd.shuffle(pool)
    joined: list[str] = []
    size = made = 0
    for row in pool:
        joined.append(row)
        size += len(row) + 1
        if size >= 20_480:
            text = "\n".join(joined)[:20_480]
            out.append(text)
            out.append(text.encode("ascii", "replace").decode("ascii"))  # the same, all ASCII
            joined, size, made = [], 0, made + 1
            if made >= (40 if quick else 200):
                break
    return out


def run(src: Path, path: str, cache: str, mode: str = "gateway") -> tuple[list[list[object]], float, str]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    try:
        subprocess.run(
            [sys.executable, "-c", _SNIPPET, path, out, cache, mode],
            check=True,
            env={**os.environ, "PYTHONPATH": str(src)},
        )
        with open(out, encoding="utf-8") as handle:
            doc = json.load(handle)
        return doc["rows"], float(doc["seconds"]), str(doc["backend"])
    finally:
        os.unlink(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="fewer corpus rows and joined texts")
    parser.add_argument(
        "--hook",
        action="store_true",
        help="the hook's detectors (backend 'cached', warm cache) on both sides; this tree's twice: "
        "one scanner for every text, and a fresh one per text (as one hook process per event)",
    )
    args = parser.parse_args(argv)
    if args.hook:
        return _hook(args)
    sample = texts(args.quick)
    with tempfile.TemporaryDirectory(prefix="ramparts-detect-eq-") as tmp:
        path = os.path.join(tmp, "texts.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(sample, handle)
        this, t_this, backend_this = run(ROOT / "src", path, os.path.join(tmp, "this"))
        base, t_base, backend_base = run(args.baseline_src, path, os.path.join(tmp, "base"))
    mismatches = sum(1 for a, b in zip(this, base, strict=True) if a != b)
    findings = sum(len(a) for a in this)
    print(
        f"{len(sample)} texts, {findings} findings ({backend_this} / {backend_base}): {mismatches} differ; "
        f"CPU s of a second pass this {t_this:.2f}, baseline {t_base:.2f}"
    )
    print(
        f"RESULT texts={len(sample)} findings={findings} mismatches={mismatches}"
        f" seconds_this={t_this:.2f} seconds_base={t_base:.2f}"
    )
    return 1 if mismatches else 0


def _hook(args: argparse.Namespace) -> int:
    sample = texts(args.quick)
    with tempfile.TemporaryDirectory(prefix="ramparts-detect-eq-") as tmp:
        path = os.path.join(tmp, "texts.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(sample, handle)
        shared, t_this, backend_this = run(ROOT / "src", path, os.path.join(tmp, "this"), "hook")
        fresh, _, _ = run(ROOT / "src", path, os.path.join(tmp, "this"), "hook-fresh")
        base, t_base, backend_base = run(args.baseline_src, path, os.path.join(tmp, "base"), "hook")
    shared_differ = sum(1 for a, b in zip(shared, base, strict=True) if a != b)
    fresh_differ = sum(1 for a, b in zip(fresh, base, strict=True) if a != b)
    findings = sum(len(a) for a in base)
    print(
        f"hook detectors: {len(sample)} texts, {findings} findings ({backend_this} / {backend_base}): "
        f"{shared_differ} differ with one scanner, {fresh_differ} with one per text"
    )
    mismatches = shared_differ + fresh_differ
    print(
        f"RESULT texts={len(sample)} findings={findings} mismatches={mismatches}"
        f" seconds_this={t_this:.2f} seconds_base={t_base:.2f}"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
