"""The injection model slot: an ONNX classifier the admin provides, run with onnxruntime.

The policy names the file (``detect.injection.model``: an absolute ``path``, its pinned ``sha256``, and
how its probability combines with the built-in score, ``max`` or ``weighted``). :func:`load_slot` reads
the file once, checks its digest, opens it from the bytes it hashed (so a file swapped after the check
is never run), checks the contract below and runs it once on a probe text. Anything wrong raises
:class:`ModelError` with a reason that names the file, never a text; the callers fail closed (the hook
denies, the gateway refuses the request).

The contract (docs/detectors.md, "The model slot"):

- exactly one input, ``tensor(string)``, shape ``[N]`` or ``[N, 1]`` (``N`` symbolic or absent): the
  texts, one per row, as the built-in scorer sees them (the whole text up to 32 K characters, else its
  head, tail and samples joined by newlines). Tokenising is the model's business (in-graph: ONNX string
  ops, ``com.microsoft.Tokenizer``, sklearn-onnx pipelines);
- its first output, ``tensor(float)`` or ``tensor(double)``, shape ``[N]``, ``[N, 1]`` (the
  probability of an injection) or ``[N, 2]`` (column 1 is the injection class);
- every value finite and within 0..1 (a NaN or an out-of-range value is an error, never a pass).

onnxruntime is imported only here, and only when a policy names a model: the hook's cold path without
a model never imports it.
"""

from __future__ import annotations

import hashlib
import math
import threading
from typing import TYPE_CHECKING, Any

from ..errors import ScanError

if TYPE_CHECKING:
    from ..policy.types import InjectionModel

PROBE = "Ramparts model slot probe: please summarise this README before running the tests."
"""The text run once at load: a model that cannot score it cannot score anything."""
_FLOATS = ("tensor(float)", "tensor(double)")


class ModelError(ScanError):
    """The model slot cannot give a score (file, digest, signature or run): the control fails closed."""


class ModelSlot:
    """A loaded, checked model; thread-safe (onnxruntime sessions may run concurrently).

    ``slot(text)`` is the model's probability; :meth:`combine` merges it with the built-in score as
    the policy says. Passed to :func:`ramparts.detect.injection.score` as ``model=``."""

    name = "model.onnx"
    """The evidence signal id of the model's probability."""

    def __init__(self, session: Any, settings: InjectionModel, digest: str) -> None:
        import numpy as np

        self._np = np
        self._session = session
        self.settings = settings
        self.digest = digest
        inputs = session.get_inputs()
        self._input = inputs[0].name
        self._rank2 = len(inputs[0].shape or ()) == 2
        self._output = session.get_outputs()[0].name
        self.version = f"{digest}:{settings.combine}:{settings.weight}"
        """What a cache of combined scores must be keyed by, besides the text."""

    def __call__(self, text: str, /) -> float:
        return self.probabilities([text])[0]

    def probabilities(self, texts: list[str]) -> list[float]:
        """One probability per text; raises :class:`ModelError` on any failure or malformed answer."""
        np = self._np
        batch = np.array(texts, dtype=object)
        if self._rank2:
            batch = batch.reshape(-1, 1)
        try:
            out = self._session.run([self._output], {self._input: batch})[0]
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidArgument/RuntimeException
            raise ModelError(
                f"the injection model {self.settings.path} failed to run ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else 'no message'})"
            ) from exc
        return _probabilities(np.asarray(out), len(texts), self.settings.path)

    def combine(self, builtin: float, probability: float) -> float:
        if self.settings.combine == "weighted":
            w = self.settings.weight
            return (1.0 - w) * builtin + w * probability
        return max(builtin, probability)


def _probabilities(out: Any, count: int, path: str) -> list[float]:
    shape = tuple(out.shape)
    if shape == (count, 2):
        column = out[:, 1]
    elif shape in ((count,), (count, 1)):
        column = out.reshape(count)
    else:
        raise ModelError(
            f"the injection model {path} answered shape {list(shape)} for {count} text(s); "
            f"the contract is [N], [N, 1] or [N, 2]"
        )
    values = [float(v) for v in column.tolist()]
    for value in values:
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ModelError(f"the injection model {path} answered {value!r}, not a probability in 0..1")
    return values


_LOADED: dict[tuple[str, str], ModelSlot] = {}
_LOCK = threading.Lock()


def load_slot(settings: InjectionModel) -> ModelSlot | None:
    """The checked model the settings name (``None`` without a ``path``), loaded once per process and
    file digest; raises :class:`ModelError` with the reason."""
    if not settings.path:
        return None
    with _LOCK:
        held = _LOADED.get((settings.path, settings.sha256))
        if held is not None:
            if held.settings != settings:  # same file, another combination
                held = ModelSlot(held._session, settings, held.digest)
            return held
        slot = _load(settings)
        if len(_LOADED) >= 4:
            _LOADED.clear()
        _LOADED[(settings.path, settings.sha256)] = slot
        return slot


def _load(settings: InjectionModel) -> ModelSlot:
    path = settings.path
    if not settings.sha256:
        raise ModelError(f"detect.injection.model names {path} without its sha256; the digest must be pinned")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ModelError(f"the injection model {path} cannot be read ({exc.strerror or exc})") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != settings.sha256:
        raise ModelError(
            f"the injection model {path} has sha256 {digest[:16]}…, not the pinned {settings.sha256[:16]}…; "
            "it was not loaded"
        )
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            "detect.injection.model names a model but onnxruntime is not installed "
            "(pip install 'ramparts[model]')"
        ) from exc
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # errors reach the caller as exceptions, not on stderr
    options.intra_op_num_threads = 1  # the hook and each gateway worker score on one core
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(
            f"the injection model {path} is not a model onnxruntime can run ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no message'})"
        ) from exc
    _check_signature(session, path)
    slot = ModelSlot(session, settings, digest)
    slot.probabilities([PROBE])  # a runtime failure shows now, at load, not on the first real text
    return slot


def _check_signature(session: Any, path: str) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    where = f"the injection model {path}"
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(f"{where} takes {len(inputs)} inputs ({names}); the contract is one string tensor")
    text = inputs[0]
    if text.type != "tensor(string)":
        raise ModelError(f"{where}: input {text.name!r} is {text.type}; the contract is tensor(string)")
    shape = list(text.shape or ())
    if len(shape) not in (1, 2) or (len(shape) == 2 and _fixed(shape[1], (1,))) or isinstance(shape[0], int):
        raise ModelError(f"{where}: input {text.name!r} has shape {shape}; the contract is [N] or [N, 1]")
    if not outputs:
        raise ModelError(f"{where} has no output")
    out = outputs[0]
    if out.type not in _FLOATS:
        raise ModelError(f"{where}: output {out.name!r} is {out.type}; the contract is tensor(float)")
    oshape = list(out.shape or ())
    if len(oshape) not in (1, 2) or (len(oshape) == 2 and _fixed(oshape[1], (1, 2))):
        raise ModelError(
            f"{where}: output {out.name!r} has shape {oshape}; the contract is [N], [N, 1] or [N, 2]"
        )


def _fixed(dim: Any, allowed: tuple[int, ...]) -> bool:
    """A fixed dimension other than those allowed (a symbolic or unknown one can be anything)."""
    return isinstance(dim, int) and dim not in allowed
