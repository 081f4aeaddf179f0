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

from injection_gen import hard_benign  # noqa: E402
from train_injection import (  # noqa: E402
    FILES,
    PER_PROBE,
    Row,
    auc,
    cap_per_group,
    corpora_dir,
    fit,
    generated_rows,
    load_rows,
    local_rows,
    roc_points,
    split_rows,
    tldr_rows,
    tpr_at,
    use_model,
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
        "th1": th1,
        "tpr_at_fpr5": tpr5,
        "auc": area,
        "tpr_warn": _rate(positives, WARN),
        "fpr_warn": _rate(negatives, WARN),
        "tpr_block": _rate(positives, BLOCK),
        "fpr_block": _rate(negatives, BLOCK),
    }


HARD_SEED = 7
HARD_PER_KIND = 100


def hard_rows(per_kind: int = HARD_PER_KIND) -> list[Row]:
    """The hard benign sets (``injection_gen.hard_benign``, its ``eval`` phrase banks: never trained on)."""
    return [Row(s.text, 0, "hard_benign", s.kind, s.text) for s in hard_benign(HARD_SEED, per_kind, "eval")]


def _hard_report(rows: Sequence[Row], scorer: Callable[[str], float], threshold: float) -> dict[str, float]:
    """FPR per hard benign kind at warn, block and ``threshold``; returns the overall FPR at warn."""
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        by_kind[row.group].append(scorer(row.text))
    print(f"{'hard benign kind':34s} {'rows':>5s} {'>=warn':>7s} {'>=block':>7s} {'>=t1':>7s}")
    for kind in sorted(by_kind):
        sub = by_kind[kind]
        print(
            f"{kind:34s} {len(sub):5d} {_rate(sub, WARN):7.3f} {_rate(sub, BLOCK):7.3f} {_rate(sub, threshold):7.3f}"
        )
    every = [x for sub in by_kind.values() for x in sub]
    print(
        f"{'all hard benign':34s} {len(every):5d} {_rate(every, WARN):7.3f} {_rate(every, BLOCK):7.3f}"
        f" {_rate(every, threshold):7.3f}"
    )
    return {"warn": _rate(every, WARN), "block": _rate(every, BLOCK), "t1": _rate(every, threshold)}


def source_of(row: Row) -> str:
    """The leave-one-source-out unit: a corpus, or a garak probe family (they differ in kind)."""
    if row.corpus == "garak_benign" or row.group.startswith("latentinjection"):
        return "garak:latentinjection"
    if row.corpus == "garak_attacks":
        family = row.group.split(".")[0]
        return f"garak:{family}" if family in ("encoding", "promptinject", "web_injection") else "garak:other"
    if row.corpus.startswith("bipia"):
        return "bipia"
    return row.corpus


def loso(folder: Path, epochs: int, eval_cap: int, generated: bool = True) -> tuple[float, str]:
    """Train without one source, test on it, for each source; the worst TPR at FPR <= 1 % and its source.

    Each fold's threshold is the one giving FPR <= 1 % on benign rows that fold's model never saw:
    the left-out source's own benign rows and the hard benign sets. The extra benign text (tldr
    pages, local files) is always in training; it is not a source of injections. With
    ``generated=False`` the generator's rows are a test source only, never trained on (the recipe
    before the generator existed).
    """
    rows = load_rows(folder) + generated_rows()
    extra = tldr_rows(folder) + local_rows()
    hard = hard_rows()
    sources = sorted({source_of(r) for r in rows})
    print(f"\n== leave-one-source-out: {len(sources)} sources, {epochs} epochs per fold; scorer = all layers")
    print(
        f"{'left-out source':26s} {'pos':>5s} {'neg':>5s} {'TPR@1%':>7s} {'thresh':>7s} {'FPRsrc':>7s}"
        f" {'TPR@warn':>8s} {'FPR@warn':>8s} {'hard@warn':>9s}"
    )
    worst, worst_source = 1.0, ""
    for source in sources:
        kept = [r for r in rows if source_of(r) != source and (generated or r.corpus != "generated")]
        train_rows = cap_per_group(kept + extra, PER_PROBE)
        test = cap_per_group([r for r in rows if source_of(r) == source], eval_cap)
        use_model(fit(train_rows, epochs, verbose=False))
        scores = [injection.score(r.text).score for r in test]
        pos = [x for x, r in zip(scores, test, strict=True) if r.label == 1]
        neg = [x for x, r in zip(scores, test, strict=True) if r.label == 0]
        hard_scores = [injection.score(r.text).score for r in hard]
        pool = neg + hard_scores
        points = roc_points(pool + pos, [0] * len(pool) + [1] * len(pos))
        tpr1, th1 = tpr_at(points, 0.01) if pos else (float("nan"), _quantile(pool, 0.99))
        print(
            f"{source:26s} {len(pos):5d} {len(neg):5d} {tpr1:7.3f} {th1:7.3f} {_rate(neg, th1):7.3f}"
            f" {_rate(pos, WARN):8.3f} {_rate(neg, WARN):8.3f} {_rate(hard_scores, WARN):9.3f}",
            flush=True,
        )
        if pos and tpr1 < worst:
            worst, worst_source = tpr1, source
    injection._model = None
    print(f"worst source: {worst_source} TPR@FPR1%={worst:.3f}")
    return worst, worst_source


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="20 rows per garak probe, 2 epochs per leave-one-out fold"
    )
    parser.add_argument(
        "--no-generated", action="store_true", help="leave-one-out folds never train on the generated rows"
    )
    parser.add_argument("--no-loso", action="store_true", help="skip the leave-one-source-out folds")
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
    print(f"\n== hard benign sets (generated, never trained on), shipped model, t1 = {full['th1']:.3f}")
    hard = _hard_report(hard_rows(), lambda t: injection.score(t).score, full["th1"])
    ms = _speed(5 if args.quick else 20)
    print(f"\nspeed: {ms:.2f} ms to score 10 KB ({10.24 / ms:.1f} MB/s on one core)")
    worst, worst_source = (float("nan"), "skipped")
    if not args.no_loso:
        worst, worst_source = loso(
            folder, 2 if args.quick else 6, 20 if args.quick else 60, generated=not args.no_generated
        )
    print(
        f"RESULT loso_worst_tpr_at_fpr1={worst:.3f} loso_worst_source={worst_source}"
        f" hard_fpr_warn={hard['warn']:.3f} hard_fpr_block={hard['block']:.3f}"
        f" split_tpr_at_fpr1={full['tpr_at_fpr1']:.3f} auc={full['auc']:.4f}"
        f" fpr_warn={full['fpr_warn']:.3f} classifier_tpr_at_fpr1={alone['tpr_at_fpr1']:.3f}"
        f" ms_per_10kb={ms:.2f} mb_per_s={10.24 / ms:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
