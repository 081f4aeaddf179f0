"""Train the injection classifier shipped as ``src/ramparts/detect/data/injection_model.json``.

Usage::

    .venv/bin/python bench/train_injection.py [--epochs N] [--out PATH] [--no-write]

Reads ``$RAMPARTS_CORPORA/injection`` (default ``../shared/corpora/injection``). Plain Python, no
numpy: logistic regression with AdaGrad over the hashed word 1-3-grams that
``ramparts.detect.injection`` computes at run time (the same functions, so the features match).

The model scores the best window of ``WINDOW`` tokens, as the runtime does, so training does the
same (multiple-instance learning): after a first pass on whole texts, each text contributes its
highest-scoring window, whatever its label. A positive text then teaches the words of its injected
part and a negative one the words most likely to cause a false alarm.

Split: every row goes to the held-out test set when a keyed BLAKE2b of its text falls in the last
``TEST_PERCENT`` of the range (:func:`split_of`): deterministic, independent of file order, and
identical texts always land on the same side. A row built by inserting an attack into a host
document (BIPIA, garak's latent injections) is hashed by that host's text instead, so a document
and its injected copies stay together (:func:`_host_keys`). Training never reads a test row; the
held-out metrics printed at the end are computed on the test rows only.

Balance: ``garak_attacks`` (15k rows, some probes 2,400 rows) is subsampled to ``PER_PROBE`` rows
per probe; ``notinject_benign`` (benign sentences full of trigger words) counts ``HARD_NEGATIVE``
times; both classes get the same total weight.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import re
import sys
import time
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from ramparts.detect import injection  # noqa: E402

OUT = ROOT / "src" / "ramparts" / "detect" / "data" / "injection_model.json"
TEST_PERCENT = 25
PER_PROBE = 120
EVAL_PER_PROBE = 60
HARD_NEGATIVE = 3.0
BITS = 20
WINDOW = 32
NGRAMS = 2
MAX_TOKENS = 6000
KEEP = 40000
L2 = 1e-4
LENGTH_PENALTY = 1.0
"""See ``ramparts.detect.injection.length_offset``: the best of many windows is discounted. Applied
after training, as a calibration: trained with it, the model inflates its weights to compensate and
both the held-out TPR and the false alarms on ordinary files get worse."""
LR = 0.2
"""Weights kept after pruning (largest magnitude first)."""

FILES = (
    "garak_attacks",
    "garak_benign",
    "bipia_injected",
    "bipia_benign",
    "bipia_attack_instructions",
    "notinject_benign",
    "llm_guard_tests",
)


class Row(NamedTuple):
    text: str
    label: int
    corpus: str
    group: str
    """The garak probe, BIPIA task, or the corpus name: what per-group caps and reports use."""
    key: str
    """What the split hashes: the host document when the row embeds one (see :func:`_host_keys`),
    else the text itself."""


def corpora_dir() -> Path | None:
    base = Path(os.environ.get("RAMPARTS_CORPORA", str(ROOT.parent / "shared" / "corpora")))
    folder = base / "injection"
    return folder if folder.is_dir() else None


def split_of(text: str) -> str:
    """``test`` or ``train``, from a seeded hash of a text (a row's :attr:`Row.key`)."""
    digest = hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=8, key=b"ramparts-inj-split-v1"
    )
    return "test" if int.from_bytes(digest.digest(), "big") % 100 < TEST_PERCENT else "train"


def _order(text: str) -> int:
    """A stable pseudo-random order for subsampling (a different key from the split)."""
    digest = hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=8, key=b"ramparts-inj-order-v1"
    )
    return int.from_bytes(digest.digest(), "big")


_EDGE = 100


def _host_keys(rows: list[Row], benign: str, attacks: str) -> list[Row]:
    """Give an injected row the key of the benign document it was built from.

    BIPIA and garak's latent-injection probes insert an attack at the start, middle or end of a
    host document that the benign file also holds. Splitting by each row's own text would put a
    host in the test set while its injected copies train the model, which then learns the host's
    words as "injection" and flags the clean host: a split artefact, not a property of the scorer.
    Keyed by the host, a document and its injected copies always land on the same side.
    """
    heads: dict[str, str] = {}
    tails: dict[str, str] = {}
    for row in rows:
        if row.corpus == benign:
            body = row.text.strip()
            heads.setdefault(body[:_EDGE], body[:_EDGE])
            tails.setdefault(body[-_EDGE:], body[:_EDGE])
    out = []
    for row in rows:
        body = row.text.strip()
        if row.corpus == benign:
            row = row._replace(key=body[:_EDGE])
        elif row.corpus == attacks:
            key = heads.get(body[:_EDGE]) or tails.get(body[-_EDGE:])
            if key is not None:
                row = row._replace(key=key)
        out.append(row)
    return out


