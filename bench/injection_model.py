"""What the injection model slot costs: milliseconds per 20 KB text with and without the policy's model.

Usage::

    .venv/bin/python bench/injection_model.py [--quick] [--model PATH --sha256 HEX]

The baseline is the built-in scorer alone (``injection.score``, NumPy vector path as in the gateway's
workers, and pure Python as in the hook); the same texts are then scored with the model slot
(``combine: max``), in alternating rounds on one core, and the ratio printed. Also: the one-off costs a
process pays when a policy names a model (importing onnxruntime, reading, hashing, checking and
probing the file), which a cold hook process pays on every event that scans for injection.

Without ``--model`` the model is the tests' tiny bag-of-words classifier
(:mod:`ramparts.testing.onnx_models`, exported here into a temporary directory): it measures the slot's
own overhead (onnxruntime's call, the string tensor, the checks), not a transformer's inference. Pass
an admin's model to time that. The texts are 20 KB of mixed prose, code and markup from this
repository's docs and sources, each one different.

The last line is ``RESULT builtin_ms_20k=… model_ms_20k=… ratio=… model_only_ms_20k=… load_ms=… import_ms=…``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

SIZE = 20 * 1024


def texts(count: int) -> list[str]:
    """``count`` different 20 KB texts cut from the repository's docs and sources."""
    pool = "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(
            [*(ROOT / "docs").glob("*.md"), *(ROOT / "src" / "ramparts" / "gateway").glob("*.py")]
        )
    )
    step = max(1, (len(pool) - SIZE) // max(1, count))
    return [pool[i * step : i * step + SIZE] for i in range(count)]


def cpu_ms(fn: object, items: list[str]) -> list[float]:
    out = []
    for text in items:
        start = time.process_time()
        fn(text)  # type: ignore[operator]
        out.append((time.process_time() - start) * 1000)
    return out


def import_ms() -> float:
    """onnxruntime's import in a fresh interpreter (what a cold hook pays when a policy names a model)."""
    code = "import time; s = time.perf_counter(); import onnxruntime; print((time.perf_counter() - s) * 1000)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    ]
    runs.append(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    )
    return min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer texts and rounds (< 1 min)")
    parser.add_argument(
        "--model", help="an .onnx file meeting the slot's contract (default: the tiny test model)"
    )
    parser.add_argument("--sha256", help="its SHA-256 (required with --model)")
    args = parser.parse_args()

    from ramparts.detect import injection
    from ramparts.detect.injection_model import _LOADED, load_slot
    from ramparts.policy.types import InjectionModel

    count, rounds = (20, 3) if args.quick else (60, 5)
    items = texts(count)
    with tempfile.TemporaryDirectory(prefix="ramparts-bench-model-") as tmp:
        if args.model:
            if not args.sha256:
                parser.error("--model needs --sha256")
            path, digest, label = args.model, args.sha256, Path(args.model).name
        else:
            from ramparts.testing import onnx_models

            path = str(Path(tmp) / "tiny.onnx")
            weights = {"ignore": 2.0, "previous": 1.0, "instructions": 1.5, "assistant": 1.0, "password": 1.5}
            digest = onnx_models.bag_of_words(path, weights)
            label = "tiny bag-of-words (the tests' model)"
        imported = import_ms()
        start = time.perf_counter()
        slot = load_slot(InjectionModel(path, digest))
        load = (time.perf_counter() - start) * 1000
        assert slot is not None
        _LOADED.clear()
        start = time.perf_counter()
        load_slot(
            InjectionModel(path, digest)
        )  # again, onnxruntime already imported: read, hash, check, probe
        reload = (time.perf_counter() - start) * 1000

        print(f"# model: {label}; {count} texts of {SIZE // 1024} KB, {rounds} rounds, CPU time on one core")
        print(
            f"# one-off: import onnxruntime {imported:.1f} ms (fresh interpreter); first load {load:.1f} ms;"
        )
        print(
            f"#          load with onnxruntime imported (read, sha256, session, checks, probe) {reload:.1f} ms"
        )
        figures: dict[str, dict[str, list[float]]] = {}
        for vector in (True, False):
            injection.use_numpy(vector)
            path_name = "numpy" if vector else "python"
            got: dict[str, list[float]] = {"builtin": [], "model": [], "model_only": []}
            for text in items[:3]:  # warm both
                injection.score(text)
                injection.score(text, model=slot)
            for _ in range(rounds):
                got["builtin"] += cpu_ms(injection.score, items)
                got["model"] += cpu_ms(lambda t: injection.score(t, model=slot), items)
                got["model_only"] += cpu_ms(slot, items)
            figures[path_name] = got
        print(
            f"{'path':>7} {'built-in p50':>13} {'with model p50':>15} {'ratio':>6} {'model alone p50':>16} {'p99':>8}"
        )
        for path_name, got in figures.items():
            b, m, o = (statistics.median(got[k]) for k in ("builtin", "model", "model_only"))
            p99 = sorted(got["model"])[int(0.99 * (len(got["model"]) - 1))]
            print(f"{path_name:>7} {b:>10.2f} ms {m:>12.2f} ms {m / b:>5.2f}x {o:>13.2f} ms {p99:>5.2f} ms")
    g = figures["numpy"]
    b, m, o = (statistics.median(g[k]) for k in ("builtin", "model", "model_only"))
    print(
        f"RESULT builtin_ms_20k={b:.2f} model_ms_20k={m:.2f} ratio={m / b:.2f} model_only_ms_20k={o:.2f} "
        f"load_ms={reload:.1f} import_ms={imported:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
