"""The hook runs in a fresh process per tool call: the compiled rule database must load, not compile.

The issue asks for a load under 20 ms. This is the one timed test in the detector suite; it measures
only the load (rules from the JSON cache, the Hyperscan database from its file), in fresh
interpreters, and takes the best of five: the shared machine's noise only ever adds time, so the
minimum is the load's own cost.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ramparts.detect.matcher import available_backends
from ramparts.detect.secrets import SecretScanner

PROBE = """
import sys, time
from ramparts.detect.secrets import SecretScanner, load_rules
start = time.perf_counter()
scanner = SecretScanner(load_rules(cache_dir=sys.argv[1]), cache_dir=sys.argv[1])
elapsed = time.perf_counter() - start
assert scanner.backend == "hyperscan", scanner.backend
print(elapsed * 1000)
"""


def test_a_fresh_process_loads_the_compiled_database_quickly(tmp_path: Path) -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed here; the re2 and re backends need no compiled database")
    SecretScanner(cache_dir=str(tmp_path))  # compile once, as `ramparts install` or the first hook does
    assert list(tmp_path.glob("hs-*.db")) and list(tmp_path.glob("rules-*.json"))
    times = []
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-I", "-c", PROBE, str(tmp_path)], capture_output=True, text=True, check=True
        )
        times.append(float(done.stdout.strip()))
    assert min(times) < 20, times


def test_a_corrupt_cache_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed here")
    SecretScanner(cache_dir=str(tmp_path))
    for db in tmp_path.glob("hs-*.db"):
        db.write_bytes(b"not a database")
    scanner = SecretScanner(cache_dir=str(tmp_path))
    token = "ghp_" + "Zq3v9Ls0Pm2Kx8NtWb4Yc7Jd1Aa2Bb3Cc4Dd"  # 36 characters after the prefix
    assert scanner.backend == "hyperscan" and scanner.hits(token)
