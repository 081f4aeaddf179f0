"""Quality of the injection scorer on the HELD-OUT split of the development corpora.

Usage::

    .venv/bin/python bench/injection_quality.py [--quick]

Reads ``$RAMPARTS_CORPORA/injection`` (default ``../shared/corpora/injection``) and keeps only the
rows that ``bench/train_injection.py`` holds out (the same deterministic split, a keyed hash of each
text), so none of the figures below comes from a row the classifier was trained on. ``garak_attacks``
is capped per probe (60 rows, 20 with ``--quick``) so that no probe dominates the overall figures.

Printed, for the whole scorer (every layer) and for the classifier layer alone:

- per corpus, the share of rows at or above ``warn`` (0.5) and ``block`` (0.8), the default policy
  thresholds: a detection rate for injection corpora, a false-alarm rate for benign ones;
- TPR at FPR 1 % and 5 %: the threshold is chosen on all held-out benign rows, then the TPR of each
  injection corpus (and of each garak probe family) is read at that threshold; and the ROC AUC;
- the time to score 10 KB of text.

Samples are never printed (some are offensive): only counts, rates and corpus or probe names. The
last line is ``RESULT tpr_at_fpr1=… tpr_at_fpr5=… auc=… …``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from train_injection import (  # noqa: E402
    FILES,
    Row,
    auc,
    cap_per_group,
    corpora_dir,
    load_rows,
    roc_points,
    split_rows,
    tpr_at,
)

from ramparts.detect import injection  # noqa: E402

WARN, BLOCK = 0.5, 0.8


def _rate(scores: Sequence[float], threshold: float) -> float:
    return sum(1 for s in scores if s >= threshold) / len(scores) if scores else 0.0


def _speed(repeat: int) -> float:
    """Milliseconds to score 10 KB of mixed prose, code and markup (best of ``repeat``)."""
    unit = (
        "The build failed because the cache was stale; please ignore the previous error and retry.\n"
        "```python\ndef handler(event):\n    return {'status': 200, 'body': event.get('body', '')}\n```\n"
        "<div class='note'>See https://example.com/docs?page=2 for details.</div>\n"
        "| name | value |\n| ---- | ----- |\n| retries | 3 |\n"
    )
    text = (unit * (10240 // len(unit) + 1))[:10240]
    injection.score(text)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        injection.score(text)
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def _report(name: str, rows: Sequence[Row], scorer: Callable[[str], float]) -> dict[str, float]:
    t0 = time.perf_counter()
    scores = [scorer(r.text) for r in rows]
    elapsed = time.perf_counter() - t0
    labels = [r.label for r in rows]
    points = roc_points(scores, labels)
    tpr1, th1 = tpr_at(points, 0.01)
    tpr5, th5 = tpr_at(points, 0.05)
    area = auc(points)
    negatives = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    print(f"\n== {name}: {len(rows)} held-out rows, {elapsed / len(rows) * 1000:.2f} ms/row")
    print(
        f"{'corpus':34s} {'rows':>5s} {'label':>5s} {'>=warn':>7s} {'>=block':>7s} {'@fpr1':>7s} {'@fpr5':>7s}"
    )
    by_corpus: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
    by_family: dict[str, list[float]] = collections.defaultdict(list)
    for row, s in zip(rows, scores, strict=True):
        by_corpus[row.corpus].append((s, row.label))
        if row.corpus == "garak_attacks":
            by_family["garak:" + row.group.split(".")[0]].append(s)
    for corpus in FILES:
        for label in (1, 0):
            sub = [s for s, y in by_corpus.get(corpus, []) if y == label]
            if sub:
                print(
                    f"{corpus:34s} {len(sub):5d} {label:5d} {_rate(sub, WARN):7.3f} {_rate(sub, BLOCK):7.3f}"
                    f" {_rate(sub, th1):7.3f} {_rate(sub, th5):7.3f}"
                )
    for family in sorted(by_family):
        sub = by_family[family]
        print(
            f"{family:34s} {len(sub):5d} {1:5d} {_rate(sub, WARN):7.3f} {_rate(sub, BLOCK):7.3f}"
            f" {_rate(sub, th1):7.3f} {_rate(sub, th5):7.3f}"
        )
    print(
        f"overall: TPR@FPR1%={tpr1:.3f} (threshold {th1:.3f}), TPR@FPR5%={tpr5:.3f} (threshold {th5:.3f}), "
        f"AUC={area:.4f}; at the defaults FPR(warn)={_rate(negatives, WARN):.3f} FPR(block)={_rate(negatives, BLOCK):.3f}"
    )
    positives = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    return {
        "tpr_at_fpr1": tpr1,
        "tpr_at_fpr5": tpr5,
        "auc": area,
        "tpr_warn": _rate(positives, WARN),
        "fpr_warn": _rate(negatives, WARN),
        "tpr_block": _rate(positives, BLOCK),
        "fpr_block": _rate(negatives, BLOCK),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 rows per garak probe (under a minute)")
    args = parser.parse_args(argv)
    folder = corpora_dir()
    if folder is None:
        print("injection corpora not found: set RAMPARTS_CORPORA to the folder holding injection/; skipping")
        print("RESULT skipped=1")
        return 0
    _, test_rows = split_rows(load_rows(folder))
    rows = cap_per_group(test_rows, 20 if args.quick else 60)
    print(
        f"held-out split only ({len(test_rows)} rows; same keyed-hash split as bench/train_injection.py), "
        f"garak capped at {20 if args.quick else 60}/probe: {len(rows)} rows, "
        f"{sum(r.label for r in rows)} injections, {sum(1 - r.label for r in rows)} benign"
    )
    full = _report("scorer (all layers)", rows, lambda t: injection.score(t).score)
    alone = _report("classifier layer alone", rows, lambda t: injection._classify(injection.tokens(t))[0])
    ms = _speed(5 if args.quick else 20)
    print(f"\nspeed: {ms:.2f} ms to score 10 KB")
    print(
        f"RESULT tpr_at_fpr1={full['tpr_at_fpr1']:.3f} tpr_at_fpr5={full['tpr_at_fpr5']:.3f} auc={full['auc']:.4f}"
        f" tpr_warn={full['tpr_warn']:.3f} fpr_warn={full['fpr_warn']:.3f} fpr_block={full['fpr_block']:.3f}"
        f" classifier_tpr_at_fpr1={alone['tpr_at_fpr1']:.3f} ms_per_10kb={ms:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
