"""What the gateway adds to a streamed Messages answer: per-event latency, TTFB, memory per stream.

Usage::

    .venv/bin/python bench/gateway.py [--quick] [--levels 1,50,100] [--events N] [--interval-ms MS]
                                      [--baseline-src DIR]

Three processes on loopback: a paced scripted upstream (aiohttp; each SSE event carries the
``time.monotonic()`` at which it was written, a system-wide clock on Linux), ``ramparts gateway``
(started with the CLI, its own state directory, a client token) and this client. For each
concurrency level (1, 50, 100 streams) the client runs the same batch **direct to the upstream** and
**through the gateway**, alternating, in one run. Every stream posts a 20 KB prompt (a config file with
an e-mail address, a phone number and an AWS key, so the gateway really masks) and receives ``events``
text deltas ``interval`` ms apart (F1: 200 at 20 ms; ``--quick``: 50).

Figures, per level:

- per-event latency = arrival at the client − write at the upstream; added = gateway − direct, at p50
  and p99 (the direct run pays the same client and upstream costs);
- TTFB = request start → first byte of the answer, gateway − direct at p50 and p99 (includes the
  gateway's masking and injection screening of the 20 KB prompt); and, sequentially, the TTFB of the
  same conversation one turn later (one new 1 KB tool result; the 20 KB one is cached by digest);
- RSS per stream = (gateway RSS with every stream open − RSS before the batch) / streams.

- CPU per request = CPU time (``/proc``, 10 ms ticks) of the gateway's own process and of its detector
  worker processes over a batch / streams: where a burst's time goes.

``--baseline-src DIR`` (another tree's ``src``, e.g. ``git archive main src | tar -x -C /tmp/base``)
starts that tree's gateway too, as ``before``: direct, before and this gateway alternate in one run,
so before/after figures come from the same machine state.

The last line is ``RESULT p99_added_ms_100=… p50_added_ms_100=… ttfb_delta_p50_ms=… rss_kb_per_stream=…
cpu_gateway_ms_per_req_100=… cpu_workers_ms_per_req_100=…`` (with ``before_``-prefixed copies).

``--walk`` (also run first in every full or ``--quick`` run): what the request walk of issue 22 costs
per request, in this process, old and new side by side on the same Claude Code-shaped body (system
blocks, 12 tool definitions, metadata and settings fields, 20 turns of tool results, one PDF): the
walk alone, and screening plus masking with warm caches (every turn after the first: only the newest
blocks are new) and cold (a gateway's first request: tool definitions scored, the PDF read). The old
code is ``bench/_gateway_before.py``. Its figures are added to the RESULT line (``walk_us_*``,
``prepare_us_*``, ``cold_ms_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAMP = re.compile(rb'"text":"t=([0-9.]+) ')
EMAIL, PHONE, AWS = "jane.roe@acme-corp.io", "+1 415 555 2671", "AKIAQ3EGXJ5TZRPLW4NB"


# -- the paced upstream (its own process) ------------------------------------------------------------


def serve_upstream(events: int, interval: float, lifetime: float) -> None:
    from aiohttp import web

    def sse(kind: str, obj: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()

    async def messages(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        start = {
            "type": "message_start",
            "message": {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "content": [],
                "usage": {"input_tokens": 5000},
            },
        }
        await response.write(
            sse("message_start", start)
            + sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for i in range(events):
            await asyncio.sleep(interval)
            if i % 25 == 0:
                await response.write(b'event: ping\ndata: {"type":"ping"}\n\n')
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": f"t={time.monotonic():.6f} word{i} "},
            }
            await response.write(sse("content_block_delta", delta))
        await response.write(
            sse("content_block_stop", {"type": "content_block_stop", "index": 0})
            + sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": events},
                },
            )
            + sse("message_stop", {"type": "message_stop"})
        )
        await response.write_eof()
        return response

    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", messages)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        server: Any = site._server
        print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.sleep(lifetime)
        await runner.cleanup()

    asyncio.run(main())


# -- measurement ------------------------------------------------------------------------------------


def prompt(size: int = 20_000, tag: str = "") -> dict[str, Any]:
    """A 20 KB tool result; ``tag`` makes it unique, so the gateway's per-text scan cache never helps
    (the figures are for new text; a conversation's earlier turns cost nothing to re-scan)."""
    file = f"# request {tag}\nowner: Jane Roe\nemail: {EMAIL}\nphone: {PHONE}\naws_access_key_id = {AWS}\n"
    filler = "def handler(event, context):\n    return {'status': 200, 'body': event.get('body')}\n"
    text = file + filler * ((size - len(file)) // len(filler) + 1)
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "stream": True,
        "messages": [
            {"role": "user", "content": "summarise config.py"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t0", "name": "Read", "input": {}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t0", "content": text[:size]}],
            },
        ],
    }


