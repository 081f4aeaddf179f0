"""Every mutation detected and located; no acknowledged record lost to SIGKILL (bench/audit.py runs more)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.audit_harness import OPERATORS, run_crash, run_tamper

TAMPER_RECORDS = int(os.environ.get("RAMPARTS_TAMPER_RECORDS", "2000"))
TAMPER_MUTATIONS = int(os.environ.get("RAMPARTS_TAMPER_MUTATIONS", "240"))
CRASH_KILLS = int(os.environ.get("RAMPARTS_CRASH_KILLS", "200"))


def test_random_mutations_are_all_detected_and_located(tmp_path: Path) -> None:
    result = run_tamper(tmp_path, records=TAMPER_RECORDS, mutations=TAMPER_MUTATIONS)
    assert set(result.applied) == set(OPERATORS)
    assert result.failures == []
    assert sum(result.detected.values()) == sum(result.located.values()) == TAMPER_MUTATIONS


def test_sigkill_during_appends_loses_no_acknowledged_record(tmp_path: Path) -> None:
    result = run_crash(tmp_path, kills=CRASH_KILLS)
    assert result.kills == CRASH_KILLS and result.acked > CRASH_KILLS
    assert result.lost == 0
    assert result.tamper_findings == 0, result.problems
