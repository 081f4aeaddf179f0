"""Speed work must not move a score: this tree's injection scorer against another tree's, on the corpora.

Usage::

    .venv/bin/python bench/injection_equivalence.py --baseline-src DIR [--quick] [--modes python,numpy,hyperscan]

``DIR`` is another tree's ``src`` (``git archive BASE src | tar -x -C /tmp/base`` then ``--baseline-src
/tmp/base/src``). Each tree scores the same texts in a process of its own, in each mode (pure Python,
as the hook; NumPy, as the gateway's workers; NumPy with the signatures' Hyperscan prefilter): every
row of ``$RAMPARTS_CORPORA/injection`` (``--quick``: every fifth), the generator's rows and hard benign
sets, and 400 (``--quick``: 60) 20 KB texts made by joining shuffled rows (the gateway's fresh-prompt size, scanned
whole; nearly all non-ASCII). For each text the score, the verdict and every piece of evidence (layer,
signal, span, weight) are compared, exactly. Texts are never printed, only counts.

The last line is ``RESULT texts=… mismatches=… max_score_diff=… seconds_this=… seconds_base=…``.
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
from ramparts.detect import injection
mode, path, out, cache = sys.argv[1:5]
if mode in ("numpy", "hyperscan"):
    injection.use_numpy(True)
if mode == "hyperscan":
    assert injection.use_hyperscan(True, cache)
with open(path, encoding="utf-8") as handle:
    texts = json.load(handle)
rows = []
t0 = time.process_time()
for text in texts:
    r = injection.score(text)
    rows.append([r.score, r.verdict, [list(e) for e in r.evidence]])
elapsed = time.process_time() - t0
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"rows": rows, "seconds": elapsed}, handle)
"""


def texts(quick: bool) -> list[str]:
    """Corpus rows, generated rows and hard benign sets, and 20 KB joins of shuffled rows."""
    from injection_gen import generate, hard_benign
    from train_injection import corpora_dir

    rows: list[str] = []
    folder = corpora_dir()
    if folder is not None:
        for path in sorted(folder.glob("*.jsonl")):
            with path.open(encoding="utf-8") as handle:
                rows += [json.loads(line)["text"] for line in handle]
    step = 5 if quick else 1
    out = rows[::step]
    out += [s.text for s in generate(3, 200 if quick else 1000)]
    out += [s.text for s in hard_benign(4, 20 if quick else 60, "eval")]
    rnd = random.Random(20261206)
    pool = rows[:] or out[:]
    rnd.shuffle(pool)
    joined: list[str] = []
    size = made = 0
    for row in pool:
        joined.append(row)
        size += len(row) + 1
        if size >= 20_480:
            out.append("\n".join(joined)[:20_480])
            joined, size, made = [], 0, made + 1
            if made >= (60 if quick else 400):
                break
    return out


def run(src: Path, mode: str, path: str, cache: str) -> tuple[list[list[object]], float]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    try:
        subprocess.run(
            [sys.executable, "-c", _SNIPPET, mode, path, out, cache],
            check=True,
            env={**os.environ, "PYTHONPATH": str(src)},
        )
        with open(out, encoding="utf-8") as handle:
            doc = json.load(handle)
        return doc["rows"], float(doc["seconds"])
    finally:
        os.unlink(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="every fifth corpus row, fewer joined texts")
    parser.add_argument("--modes", default="python,numpy,hyperscan")
    args = parser.parse_args(argv)
    sample = texts(args.quick)
    mismatches = 0
    worst = 0.0
    seconds = {"this": 0.0, "base": 0.0}
    with tempfile.TemporaryDirectory(prefix="ramparts-inj-eq-") as tmp:
        path = os.path.join(tmp, "texts.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(sample, handle)
        for mode in args.modes.split(","):
            cache = os.path.join(tmp, f"hs-{mode}")
            this, t_this = run(ROOT / "src", mode, path, cache + "-this")
            base, t_base = run(args.baseline_src, mode, path, cache + "-base")
            seconds["this"] += t_this
            seconds["base"] += t_base
            bad = 0
            for a, b in zip(this, base, strict=True):
                worst = max(worst, abs(float(a[0]) - float(b[0])))  # type: ignore[arg-type]
                if a != b:
                    bad += 1
            mismatches += bad
            print(
                f"{mode:10s} {len(sample)} texts: {bad} differ; CPU s this {t_this:.2f}, "
                f"baseline {t_base:.2f} (x{t_base / max(t_this, 1e-9):.2f})",
                flush=True,
            )
    print(
        f"RESULT texts={len(sample)} mismatches={mismatches} max_score_diff={worst:.3g}"
        f" seconds_this={seconds['this']:.2f} seconds_base={seconds['base']:.2f}"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