def claude_like_body(turns: int = 20) -> dict[str, Any]:
    """A request shaped like Claude Code's (synthetic text): system blocks, tool definitions, the
    settings fields it sends, ``turns`` Read calls with 4 KB results, a PDF read in turn 3."""
    import base64

    from ramparts.testing.pdf import make_pdf

    words = "the tool reads a file from the workspace and returns its lines with numbers prefixed "
    tools = [
        {
            "name": f"Tool{i}",
            "description": (words * (8 + 3 * i))[: 600 + 250 * i],
            "input_schema": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "absolute path of the file to read"},
                    "limit": {"type": "integer", "description": "how many lines to read at most"},
                },
                "required": ["path"],
            },
        }
        for i in range(12)
    ]
    filler = "def handler(event, context):\n    return {'status': 200, 'body': event.get('body')}\n"
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "<reminder>" + words * 10}, {"type": "text", "text": "go"}],
        }
    ]
    pdf = base64.b64encode(make_pdf(["Quarterly report", "revenue is up"])).decode()
    for turn in range(turns):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"t{turn}",
                        "name": "Read",
                        "input": {"file_path": f"/w/f{turn}.py"},
                    }
                ],
            }
        )
        result: Any = f"# file {turn}\n" + filler * 50
        if turn == 3:
            result = [
                {"type": "text", "text": "PDF file read"},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                },
            ]
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"t{turn}", "content": result}],
            }
        )
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": True,
        "system": [{"type": "text", "text": "billing header"}, {"type": "text", "text": words * 150}],
        "tools": tools,
        "metadata": {"user_id": json.dumps({"device_id": "d" * 64, "session_id": "s"})},
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
        "messages": messages,
    }


def walk_bench(quick: bool) -> dict[str, float]:
    """Old and new walk, warm and cold prepare, on the same body (this process, one thread)."""
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _gateway_before import mask_request_before
    from _gateway_before import walk_request as walk_before

    from ramparts.detect.scanner import Detectors
    from ramparts.gateway.cache import ResultCache
    from ramparts.gateway.documents import DocumentPolicy, scan_pdf
    from ramparts.gateway.mask import Masker, MaskPolicy, detector_scanner
    from ramparts.gateway.pool import cached
    from ramparts.gateway.screen import Screener, injection_scorer
    from ramparts.gateway.shapes import walk_request as walk_after
    from ramparts.gateway.vault import MemoryVault

    key = b"k" * 32
    with tempfile.TemporaryDirectory(prefix="ramparts-bench-walk-") as cache_dir:
        detectors = Detectors(("secret", "pii"), cache_dir=cache_dir)
    scan = detector_scanner(detectors, key)
    body = claude_like_body()
    identity = lambda text, where: text  # noqa: E731
    n = 30 if quick else 200

    def paired(before: Any, after: Any) -> tuple[float, float]:
        """Median µs of each, calls alternating (a busy machine slows both alike)."""
        before(), after()
        samples: tuple[list[float], list[float]] = ([], [])
        for _ in range(n):
            for i, fn in enumerate((before, after)):
                t = time.perf_counter()
                fn()
                samples[i].append(time.perf_counter() - t)
        return statistics.median(samples[0]) * 1e6, statistics.median(samples[1]) * 1e6

    def fresh() -> tuple[Masker, Screener]:
        pdfs = ResultCache(64)
        policy = DocumentPolicy()
        scanned = cached(scan)
        masker = Masker(
            MaskPolicy(),
            scanned,
            MemoryVault(key),
            pdf_scan=lambda d: pdfs.get_or(d, lambda x: scan_pdf(x, scanned, policy)),
        )
        return masker, Screener(injection_scorer(key, block=0.8, warn=0.5), block=0.8, warn=0.5)

    def prepare_before(masker: Masker, screener: Screener) -> None:
        mask_request_before(masker, screener._screen_results(body).body, "s")

    def prepare_after(masker: Masker, screener: Screener) -> None:
        masker.mask_request(screener.screen_request(body).body, "s")

    out: dict[str, float] = {}
    out["walk_us_before"], out["walk_us_after"] = paired(
        lambda: walk_before(body, identity), lambda: walk_after(body, identity)
    )
    cold: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(3):
        for name, prepare in (("before", prepare_before), ("after", prepare_after)):
            masker, screener = fresh()
            t = time.perf_counter()
            prepare(masker, screener)
            cold[name].append(time.perf_counter() - t)
    out["cold_ms_before"] = statistics.median(cold["before"]) * 1000
    out["cold_ms_after"] = statistics.median(cold["after"]) * 1000
    warm_before, warm_after = fresh(), fresh()
    out["prepare_us_before"], out["prepare_us_after"] = paired(
        lambda: prepare_before(*warm_before), lambda: prepare_after(*warm_after)
    )
    size = len(json.dumps(body)) // 1024
    print(f"# request walk (issue 22), one {size} KB Claude Code-shaped body, median of {n}, this process:")
    print(f"{'':>30} {'before':>10} {'after':>10} {'added':>10}")
    for label_, unit, k in (
        ("walk alone", "us", "walk_us"),
        ("screen + mask, warm caches", "us", "prepare_us"),
        ("screen + mask, cold", "ms", "cold_ms"),
    ):
        before, after = out[f"{k}_before"], out[f"{k}_after"]
        print(f"{label_:>30} {before:>8.1f}{unit} {after:>8.1f}{unit} {after - before:>+8.1f}{unit}")
    return out


