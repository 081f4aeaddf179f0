"""Posture, sandbox and MCP guard figures, each against a baseline run side by side.

    python bench/sandbox.py --quick      # under a minute
    python bench/sandbox.py

- posture: one full lint of the cycle-1 settings (discovery from a fixture tree included), against
  only reading and parsing the same file;
- sandbox start: `true` under bubblewrap as `ramparts sandbox` builds it, against `true` alone;
- MCP guard: screening one tools/call result of ~2 KB of text, against json.loads + json.dumps of it
  (what any relay must do anyway).

Ends with one ``RESULT name=value ...`` line.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ramparts.policy.load import load_policy  # noqa: E402
from ramparts.posture import discover, lint  # noqa: E402
from ramparts.sandbox import Guard, Pins, Spec, argv  # noqa: E402

CYCLE1 = ROOT / "tests/unit/posture/fixtures/cycle1-managed-settings.json"


def timed(fn: object, n: int) -> float:
    """Median seconds per call over ``n`` calls."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 30 if args.quick else 200
    results: dict[str, str] = {}

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        target = root / "etc/claude-code/managed-settings.json"
        target.parent.mkdir(parents=True)
        shutil.copy(CYCLE1, target)
        posture = timed(lambda: lint(discover(root=root, home="/home/d", project="/home/d/p")), n)
        parse = timed(lambda: json.loads(target.read_text()), n)
    results["posture_ms"] = f"{posture * 1000:.2f}"
    results["posture_vs_parse"] = f"{posture / parse:.0f}x"
    print(f"posture lint of cycle-1: {posture * 1000:.2f} ms (parse alone {parse * 1000:.3f} ms)")

    if shutil.which("bwrap"):
        line = argv(Spec(("true",)), bwrap=shutil.which("bwrap") or "bwrap")
        plain = timed(lambda: subprocess.run(["true"], check=True), n)
        boxed = timed(lambda: subprocess.run(line, check=True), n)
        results["sandbox_start_ms"] = f"{boxed * 1000:.1f}"
        results["sandbox_vs_plain"] = f"{boxed / plain:.1f}x"
        print(f"sandboxed `true`: {boxed * 1000:.1f} ms (plain {plain * 1000:.1f} ms, {boxed / plain:.1f}x)")

    with tempfile.TemporaryDirectory() as folder:
        policy_file = Path(folder) / "p.yaml"
        policy_file.write_text(
            "version: 1\nextends: baseline\nmcp:\n  servers:\n    docs:\n      tools: ['*']\n"
        )
        guard = Guard(
            "docs", load_policy(str(policy_file)), Pins.load(Path(folder) / "pins.json"), log=io.StringIO()
        )
        text = "Result line with ordinary documentation text about installing the package. " * 26
        message = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}
        raw = json.dumps(message)

        def screened() -> None:
            guard.pending_methods["7"] = "tools/call"
            json.dumps(guard.from_server(json.loads(raw)))

        relay = timed(lambda: json.dumps(json.loads(raw)), n * 10)
        guarded = timed(screened, n * 10)
    results["mcp_result_us"] = f"{guarded * 1e6:.0f}"
    results["mcp_vs_relay"] = f"{guarded / relay:.0f}x"
    print(f"MCP result screening: {guarded * 1e6:.0f} us per 2 KB result (plain relay {relay * 1e6:.1f} us)")
    print("RESULT " + " ".join(f"{k}={v}" for k, v in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
