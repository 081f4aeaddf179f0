"""The hook runs in a fresh process per tool call: the compiled rule database must load, not compile.

How long the load takes is measured in ``bench/hook_latency.py`` (a timed assertion here failed on a
loaded machine); this checks the behaviour that makes it fast: a fresh interpreter with a warm cache
never calls Hyperscan's compiler, and a corrupt cache is rebuilt rather than trusted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ramparts.detect.matcher import available_backends
from ramparts.detect.secrets import SecretScanner

PROBE = """
import sys
import ramparts.detect.matcher as matcher

def refuse(*args, **kwargs):
    raise AssertionError("the hook's load compiled the database instead of loading it")

matcher._compile = refuse
from ramparts.detect.secrets import SecretScanner, load_rules
scanner = SecretScanner(load_rules(cache_dir=sys.argv[1]), cache_dir=sys.argv[1])
assert scanner.backend == "hyperscan", scanner.backend
assert scanner.hits("ghp_" + "Zq3v9Ls0Pm2Kx8NtWb4Yc7Jd1Aa2Bb3Cc4Dd")
print("loaded")
"""


def test_a_fresh_process_loads_the_compiled_database_without_compiling(tmp_path: Path) -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed here; the re2 and re backends need no compiled database")
    SecretScanner(cache_dir=str(tmp_path))  # compile once, as `ramparts install` or the first hook does
    assert list(tmp_path.glob("hs-*.db")) and list(tmp_path.glob("rules-*.marshal"))
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr


def test_a_corrupt_cache_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed here")
    SecretScanner(cache_dir=str(tmp_path))
    for db in tmp_path.glob("hs-*.db"):
        db.write_bytes(b"not a database")
    scanner = SecretScanner(cache_dir=str(tmp_path))
    token = "ghp_" + "Zq3v9Ls0Pm2Kx8NtWb4Yc7Jd1Aa2Bb3Cc4Dd"  # 36 characters after the prefix
    assert scanner.backend == "hyperscan" and scanner.hits(token)