def appended(body: dict[str, Any], turn: int, size: int = 1_000) -> dict[str, Any]:
    """``body`` one turn later: the model's next tool call and a new ``size``-byte result. Every
    earlier block is unchanged (Claude Code resends the conversation), so only the new one is new."""
    text = (
        f"# turn {turn} {os.urandom(4).hex()}\n" + "ok: all checks passed on this file\n" * (size // 34 + 1)
    )[:size]
    return {
        **body,
        "messages": [
            *body["messages"],
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"t{turn}", "name": "Read", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"t{turn}", "content": text}],
            },
        ],
    }


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


TOKEN_CREATE = [sys.executable, "-m", "ramparts", "gateway", "token", "create", "--user", "bench"]


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the gateway and its detector worker processes)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return out


def cpu_ms(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of the gateway's own process and of its descendants, in ms."""
    tick = os.sysconf("SC_CLK_TCK")
    own = rest = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) * 1000 / tick
        if p == pid:
            own = used
        else:
            rest += used
    return own, rest


async def one_stream(
    client: Any, url: str, body: bytes, headers: dict[str, str], opened: Any
) -> tuple[float, list[float]]:
    started = time.monotonic()
    latencies: list[float] = []
    ttfb = 0.0
    async with client.post(url + "/v1/messages?beta=true", data=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        first = True
        buffer = b""
        async for chunk in response.content.iter_any():
            now = time.monotonic()
            if first:
                ttfb, first = now - started, False
                opened()
            buffer += chunk
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                match = STAMP.search(event)
                if match:
                    latencies.append(now - float(match.group(1)))
    return ttfb, latencies


async def batch(url: str, streams: int, headers: dict[str, str], gateway_pid: int | None) -> dict[str, Any]:
    import aiohttp

    nonce = os.urandom(6).hex()
    bodies = [json.dumps(prompt(tag=f"{nonce}-{i}")).encode() for i in range(streams)]
    base = rss_kb(gateway_pid) if gateway_pid else 0
    cpu_before = cpu_ms(gateway_pid) if gateway_pid else (0.0, 0.0)
    peak = [base]
    open_count = [0]

    def opened() -> None:
        open_count[0] += 1
        if gateway_pid and open_count[0] == streams:
            peak[0] = rss_kb(gateway_pid)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as client:
        results = await asyncio.gather(*(one_stream(client, url, body, headers, opened) for body in bodies))
    if gateway_pid:  # sample once more at the end too (streams may all be open by then)
        peak[0] = max(peak[0], base)
    cpu_after = cpu_ms(gateway_pid) if gateway_pid else (0.0, 0.0)
    return {
        "cpu_own_ms": (cpu_after[0] - cpu_before[0]) / streams,
        "cpu_workers_ms": (cpu_after[1] - cpu_before[1]) / streams,
        "ttfb": [r[0] for r in results],
        "latency": [x for r in results for x in r[1]],
        "events": sum(len(r[1]) for r in results),
        "rss_delta_kb": peak[0] - base,
    }


async def ttfb_probe(
    urls: dict[str, str], headers: dict[str, str] | dict[str, dict[str, str]], count: int
) -> dict[str, list[float]]:
    """Sequential requests, alternating direct / gateway: time to the first byte of each answer (the
    stream is then dropped, which also exercises the gateway's client-abort path)."""
    import aiohttp

    out: dict[str, list[float]] = {key: [] for path in urls for key in (path, path + "+append")}
    async with aiohttp.ClientSession() as client:
        for i in range(count):
            first = prompt(tag=f"{os.urandom(6).hex()}-{i}")
            # the fresh 20 KB conversation, then the same conversation one turn later
            for suffix, body in (("", first), ("+append", appended(first, 1))):
                data = json.dumps(body).encode()
                for path, url in urls.items():
                    started = time.monotonic()
                    sent = headers[path] if isinstance(headers.get(path), dict) else headers
                    async with client.post(
                        url + "/v1/messages?beta=true",
                        data=data,
                        headers=sent,  # type: ignore[arg-type]
                    ) as response:
                        await response.content.readany()
                        out[path + suffix].append(time.monotonic() - started)
                        response.close()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"did not start: {argv[:4]} {line!r}")
    return process, match.group(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 events a stream, one round (< 1 min)")
    parser.add_argument("--levels", default="1,50,100")
    parser.add_argument("--events", type=int)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int)
    parser.add_argument(
        "--scan-workers", type=int, help="the gateway's detector processes (default: its own default)"
    )
    parser.add_argument("--walk", action="store_true", help="only the request walk's cost, before and after")
    parser.add_argument(
        "--baseline-src",
        help="another tree's src/ (e.g. `git archive main src | tar -x -C /tmp/base`): its gateway runs "
        "beside this one, alternating in the same run, as `before`",
    )
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=900, help=argparse.SUPPRESS)
    args = parser.parse_args()
    events = args.events or (50 if args.quick else 200)
    if args.serve_upstream:
        serve_upstream(events, args.interval_ms / 1000, args.lifetime)
        return 0
    walk = walk_bench(args.quick)
    walk_result = " ".join(f"{k}={v:.1f}" for k, v in walk.items())
    if args.walk:
        print(f"RESULT {walk_result}")
        return 0
    rounds = args.rounds or (1 if args.quick else 2)
    levels = [int(x) for x in args.levels.split(",")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "ANTHROPIC_API_KEY": "sk-bench-upstream"}
    trees = {"gateway": str(ROOT / "src")}
    if args.baseline_src:
        trees = {"before": str(Path(args.baseline_src).resolve()), **trees}
    with tempfile.TemporaryDirectory(prefix="ramparts-bench-gw-") as tmp:
        lifetime = str(120 if args.quick else 900)
        upstream, upstream_url = start(
            [
                sys.executable,
                __file__,
                "--serve-upstream",
                "--events",
                str(events),
                "--interval-ms",
                str(args.interval_ms),
                "--lifetime",
                lifetime,
            ],
            env,
        )
        processes: list[subprocess.Popen[str]] = [upstream]
        base_headers = {
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
            "X-Claude-Code-Session-Id": "bench-session",
        }
        urls: dict[str, str] = {"direct": upstream_url}
        headers: dict[str, dict[str, str]] = {"direct": {**base_headers, "Authorization": "Bearer direct"}}
        pids: dict[str, int | None] = {"direct": None}
        try:
            for name, src in trees.items():
                tree_env = {**env, "PYTHONPATH": src}
                state = str(Path(tmp) / f"state-{name}")
                token = subprocess.run(
                    [*TOKEN_CREATE, "--state-dir", state],
                    env=tree_env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                gateway, gateway_url = start(
                    [sys.executable, "-m", "ramparts", "gateway", "--listen", "127.0.0.1:0"]
                    + ["--upstream", upstream_url, "--state-dir", state, "--max-lifetime", lifetime]
                    + (["--scan-workers", str(args.scan_workers)] if args.scan_workers is not None else []),
                    tree_env,
                )
                processes.append(gateway)
                urls[name], pids[name] = gateway_url, gateway.pid
                headers[name] = {**base_headers, "Authorization": f"Bearer {token}"}
            for name in urls:  # warm every path
                asyncio.run(batch(urls[name], 2, headers[name], None))
            print(
                f"# {os.cpu_count()} CPUs; {events} events/stream at {args.interval_ms:g} ms; 20 KB prompts; "
                f"{rounds} round(s) per level, {' / '.join(urls)} alternating"
                + (f"; before = {trees['before']}" if "before" in trees else "")
            )
            probes = asyncio.run(ttfb_probe(urls, headers, 20 if args.quick else 60))
            ttfb: dict[str, tuple[float, float, float]] = {}
            for name in urls:
                if name == "direct":
                    continue
                d50, g50 = pct(probes["direct"], 50) * 1000, pct(probes[name], 50) * 1000
                d99, g99 = pct(probes["direct"], 99) * 1000, pct(probes[name], 99) * 1000
                a50 = (pct(probes[name + "+append"], 50) - pct(probes["direct+append"], 50)) * 1000
                a99 = (pct(probes[name + "+append"], 99) - pct(probes["direct+append"], 99)) * 1000
                ttfb[name] = (g50 - d50, g99 - d99, a50)
                print(
                    f"# {name}: TTFB of a fresh 20 KB prompt, {len(probes[name])} sequential requests: direct p50"
                    f" {d50:.2f} ms, {name} p50 {g50:.2f} ms p99 {g99:.2f} ms; delta p50 {g50 - d50:+.2f} ms p99"
                    f" {g99 - d99:+.2f} ms; next turn (one new 1 KB tool result, the 20 KB one already seen)"
                    f" delta p50 {a50:+.2f} ms p99 {a99:+.2f} ms"
                )
            print(
                f"{'streams':>7} {'path':>8} {'events':>7} {'lat p50':>8} {'lat p99':>8} {'ttfb p50':>9} "
                f"{'ttfb p99':>9} {'rss/stream':>10} {'cpu/req gw+workers':>19}"
            )
            figures: dict[str, dict[int, tuple[float, ...]]] = {name: {} for name in urls if name != "direct"}
            for level in levels:
                got: dict[str, dict[str, Any]] = {
                    name: {"ttfb": [], "latency": [], "events": 0, "rss": [], "own": [], "workers": []}
                    for name in urls
                }
                for _ in range(rounds):
                    for name, url in urls.items():
                        result = asyncio.run(batch(url, level, headers[name], pids[name]))
                        g = got[name]
                        g["ttfb"] += result["ttfb"]
                        g["latency"] += result["latency"]
                        g["events"] += result["events"]
                        g["rss"].append(result["rss_delta_kb"] / level)
                        g["own"].append(result["cpu_own_ms"])
                        g["workers"].append(result["cpu_workers_ms"])
                for name, g in got.items():
                    rss = f"{statistics.mean(g['rss']):.0f} KB" if name != "direct" else "-"
                    cpu = (
                        f"{statistics.mean(g['own']):.1f}+{statistics.mean(g['workers']):.1f} ms"
                        if name != "direct"
                        else "-"
                    )
                    print(
                        f"{level:>7} {name:>8} {g['events']:>7} {pct(g['latency'], 50) * 1000:>6.2f}ms "
                        f"{pct(g['latency'], 99) * 1000:>6.2f}ms {pct(g['ttfb'], 50) * 1000:>7.2f}ms "
                        f"{pct(g['ttfb'], 99) * 1000:>7.2f}ms {rss:>10} {cpu:>19}"
                    )
                d = got["direct"]
                for name in figures:
                    gw = got[name]
                    added50 = (pct(gw["latency"], 50) - pct(d["latency"], 50)) * 1000
                    added99 = (pct(gw["latency"], 99) - pct(d["latency"], 99)) * 1000
                    ttfb50 = (pct(gw["ttfb"], 50) - pct(d["ttfb"], 50)) * 1000
                    ttfb99 = (pct(gw["ttfb"], 99) - pct(d["ttfb"], 99)) * 1000
                    print(
                        f"{level:>7} {name:>8} added  per event p50 {added50:+.2f} ms, p99 {added99:+.2f} ms; "
                        f"TTFB p50 {ttfb50:+.2f} ms, p99 {ttfb99:+.2f} ms"
                    )
                    figures[name][level] = (
                        added50,
                        added99,
                        ttfb50,
                        ttfb99,
                        statistics.mean(gw["rss"]),
                        statistics.mean(gw["own"]),
                        statistics.mean(gw["workers"]),
                    )
        finally:
            for process in reversed(processes):
                process.terminate()
                try:
                    process.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()
    top = max(levels)
    parts = []
    for name, by_level in figures.items():
        tag = "" if name == "gateway" else f"{name}_"
        added50, added99, _t50, _t99, rss, own, workers = by_level[top]
        t50, _p99, a50 = ttfb[name]
        parts.append(
            f"{tag}p99_added_ms_{top}={added99:.2f} {tag}p50_added_ms_{top}={added50:.2f} "
            f"{tag}ttfb_delta_p50_ms={t50:.2f} {tag}ttfb_append_delta_p50_ms={a50:.2f} "
            f"{tag}ttfb_delta_p50_ms_{top}={by_level[top][2]:.2f} {tag}ttfb_delta_p99_ms_{top}={by_level[top][3]:.2f} "
            f"{tag}rss_kb_per_stream={rss:.0f} {tag}cpu_gateway_ms_per_req_{top}={own:.1f} "
            f"{tag}cpu_workers_ms_per_req_{top}={workers:.1f}"
        )
    print(f"RESULT {' '.join(parts)} events_per_stream={events} {walk_result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
