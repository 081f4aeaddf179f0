"""The training-data generator (bench/injection_gen.py) is seeded, and the hard benign sets it makes for
evaluation share no benign phrase with the hard negatives the classifier is trained on."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import injection_gen


def test_generation_is_seeded() -> None:
    assert injection_gen.generate(3, 40) == injection_gen.generate(3, 40)
    assert injection_gen.generate(3, 40) != injection_gen.generate(4, 40)
    assert injection_gen.hard_benign(3, 2) == injection_gen.hard_benign(3, 2)


def test_rows_are_balanced_and_labelled() -> None:
    rows = injection_gen.generate(1, 400)
    assert sum(r.label for r in rows) == 200
    assert {r.kind for r in rows if r.label} <= {"gen_attack", "gen_attack_bare"}
    assert {r.kind for r in rows if not r.label} == {"gen_benign"}


def test_the_evaluation_phrases_never_reach_training() -> None:
    train_bank = set(injection_gen._part(injection_gen.BENIGN_IMPERATIVES, "train"))
    eval_bank = set(injection_gen._part(injection_gen.BENIGN_IMPERATIVES, "eval"))
    assert train_bank and eval_bank and not train_bank & eval_bank
    training_text = "\n".join(r.text for r in injection_gen.generate(1, 3000) if not r.label)
    assert not any(phrase in training_text for phrase in eval_bank)
    hard = injection_gen.hard_benign(1, 20)
    assert {r.kind for r in hard} == {f"hard_{k}" for k in injection_gen.HARD_KINDS}
    assert all(r.label == 0 for r in hard)