def load_rows(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for name in FILES:
        path = folder / f"{name}.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                text = item.get("text")
                if not isinstance(text, str) or not text:
                    continue
                label = int(item.get("label", 0))
                if name == "llm_guard_tests" and item.get("task") != "prompt_injection":
                    label = 0  # PII and secrets samples: for this detector they are benign text
                group = str(item.get("probe") or item.get("task") or item.get("kind") or name)
                rows.append(Row(text, label, name, group, text))
    rows = _host_keys(rows, "bipia_benign", "bipia_injected")
    return _host_keys(rows, "garak_benign", "garak_attacks")


EXTRA_SHARE = 0.4
"""Share of the negative weight given to the extra benign text below."""
LOCAL_FILES = 1500
LOCAL_CHARS = 8000
TLDR_PAGES = 1200


def tldr_rows(folder: Path) -> list[Row]:
    """tldr pages rebuilt as markdown from ``commands/tldr.jsonl``: ordinary command documentation.

    Tool output a coding agent reads is full of commands, ``curl``, "run this"; the injection
    corpora hold little of it, so without these pages the classifier learns that code is suspicious.
    """
    path = folder.parent / "commands" / "tldr.jsonl"
    if not path.exists():
        return []
    pages: dict[str, list[str]] = collections.defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            pages[str(item.get("page", ""))].append(f"- {item.get('desc', '')}\n\n`{item.get('text', '')}`\n")
    chosen = sorted(pages, key=lambda p: _order(p))[:TLDR_PAGES]
    out = []
    for page in chosen:
        name = page.rsplit("/", 1)[-1].removesuffix(".md")
        text = f"# {name}\n\n" + "\n".join(pages[page])
        out.append(Row(text, 0, "tldr_pages", "tldr", page))
    return out


LOCAL_MANIFEST = ROOT / "bench" / "injection_local_files.tsv"
"""The pinned selection of local benign files: root name, relative path, SHA-256, piece offset."""


def _local_roots() -> dict[str, Path]:
    """The folders local benign text is drawn from, by the name the manifest records them under."""
    import sysconfig

    paths = sysconfig.get_paths()
    return {"stdlib": Path(paths["stdlib"]), "purelib": Path(paths["purelib"]), "doc": Path("/usr/share/doc")}


def select_local_files(roots: dict[str, Path], count: int = LOCAL_FILES) -> list[dict[str, Any]]:
    """Choose ``count`` readable text files under ``roots`` by a stable hash of their relative path.

    Standard-library ``.py`` files (not ``site-packages``) under ``stdlib``; documentation
    (no suffix, ``.md``, ``.rst``, ``.txt``, ``.html``) under the others. Each entry records the root's
    name, the path relative to it, the file's SHA-256 and the offset of its ``LOCAL_CHARS`` piece.
    Run once (``--pin-local``): what it picks depends on what is installed, which is why the result is
    written to :data:`LOCAL_MANIFEST` and :func:`local_rows` reads only that.
    """
    files: list[tuple[str, Path, str]] = []
    for name, root in sorted(roots.items()):
        if not root.is_dir():
            continue
        if name == "stdlib":
            found = [(p, "py") for p in root.rglob("*.py") if "site-packages" not in p.parts]
        else:
            found = [(p, "doc") for p in root.rglob("*") if p.suffix in ("", ".md", ".rst", ".txt", ".html")]
        files += [(name, p, kind) for p, kind in found]
    files.sort(key=lambda f: (_order(f"{f[0]}:{f[1].relative_to(roots[f[0]])}"), str(f[1])))
    out: list[dict[str, Any]] = []
    for name, path, kind in files:
        if len(out) >= count:
            break
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 400_000:
                continue
            data = path.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if len(text.strip()) < 200:
            continue
        rel = str(path.relative_to(roots[name]))
        start = _order(f"{name}:{rel}#") % max(1, len(text) - LOCAL_CHARS)
        digest = hashlib.sha256(data).hexdigest()
        out.append({"root": name, "path": rel, "sha256": digest, "start": start, "kind": kind})
    return out


def write_local_manifest(entries: list[dict[str, Any]], path: Path = LOCAL_MANIFEST) -> None:
    """One tab-separated line per file: root, relative path, SHA-256, piece offset, kind."""
    lines = [
        "# bench/train_injection.py local benign files, pinned once with --pin-local; local_rows() reads",
        "# exactly these and skips (and counts) any whose SHA-256 changed. root\tpath\tsha256\tstart\tkind",
    ]
    lines += [f"{e['root']}\t{e['path']}\t{e['sha256']}\t{e['start']}\t{e['kind']}" for e in entries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_local_manifest(path: Path = LOCAL_MANIFEST) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            root, rel, digest, start, kind = line.split("\t")
            out.append({"root": root, "path": rel, "sha256": digest, "start": int(start), "kind": kind})
    return out


def local_rows(
    manifest: Path = LOCAL_MANIFEST, roots: dict[str, Path] | None = None, report: bool = True
) -> list[Row]:
    """Benign text from the files pinned in ``manifest``: standard-library source and installed docs.

    Pieces of ``LOCAL_CHARS`` characters at the pinned offsets. A file that is missing or whose SHA-256
    differs from the pinned one is skipped and counted on stderr, so the rows are the pinned ones or
    fewer, never different ones. Not a published corpus: the figures for these rows are a sanity check
    of false alarms on ordinary files, not a benchmark.
    """
    if not manifest.exists():
        return []
    entries = read_local_manifest(manifest)
    roots = roots if roots is not None else _local_roots()
    out: list[Row] = []
    missing = 0
    for entry in entries:
        root = roots.get(entry["root"])
        try:
            if root is None:
                raise FileNotFoundError(entry["root"])
            data = (root / entry["path"]).read_bytes()
        except OSError:
            missing += 1
            continue
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            missing += 1
            continue
        text = data.decode("utf-8")
        start = int(entry["start"])
        out.append(
            Row(
                text[start : start + LOCAL_CHARS],
                0,
                "local_files",
                entry["kind"],
                f"{entry['root']}:{entry['path']}",
            )
        )
    if missing and report:
        print(
            f"local_rows: {missing} of {len(entries)} pinned files missing or changed; skipped",
            file=sys.stderr,
        )
    return out


def cap_per_group(rows: Iterable[Row], cap: int, corpus: str = "garak_attacks") -> list[Row]:
    """At most ``cap`` rows per group of ``corpus`` (chosen by a stable hash), all rows of the others."""
    by_group: dict[str, list[Row]] = collections.defaultdict(list)
    out: list[Row] = []
    for row in rows:
        if row.corpus == corpus:
            by_group[row.group].append(row)
        else:
            out.append(row)
    for group in sorted(by_group):
        out.extend(sorted(by_group[group], key=lambda r: _order(r.text))[:cap])
    return out


def split_rows(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    train = [r for r in rows if split_of(r.key) == "train"]
    test = [r for r in rows if split_of(r.key) == "test"]
    return train, test


# -- model ------------------------------------------------------------------------------------------


class Doc(NamedTuple):
    feats: array[int]
    offsets: array[int]
    """Token ``i`` owns ``feats[offsets[i]:offsets[i + 1]]``."""
    label: int
    weight: float


def featurize(text: str, mask: int, ngrams: int = NGRAMS) -> tuple[array[int], array[int]]:
    tokens = injection.tokens(text)
    if len(tokens) > MAX_TOKENS:
        tokens = tokens[: MAX_TOKENS // 2] + tokens[-MAX_TOKENS // 2 :]
    feats = array("q")
    offsets = array("q", [0])
    for per_token in injection.feature_hashes(tokens, mask, ngrams):
        feats.extend(per_token)
        offsets.append(len(feats))
    return feats, offsets


def _sigmoid(z: float) -> float:
    z = max(-35.0, min(35.0, z))
    return 1.0 / (1.0 + math.exp(-z))


def best_window(doc: Doc, w: dict[int, float], window: int) -> tuple[int, int]:
    n = len(doc.offsets) - 1
    if n <= window:
        return 0, n
    feats, offs = doc.feats, doc.offsets
    contrib = [sum(w.get(feats[j], 0.0) for j in range(offs[i], offs[i + 1])) for i in range(n)]
    total = sum(contrib[:window])
    best, start = total, 0
    for i in range(window, n):
        total += contrib[i] - contrib[i - window]
        if total > best:
            best, start = total, i - window + 1
    return start, start + window


def window_counts(doc: Doc, start: int, end: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for j in range(doc.offsets[start], doc.offsets[end]):
        f = doc.feats[j]
        counts[f] = counts.get(f, 0) + 1
    return counts


class Trainer:
    """Logistic regression, AdaGrad, L2; weights keyed by hashed feature."""

    def __init__(self, lr: float = 0.2, l2: float = 1e-6) -> None:
        self.w: dict[int, float] = {}
        self.g: dict[int, float] = {}
        self.bias = 0.0
        self.gb = 1e-8
        self.lr = lr
        self.l2 = l2

    def step(self, counts: dict[int, int], label: int, weight: float) -> None:
        w, g = self.w, self.g
        z = self.bias + sum(w.get(f, 0.0) * c for f, c in counts.items())
        grad = (_sigmoid(z) - label) * weight
        self.gb += grad * grad
        self.bias -= self.lr * grad / math.sqrt(self.gb)
        for f, c in counts.items():
            wf = w.get(f, 0.0)
            gf = grad * c + self.l2 * wf
            acc = g.get(f, 1e-8) + gf * gf
            g[f] = acc
            w[f] = wf - self.lr * gf / math.sqrt(acc)


def train(
    docs: list[Doc],
    epochs: int,
    window: int,
    seed_order: list[int],
    lr: float,
    l2: float,
    verbose: bool = True,
) -> Trainer:
    model = Trainer(lr, l2)
    for epoch in range(epochs):
        t0 = time.time()
        for k in seed_order if epoch % 2 == 0 else reversed(seed_order):
            doc = docs[k]
            n = len(doc.offsets) - 1
            if epoch == 0 and n > window:
                if doc.label == 1:
                    model.step(window_counts(doc, 0, n), 1, doc.weight)
                else:
                    step = window // 2
                    starts = list(range(0, n - window + 1, step))[:12]
                    for s in starts:
                        model.step(window_counts(doc, s, s + window), 0, doc.weight / max(1, len(starts) / 2))
                continue
            start, end = best_window(doc, model.w, window)
            model.step(window_counts(doc, start, end), doc.label, doc.weight)
        if verbose:
            print(
                f"  epoch {epoch + 1}/{epochs}: {time.time() - t0:.1f}s, {len(model.w)} weights", flush=True
            )
    return model


def prune(weights: dict[int, float], keep: int) -> dict[int, float]:
    ranked = sorted(weights.items(), key=lambda kv: -abs(kv[1]))[:keep]
    return {k: round(v, 4) for k, v in ranked if round(v, 4) != 0.0}


def fit(
    train_rows: Sequence[Row],
    epochs: int,
    window: int = WINDOW,
    keep: int = KEEP,
    ngrams: int = NGRAMS,
    lr: float = LR,
    l2: float = L2,
    length_penalty: float = LENGTH_PENALTY,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train on ``train_rows`` and return the model document (the shipped JSON's shape)."""
    mask = (1 << BITS) - 1
    t0 = time.time()
    weights = weigh(train_rows)
    docs = []
    for row, weight in zip(train_rows, weights, strict=True):
        feats, offsets = featurize(row.text, mask, ngrams)
        docs.append(Doc(feats, offsets, row.label, weight))
    if verbose:
        print(f"features: {time.time() - t0:.1f}s")
    order = sorted(range(len(docs)), key=lambda i: _order(train_rows[i].text))
    trained = train(docs, epochs, window, order, lr, l2, verbose)
    pruned = prune(trained.w, keep)
    if verbose:
        print(f"weights: {len(trained.w)} trained, {len(pruned)} kept, bias {trained.bias:.3f}")
    return {
        "format": "ramparts-injection-lr/1",
        "features": {"bits": BITS, "ngrams": ngrams, "window": window, "hash": "crc32-mix", "shape": True},
        "bias": round(trained.bias, 4),
        "length_penalty": length_penalty,
        "weights": {"features": sorted(pruned), "values": [pruned[k] for k in sorted(pruned)]},
    }


def use_model(doc: dict[str, Any]) -> None:
    """Make ``ramparts.detect.injection`` score with ``doc`` (a model from :func:`fit`) in this process."""
    injection._model = injection.model_from_doc(doc)


# -- metrics ----------------------------------------------------------------------------------------


def roc_points(scores: Sequence[float], labels: Sequence[int]) -> list[tuple[float, float, float]]:
    """(threshold, fpr, tpr) at every distinct score, highest threshold first."""
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    pos = sum(labels) or 1
    neg = (len(labels) - sum(labels)) or 1
    tp = fp = 0
    out: list[tuple[float, float, float]] = []
    i = 0
    while i < len(pairs):
        threshold = pairs[i][0]
        while i < len(pairs) and pairs[i][0] == threshold:
            tp += pairs[i][1]
            fp += 1 - pairs[i][1]
            i += 1
        out.append((threshold, fp / neg, tp / pos))
    return out


def tpr_at(points: Sequence[tuple[float, float, float]], max_fpr: float) -> tuple[float, float]:
    """The best TPR whose FPR is at most ``max_fpr``, and the threshold that gives it."""
    best = (0.0, 1.0)
    for threshold, fpr, tpr in points:
        if fpr <= max_fpr and tpr > best[0]:
            best = (tpr, threshold)
    return best


def auc(points: Sequence[tuple[float, float, float]]) -> float:
    area, last_fpr, last_tpr = 0.0, 0.0, 0.0
    for _, fpr, tpr in points:
        area += (fpr - last_fpr) * (tpr + last_tpr) / 2
        last_fpr, last_tpr = fpr, tpr
    return area + (1.0 - last_fpr) * (1.0 + last_tpr) / 2


EXTRA = ("tldr_pages", "local_files")
GENERATED = "generated"
GEN_SEED = 1
GEN_ROWS = 3000
"""Rows from ``bench/injection_gen.py`` (its ``train`` part only: the ``eval`` part's phrase banks are
kept for the hard benign sets that ``bench/injection_quality.py`` measures)."""


def generated_rows(seed: int = GEN_SEED, n: int = GEN_ROWS) -> list[Row]:
    from injection_gen import generate

    return [Row(s.text, s.label, GENERATED, s.kind, s.text) for s in generate(seed, n, "train")]


BARE_WEIGHT = 0.25
"""Weight of garak encoding rows that are a bare payload with no words around it ("$0V]O;@"): no
text model can tell them from ordinary punctuation-heavy code, and at full weight they teach the
classifier that code is an injection. The ``encoded`` layer is what catches the ones it can decode."""
_FRAMING = re.compile(r"(?i)\b(?:encoded|decode[ds]?|decoding|encoding|cipher|monologue|string)\b")


def _bare(row: Row) -> bool:
    return row.group.startswith("encoding.") and not _FRAMING.search(row.text)


def weigh(rows: Sequence[Row]) -> list[float]:
    """Both classes weigh the same in total; the extra benign text gets ``EXTRA_SHARE`` of the negatives."""
    pos = sum(1 for r in rows if r.label == 1)
    raw = [
        HARD_NEGATIVE if r.corpus == "notinject_benign" else BARE_WEIGHT if _bare(r) else 1.0 for r in rows
    ]
    extra = sum(w for w, r in zip(raw, rows, strict=True) if r.corpus in EXTRA)
    core = sum(w for w, r in zip(raw, rows, strict=True) if r.label == 0 and r.corpus not in EXTRA)
    out = []
    for w, r in zip(raw, rows, strict=True):
        if r.label == 1:
            out.append(w)
        elif r.corpus in EXTRA:
            out.append(w * pos * EXTRA_SHARE / extra)
        else:
            out.append(w * pos * (1 - EXTRA_SHARE if extra else 1.0) / core)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--window", type=int, default=WINDOW)
    parser.add_argument("--keep", type=int, default=KEEP)
    parser.add_argument("--ngrams", type=int, default=NGRAMS, choices=(1, 2, 3))
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--length-penalty", type=float, default=LENGTH_PENALTY)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--no-write", action="store_true", help="train and report, but keep the shipped weights"
    )
    parser.add_argument(
        "--quick", action="store_true", help="two epochs, and keep the shipped weights (under a minute)"
    )
    parser.add_argument(
        "--pin-local",
        action="store_true",
        help=f"choose the local benign files afresh and write {LOCAL_MANIFEST.name} (then train as usual)",
    )
    args = parser.parse_args(argv)
    if args.pin_local:
        write_local_manifest(select_local_files(_local_roots()))
        print(f"wrote {LOCAL_MANIFEST}")
    if args.quick:
        args.epochs, args.no_write = min(args.epochs, 2), True

    folder = corpora_dir()
    if folder is None:
        print("injection corpora not found (set RAMPARTS_CORPORA); nothing to train")
        print("RESULT skipped=1")
        return 0
    rows = load_rows(folder) + tldr_rows(folder) + local_rows() + generated_rows()
    train_rows, test_rows = split_rows(rows)
    train_rows = cap_per_group(train_rows, PER_PROBE)
    print(
        f"rows: {len(rows)}; train {len(train_rows)} (garak capped at {PER_PROBE}/probe), held-out {len(test_rows)}"
    )
    for corpus in (*FILES, *EXTRA, GENERATED):
        sub = [r for r in train_rows if r.corpus == corpus]
        print(f"  train {corpus:28s} {len(sub):6d}  positives {sum(r.label for r in sub)}")

    model_doc = fit(
        train_rows, args.epochs, args.window, args.keep, args.ngrams, args.lr, args.l2, args.length_penalty
    )
    model_doc["trained_on"] = {
        "corpora": [*FILES, *EXTRA, GENERATED],
        "split": f"blake2b(host or text, key=ramparts-inj-split-v1) % 100 < {TEST_PERCENT} is held out",
        "garak_per_probe": PER_PROBE,
        "generated": f"bench/injection_gen.py generate(seed={GEN_SEED}, n={GEN_ROWS}, part=train)",
        "rows": len(train_rows),
    }
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out if not args.no_write else Path(tmp) / "model.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(model_doc, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {out} ({out.stat().st_size} bytes)" + (" (not shipped)" if args.no_write else ""))
        injection._model = None
        injection._load_model(str(out))  # the held-out report scores with the weights just trained
        _report(test_rows)
        injection._model = None
    return 0


def _report(test_rows: list[Row]) -> None:
    """Held-out metrics of the whole scorer (all layers) and of the classifier alone.

    The TPR/FPR figures use the injection corpora only; the extra benign text is reported apart, as
    the share of its held-out pieces at or above ``warn`` (0.5) and above the FPR-1 % threshold.
    """
    rows = cap_per_group([r for r in test_rows if r.corpus not in EXTRA], EVAL_PER_PROBE)
    extra = [r for r in test_rows if r.corpus in EXTRA]
    labels = [r.label for r in rows]
    headline = 0.0
    for name, scorer in (
        ("scorer", lambda t: injection.score(t).score),
        ("classifier", lambda t: injection._classify(injection.tokens(t))[0]),
    ):
        points = roc_points([scorer(r.text) for r in rows], labels)
        t1, th1 = tpr_at(points, 0.01)
        t5, th5 = tpr_at(points, 0.05)
        headline = t1 if name == "scorer" else headline
        extra_scores = [scorer(r.text) for r in extra]
        warned = sum(1 for x in extra_scores if x >= 0.5) / max(1, len(extra_scores))
        over = sum(1 for x in extra_scores if x >= th1) / max(1, len(extra_scores))
        print(
            f"held-out {name:10s}: n={len(rows)} TPR@FPR1%={t1:.3f} (t={th1:.3f}) "
            f"TPR@FPR5%={t5:.3f} (t={th5:.3f}) AUC={auc(points):.4f}; "
            f"extra benign n={len(extra)}: >=warn {warned:.3f}, >=t1 {over:.3f}"
        )
    print(f"RESULT tpr_at_fpr1={headline:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
