"""Detector quality on the public corpora: secrets and PII precision/recall, injection TPR at low FPR.

Usage::

    .venv/bin/python bench/detect_quality.py [--quick]

- **secrets** (``secrets/{gitleaks,detect_secrets,kingfisher}.jsonl``): a row counts as flagged when any
  secret rule reports a finding in its text with confidence >= 0.5 (``ramparts scan``'s default). Precision and recall per corpus, plus *strict* recall
  (counting the matches the checks suppressed or scaled below 0.5) and how many true rows each check
  removed (placeholder, reference, validator, entropy, below-threshold): many "true" examples in these
  rule-test sets are placeholders production scanners drop on purpose. ``--detail`` adds false positives
  by rule id and misses by the corpus's own label (counts only, never samples).
- **pii** (``pii/presidio_synth_dataset_v2.json``): span-level precision and recall for the entity types
  Ramparts has (email, phone, US SSN, credit card, IBAN, IP), a predicted span counting when it overlaps
  a labelled span of the same type; side by side with Presidio's own pattern recognizers when
  ``presidio-analyzer`` is installed (no spaCy model needed for those).
- **injection**: runs ``bench/injection_quality.py`` (held-out split) and repeats its figures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ramparts.detect.pii import PiiScanner  # noqa: E402
from ramparts.detect.secrets import SecretScanner  # noqa: E402

KEY = b"q" * 32
MIN_CONFIDENCE = 0.5
"""What ``ramparts scan`` reports by default (``--min-confidence``)."""
ENTITY_MAP = {
    "EMAIL_ADDRESS": "pii-email",
    "PHONE_NUMBER": "pii-phone",
    "US_SSN": "pii-us-ssn",
    "CREDIT_CARD": "pii-payment-card",
    "IBAN_CODE": "pii-iban",
    "IP_ADDRESS": "pii-ip-address",
}


def corpora() -> Path | None:
    env = os.environ.get("RAMPARTS_CORPORA")
    base = Path(env) if env else ROOT.parent / "shared" / "corpora"
    return base if base.is_dir() else None


def _why_missed(hits: list[Any]) -> str:
    """Why a row with matches was not flagged: the check that removed its best match."""
    if any(not h.suppressed for h in hits):
        return "below-threshold"  # reported, but scaled under MIN_CONFIDENCE (made-up looking, public key)
    reasons = {h.suppressed for h in hits}
    for reason in ("placeholder", "name", "reference", "validator", "entropy"):
        if reason in reasons:
            return reason
    return sorted(reasons)[0]


def secrets_quality(base: Path, quick: bool, figures: dict[str, float], detail: bool = False) -> None:
    scanner = SecretScanner()
    for name in ("gitleaks", "detect_secrets", "kingfisher"):
        rows = [
            json.loads(line) for line in (base / "secrets" / f"{name}.jsonl").read_text().splitlines() if line
        ]
        if quick:
            rows = rows[::3]
        tp = fp = fn = tn = strict_tp = 0
        removed: collections.Counter[str] = collections.Counter()
        false_by_rule: collections.Counter[str] = collections.Counter()
        missed_by_label: collections.Counter[str] = collections.Counter()
        for row in rows:
            hits = scanner.hits(row["text"])
            flagged = [h for h in hits if not h.suppressed and h.confidence >= MIN_CONFIDENCE]
            truth = str(row["label"]) == "1"
            if truth:
                tp += bool(flagged)
                fn += not flagged
                strict_tp += bool(hits)
                if hits and not flagged:
                    removed[_why_missed(hits)] += 1
                if not flagged:
                    missed_by_label[str(row.get("rule") or row.get("plugin") or "?")] += 1
            else:
                fp += bool(flagged)
                tn += not flagged
                false_by_rule.update({h.rule.id for h in flagged})
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        strict = strict_tp / (tp + fn) if tp + fn else 1.0
        why = ", ".join(f"{k} {v}" for k, v in removed.most_common()) or "none"
        print(
            f"secrets/{name} ({len(rows)} rows): precision {precision:.3f}, recall {recall:.3f}, "
            f"strict recall {strict:.3f}, false positives {fp}/{fp + tn}; "
            f"true rows the checks removed: {sum(removed.values())} ({why}); "
            f"true rows no rule matched: {fn - sum(removed.values())}"
        )
        if detail:  # rule ids and counts only: never the samples
            print(f"  false positives by rule: {dict(false_by_rule.most_common(15))}")
            print(f"  misses by the corpus's label: {dict(missed_by_label.most_common(25))}")
        figures[f"{name}_precision"] = round(precision, 3)
        figures[f"{name}_recall"] = round(recall, 3)
        figures[f"{name}_strict_recall"] = round(strict, 3)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def pii_quality(base: Path, quick: bool, figures: dict[str, float]) -> None:
    items = json.loads((base / "pii" / "presidio_synth_dataset_v2.json").read_text())
    if quick:
        items = items[::2]
    ours = PiiScanner(private_ips=True)
    presidio = _presidio()
    systems: dict[str, Any] = {"ramparts": lambda text: [(e.id, s, t) for e, s, t, _ in ours.hits(text)]}
    if presidio is not None:
        systems["presidio"] = presidio
    for system, run in systems.items():
        counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        start = time.perf_counter()
        for item in items:
            text = item["full_text"]
            gold = [
                (ENTITY_MAP[s["entity_type"]], (s["start_position"], s["end_position"]))
                for s in item["spans"]
                if s["entity_type"] in ENTITY_MAP
            ]
            predicted = [(entity, (s, e)) for entity, s, e in run(text)]
            for entity, span in predicted:
                ok = any(g == entity and _overlap(span, gs) for g, gs in gold)
                counts[entity]["tp" if ok else "fp"] += 1
            for entity, span in gold:
                if not any(p == entity and _overlap(span, ps) for p, ps in predicted):
                    counts[entity]["fn"] += 1
        elapsed = time.perf_counter() - start
        total = collections.Counter[str]()
        for entity in sorted(set(ENTITY_MAP.values())):
            c = counts[entity]
            total.update(c)
            p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
            r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
            print(
                f"pii {system} {entity}: precision {p:.3f} recall {r:.3f} (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})"
            )
        p = total["tp"] / (total["tp"] + total["fp"]) if total["tp"] + total["fp"] else 1.0
        r = total["tp"] / (total["tp"] + total["fn"]) if total["tp"] + total["fn"] else 1.0
        print(
            f"pii {system} all six types: precision {p:.3f} recall {r:.3f}, {len(items) / elapsed:.0f} texts/s"
        )
        figures[f"pii_{system}_precision"] = round(p, 3)
        figures[f"pii_{system}_recall"] = round(r, 3)


def _presidio() -> Any:
    """Presidio's pattern recognizers for the same six types (no NLP model: context words are not used)."""
    try:
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            UsSsnRecognizer,
        )
    except ImportError:
        print("presidio: not installed (pip install -r bench/requirements.txt); Ramparts figures only")
        return None
    recognizers = [
        (EmailRecognizer(), "EMAIL_ADDRESS"),
        (PhoneRecognizer(), "PHONE_NUMBER"),
        (UsSsnRecognizer(), "US_SSN"),
        (CreditCardRecognizer(), "CREDIT_CARD"),
        (IbanRecognizer(), "IBAN_CODE"),
        (IpRecognizer(), "IP_ADDRESS"),
    ]

    def run(text: str) -> list[tuple[str, int, int]]:
        out = []
        for recognizer, entity in recognizers:
            for result in recognizer.analyze(text, [entity], None):
                if result.score >= 0.4:
                    out.append((ENTITY_MAP[entity], result.start, result.end))
        return out

    return run


def injection_quality(quick: bool, figures: dict[str, float]) -> None:
    script = ROOT / "bench" / "injection_quality.py"
    if not script.exists():
        print("injection: bench/injection_quality.py not found")
        return
    done = subprocess.run(
        [sys.executable, str(script), *(["--quick"] if quick else [])],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            for pair in line.split()[1:]:
                name, _, value = pair.partition("=")
                if value.replace(".", "", 1).isdigit():
                    figures[f"injection_{name}"] = float(value)
        else:
            print(f"injection: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", choices=("secrets", "pii", "injection"), help="run one section (the others take minutes)"
    )
    parser.add_argument(
        "--detail", action="store_true", help="secrets: false positives by rule, misses by corpus label"
    )
    args = parser.parse_args()
    base = corpora()
    if base is None:
        print("corpora not found (set RAMPARTS_CORPORA)")
        print("RESULT skipped=1")
        return 0
    figures: dict[str, float] = {}
    if args.only in (None, "secrets"):
        secrets_quality(base, args.quick, figures, args.detail)
    if args.only in (None, "pii"):
        pii_quality(base, args.quick, figures)
    if args.only in (None, "injection"):
        injection_quality(args.quick, figures)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
