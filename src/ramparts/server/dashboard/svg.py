"""Plots as server-rendered SVG: no script, no external asset; colours come from the page's CSS classes
(``.s-allow`` …) so both themes apply. Every chart has a <title> and a text alternative."""

from __future__ import annotations

import time
from html import escape

W, H, PAD = 640, 220, 36
OUTCOMES = ("allow", "ask", "deny", "none")


def _frame(title: str, body: str, desc: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title><desc>{escape(desc)}</desc>{body}</svg>'
    )


def _axes() -> str:
    return (
        f'<line class="axis" x1="{PAD}" y1="{H - PAD}" x2="{W - 8}" y2="{H - PAD}"/>'
        f'<line class="axis" x1="{PAD}" y1="8" x2="{PAD}" y2="{H - PAD}"/>'
    )


def rate_chart(series: list[tuple[float, int]], threshold: float | None, window: float = 60.0) -> str:
    """Tool calls in the preceding window at each call of a session, against the rule's threshold."""
    title = f"Tool calls per {window:g} s"
    if not series:
        return _frame(
            title, _axes() + f'<text x="{W // 2}" y="{H // 2}" class="label">no tool calls</text>', "no data"
        )
    t0, t1 = series[0][0], max(series[-1][0], series[0][0] + 1)
    top = max(max(c for _, c in series), threshold or 0) * 1.15 or 1
    sx = (W - PAD - 16) / (t1 - t0)
    sy = (H - PAD - 16) / top

    def xy(t: float, c: float) -> str:
        return f"{PAD + (t - t0) * sx:.1f},{H - PAD - c * sy:.1f}"

    points = " ".join(xy(t, c) for t, c in series)
    body = _axes() + f'<polyline class="line" fill="none" points="{points}"/>'
    if len(series) <= 60:  # a few calls: show each
        body += "".join(
            f'<circle class="dot" cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3"/>'
            for p in points.split()
        )
    if threshold:
        y = H - PAD - threshold * sy
        body += (
            f'<line class="threshold" x1="{PAD}" y1="{y:.1f}" x2="{W - 8}" y2="{y:.1f}"/>'
            f'<text class="label" x="{W - 12}" y="{y - 4:.1f}" text-anchor="end">threshold {threshold:g}</text>'
        )
    body += f'<text class="label" x="{PAD - 4}" y="{H - PAD}" text-anchor="end">0</text>'
    body += f'<text class="label" x="{PAD - 4}" y="20" text-anchor="end">{top / 1.15:.0f}</text>'
    body += f'<text class="label" x="{PAD}" y="{H - 12}">{time.strftime("%H:%M:%S", time.gmtime(t0))}</text>'
    body += f'<text class="label" x="{W - 8}" y="{H - 12}" text-anchor="end">{time.strftime("%H:%M:%S", time.gmtime(t1))} UTC</text>'
    peak = max(c for _, c in series)
    return _frame(title, body, f"peak {peak} calls per {window:g} s; threshold {threshold or 'none'}")


def hourly_chart(hours: list[tuple[str, dict[str, int]]]) -> str:
    """Stacked bars: decisions per hour by outcome."""
    title = "Decisions per hour by outcome"
    totals = [sum(v.values()) for _, v in hours] or [0]
    top = max(totals) or 1
    bw = (W - PAD - 16) / max(len(hours), 1)
    body = _axes()
    for i, (hour, counts) in enumerate(hours):
        y = float(H - PAD)
        for outcome in OUTCOMES:
            n = counts.get(outcome, 0)
            if not n:
                continue
            h = n / top * (H - PAD - 16)
            y -= h
            body += (
                f'<rect class="s-{outcome}" x="{PAD + i * bw + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{h:.1f}">'
                f"<title>{escape(hour)}:00 {outcome} {n}</title></rect>"
            )
        if i % 6 == 0:
            body += f'<text class="label" x="{PAD + i * bw:.1f}" y="{H - 12}">{escape(hour[11:13])}:00</text>'
    body += f'<text class="label" x="{PAD - 4}" y="20" text-anchor="end">{top}</text>'
    legend = "".join(
        f'<rect class="s-{o}" x="{W - 300 + j * 72}" y="4" width="10" height="10"/>'
        f'<text class="label" x="{W - 286 + j * 72}" y="13">{o}</text>'
        for j, o in enumerate(OUTCOMES)
    )
    return _frame(title, body + legend, f"{sum(totals)} decisions in {len(hours)} hours")


def bars_chart(items: list[tuple[str, int]], title: str) -> str:
    """Horizontal bars (top rules)."""
    if not items:
        return _frame(title, f'<text x="{W // 2}" y="{H // 2}" class="label">none</text>', "no data")
    top = max(n for _, n in items) or 1
    row = min((H - 8) / len(items), 28.0)
    body = ""
    for i, (name, n) in enumerate(items):
        w = n / top * (W - 260)
        y = 4 + i * row
        body += (
            f'<text class="label" x="200" y="{y + row * 0.7:.1f}" text-anchor="end">{escape(name[:32])}</text>'
            f'<rect class="s-deny" x="206" y="{y + 2:.1f}" width="{w:.1f}" height="{max(row - 4, 2):.1f}"/>'
            f'<text class="label" x="{210 + w:.1f}" y="{y + row * 0.7:.1f}">{n}</text>'
        )
    return _frame(title, body, "; ".join(f"{k}: {v}" for k, v in items))
