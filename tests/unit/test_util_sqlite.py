"""SQLite's C module as the cold hook loads it (ramparts._util): without functools, and working the same.

``_sqlite3`` fetches ``functools.lru_cache`` when it initialises (each connection's statement cache);
importing functools costs a cold hook some 14 M instructions. ``_util`` lets a stand-in give it the same C
cache while nothing else can see it. Each case runs in a fresh ``python -I -S`` process (the tree under
test first on its path), as the hook does.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ramparts

SRC = str(Path(ramparts.__file__).resolve().parent.parent)

CHECK = """
import sys  # json imports re, functools and collections: the result is printed as a repr
sys.path.insert(0, sys.argv[1])
{before}
from ramparts import _util
loaded = sorted(m for m in ("functools", "collections", "operator", "reprlib", "keyword") if m in sys.modules)
db = _util.sqlite3.connect(":memory:", isolation_level=None)
db.execute("CREATE TABLE t (n INTEGER)")
for round in range(3):  # 300 distinct statements, more than the cache's 128, each run three times
    for i in range(300):
        db.execute(f"INSERT INTO t VALUES ({{i}})")
total = db.execute("SELECT count(*), sum(n) FROM t").fetchone()
bare = _util.sqlite3.connect(":memory:", cached_statements=0)  # no cache at all
same = bare.execute("SELECT 1").fetchone() == bare.execute("SELECT 1").fetchone() == (1,)
import functools
print(repr({{
    "loaded": loaded,
    "total": list(total),
    "same": same,
    "module": _util.sqlite3 is sys.modules["_sqlite3"],
    "real_functools": hasattr(functools, "partial") and hasattr(functools, "reduce"),
}}))
"""


def _run(before: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHECK.format(before=before), SRC],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = ast.literal_eval(done.stdout)
    return result


def test_sqlite_loads_without_functools_and_caches_statements() -> None:
    result = _run()
    assert result["loaded"] == []
    assert result == {
        "loaded": [],
        "total": [900, 3 * sum(range(300))],
        "same": True,
        "module": True,
        "real_functools": True,  # the stand-in is gone: a later import gets the real module
    }


def test_functools_already_loaded_is_used_as_it_is() -> None:
    result = _run("import functools")
    assert "functools" in result["loaded"]  # type: ignore[operator]
    assert result["total"] == [900, 3 * sum(range(300))] and result["real_functools"] is True


def test_with_another_thread_running_the_plain_import_is_taken() -> None:
    """Another thread could import functools while the stand-in is in sys.modules: not then."""
    before = (
        "import _thread, time\n"
        "lock = _thread.allocate_lock(); lock.acquire()\n"
        "_thread.start_new_thread(lock.acquire, ())\n"
        "while not _thread._count(): time.sleep(0.001)"
    )
    result = _run(before)
    assert "functools" in result["loaded"]  # type: ignore[operator]
    assert result["total"] == [900, 3 * sum(range(300))] and result["real_functools"] is True


def test_open_sqlite_sets_the_busy_timeout_exactly_without_a_statement_of_its_own(tmp_path: Path) -> None:
    """connect() sets the busy timeout (int(timeout * 1000) ms): open_sqlite gives it the exact value
    (1001 / 1000 * 1000 falls short of 1001) and prepares no PRAGMA for it on every open."""
    from ramparts import _util

    traced: list[str] = []
    real = _util.sqlite3.connect

    def connect(*args: object, **kwargs: object) -> object:
        db = real(*args, **kwargs)  # type: ignore[arg-type]
        db.set_trace_callback(traced.append)
        return db

    for ms in (100, 1001, 1003, 2000, 250_000, 300_001, 600_000):
        traced.clear()
        _util.sqlite3.connect = connect  # type: ignore[assignment]
        try:
            db = _util.open_sqlite(str(tmp_path / "t.db"), busy_timeout_ms=ms)
        finally:
            _util.sqlite3.connect = real  # type: ignore[assignment]
        try:
            assert not [s for s in traced if "busy_timeout" in s]
            assert db.execute("PRAGMA busy_timeout").fetchone()[0] == ms
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        finally:
            db.close()
