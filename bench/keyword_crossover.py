"""Where the hook's keyword index stops paying: ``KEYWORD_INDEX_MAX`` of ``ramparts.detect.keywords``.

Usage::

    .venv/bin/python bench/keyword_crossover.py [--quick]

A fresh hook process that scans a text for secrets either looks the rules' keywords up with
:class:`~ramparts.detect.keywords.KeywordIndex` (pure Python, nothing to load, its cost grows with the
text) or loads Hyperscan's extension module and the keywords' database from the cache (a fixed cost of
a few milliseconds, then a scan at gigabytes a second). For each text size this runs both, each in a
fresh ``python -I`` process of its own, alternating, and times from before the scanner is built to after
the first text's candidates (the same rules either way, checked); the median of the repeats is kept.
The crossover is the first size at which the database is faster. Texts are this repository's own
source (code with comments: the hook's usual Read).

The last line is ``RESULT crossover_kb=… index_ms_4k=… database_ms_4k=… threshold_kb=…``
(``threshold_kb``: the ``KEYWORD_INDEX_MAX`` set in the code, to compare).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv.pop(1))
cache, mode, path = sys.argv[1:4]
with open(path, encoding="utf-8") as handle:
    text = handle.read()
started = time.perf_counter()
from ramparts.detect import keywords
from ramparts.detect.secrets import SecretScanner
keywords.KEYWORD_INDEX_MAX = 1 << 62 if mode == "index" else -1
scanner = SecretScanner(backend="cached", cache_dir=cache)
found = scanner.matcher.candidates(text)
elapsed = time.perf_counter() - started
print(json.dumps({"ms": elapsed * 1000, "found": found, "backend": scanner.backend}))
"""


def _source(size: int) -> str:
    text = ""
    for path in sorted((SRC / "ramparts").rglob("*.py")):
        text += path.read_text("utf-8")
        if len(text) >= size:
            break
    return text[:size]


def _once(cache: str, mode: str, path: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", _CHILD, str(SRC), cache, mode, path],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(SRC))
    from ramparts.detect.keywords import KEYWORD_INDEX_MAX
    from ramparts.detect.secrets import SecretScanner

    sizes = [1 << 10, 4 << 10, 16 << 10, 32 << 10, 64 << 10]
    if not args.quick:
        sizes = [256, 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 24 << 10, 32 << 10, 48 << 10, 64 << 10]
    repeats = 5 if args.quick else 11
    crossover = 0
    medians: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ramparts-kw-crossover-") as cache:
        SecretScanner(
            cache_dir=cache, keyword_database=True
        )  # the keywords' database, as a warm-up builds it
        SecretScanner(backend="cached", cache_dir=cache).hits("x")  # and the index
        print(f"{'size':>7} {'index ms':>9} {'database ms':>12} {'ratio':>6}")
        for size in sizes:
            path = str(Path(cache) / f"text-{size}.txt")
            Path(path).write_text(_source(size), "utf-8")
            times: dict[str, list[float]] = {"index": [], "database": []}
            found: dict[str, object] = {}
            for _ in range(repeats):
                for mode in ("index", "database"):
                    result = _once(cache, mode, path)
                    times[mode].append(float(str(result["ms"])))
                    found[mode] = result["found"]
                    assert result["backend"] == ("keywords" if mode == "index" else "hyperscan"), result
            assert found["index"] == found["database"], f"the two prefilters differ at {size} characters"
            index, database = statistics.median(times["index"]), statistics.median(times["database"])
            medians[size] = (index, database)
            print(f"{size:>7} {index:>9.2f} {database:>12.2f} {index / database:>6.2f}")
            if not crossover and database < index:
                crossover = size
    at_4k = medians[4 << 10]
    print(
        f"RESULT crossover_kb={crossover // 1024 if crossover else 'none'} index_ms_4k={at_4k[0]:.2f}"
        f" database_ms_4k={at_4k[1]:.2f} threshold_kb={KEYWORD_INDEX_MAX // 1024}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
