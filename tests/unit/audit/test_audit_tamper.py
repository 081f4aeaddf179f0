"""Every mutation detected and located; no acknowledged record lost to SIGKILL (bench/audit.py runs more).

Both run against SQLite and PostgreSQL (the ``backend`` fixture); PostgreSQL with smaller counts, since each
mutation copies the log into a schema and each kill costs a server connection."""

from __future__ import annotations

import os
from pathlib import Path

from tests.audit_harness import OPERATORS, PgSite, Site, pg_sites, run_crash, run_tamper, sqlite_sites

TAMPER_RECORDS = int(os.environ.get("RAMPARTS_TAMPER_RECORDS", "2000"))
TAMPER_MUTATIONS = int(os.environ.get("RAMPARTS_TAMPER_MUTATIONS", "240"))
CRASH_KILLS = int(os.environ.get("RAMPARTS_CRASH_KILLS", "200"))
PG_TAMPER_RECORDS = int(os.environ.get("RAMPARTS_PG_TAMPER_RECORDS", "1000"))
PG_TAMPER_MUTATIONS = int(os.environ.get("RAMPARTS_PG_TAMPER_MUTATIONS", "120"))
PG_CRASH_KILLS = int(os.environ.get("RAMPARTS_PG_CRASH_KILLS", "100"))


def test_random_mutations_are_all_detected_and_located(backend: Site, tmp_path: Path) -> None:
    if isinstance(backend, PgSite):
        sites, records, mutations = (
            pg_sites(backend.server, backend.schema, tmp_path),
            PG_TAMPER_RECORDS,
            PG_TAMPER_MUTATIONS,
        )
    else:
        sites, records, mutations = sqlite_sites(tmp_path), TAMPER_RECORDS, TAMPER_MUTATIONS
    result = run_tamper(tmp_path, records=records, mutations=mutations, sites=sites)
    assert set(result.applied) == set(OPERATORS)
    assert result.failures == []
    assert sum(result.detected.values()) == sum(result.located.values()) == mutations


def test_sigkill_during_appends_loses_no_acknowledged_record(backend: Site, tmp_path: Path) -> None:
    kills = PG_CRASH_KILLS if isinstance(backend, PgSite) else CRASH_KILLS
    location = backend.location if isinstance(backend, PgSite) else None
    result = run_crash(tmp_path, kills=kills, location=location)
    assert result.kills == kills and result.acked > kills
    assert result.lost == 0
    assert result.tamper_findings == 0, result.problems
