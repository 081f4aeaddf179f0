"""Argument types that range-check at parse time, so a bad value is one usage line and exit 2."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An ``int`` in ``low..high`` (either end open when ``None``)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        _check(value, low, high)
        return value

    parse.__name__ = "integer"  # argparse names the type in its message
    return parse


def float_range(low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """A finite ``float`` in ``low..high`` (either end open when ``None``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        _check(value, low, high)
        return value

    parse.__name__ = "number"
    return parse


def _check(value: float, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{value:g} is out of range; give {low:g}..{high:g}")
    if low is not None and value < low:
        raise argparse.ArgumentTypeError(f"{value:g} is too small; give at least {low:g}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"{value:g} is too large; give at most {high:g}")


def listen_address(text: str) -> str:
    """``HOST:PORT`` with a port in 0..65535 (0: a free port); returned unchanged."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"give HOST:PORT with a port in 0..65535, not {text!r}")
    return text


listen_address.__name__ = "address"
