"""How `nameorigin serve` holds up against heavy, idle and interrupted clients.

Starts a real server (``python -m nameorigin.serve``) on 127.0.0.1 and measures, in a few seconds each:

* heavy requests: two clients sending 64 KB of distinct CJK names (several times their size in
  model work once transliterated, refused with a 413), then the largest request the limits accept
  (1,000 names of 20 letters, the same or distinct), then GET /v1/explain of a 100-letter name (100
  prefixes to score), back to back, while 32 more clients (``--get-clients``) ask GET
  /v1/predict?name=... in a loop: the heavy answers' status and time, and the GETs' latency and
  throughput beside them (against the GETs alone);
* idle sockets: more connections than the cap, opened and left silent, then a real request: its
  latency, and how many of the idle ones the server let go;
* dripped bodies: 600 connections (``--drippers``, more than the cap of 512) each sending a POST
  head and then its body a byte every half second, reconnecting when cut off, while one client
  opens a fresh connection for each GET: what those GETs got (200, 503, or the error);
* SIGTERM under load: 32 clients asking, and one request head (or, in a second run, one request
  body: a request in flight) dripped a byte every half second, then SIGTERM: seconds until the
  process is gone (the dripped body holds it for the grace period, set to 3 s for that run).

    python benchmarks/http_abuse.py --model DIR [--seconds 5] [--get-clients 32] [--drippers 600]
                                    [--cases heavy,idle,drip,sigterm] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import string
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HOST = "127.0.0.1"


def start_server(model: str, log: Path, *args: str) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nameorigin.serve", "--model", model, "--port", "0", *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"running on http://127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return proc, int(found.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request on a keep-alive connection; its status, once the whole answer is read."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head, re.I)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return int(head.split(b" ", 2)[1])


def heavy_name(rng: random.Random) -> str:
    """Seven CJK characters, each transliterated to a whole syllable (91 letters at most), none
    repeated across names: the model cannot score a repeated name once for all."""
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(7))


def padded(body: bytes, size: int = 65_000) -> bytes:
    """A JSON body padded with whitespace up to just under the 64 KB body limit."""
    return body[:-1] + b" " * (size - len(body)) + body[-1:]


def post(port: int, body: bytes) -> bytes:
    return (f"POST /v1/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def get(port: int, name: str = "Nakamura", route: str = "predict") -> bytes:
    return f"GET /v1/{route}?name={name} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()


async def loop_requests(port: int, request: bytes, until: float, times: list[float], statuses: Counter) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(exchange(reader, writer, request), 30)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as err:
                statuses[type(err).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            times.append(time.perf_counter() - started)
            statuses[status] += 1
    finally:
        writer.close()


def summary(times: list[float]) -> dict:
    times = sorted(times)
    if not times:
        return {"n": 0}

    def pct(q: float) -> float:
        return round(1000 * times[min(len(times) - 1, int(q * len(times)))], 1)

    return {"n": len(times), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(1000 * times[-1], 1)}


async def beside(port: int, heavy: bytes | None, clients: int, seconds: float, get_clients: int) -> dict:
    """GET latency and throughput for `seconds`, from `get_clients` clients, while `clients` send
    `heavy` back to back (none: the GETs alone)."""
    until = time.perf_counter() + seconds
    get_times: list[float] = []
    heavy_times: list[float] = []
    get_status: Counter = Counter()
    heavy_status: Counter = Counter()
    jobs = [loop_requests(port, get(port), until, get_times, get_status) for _ in range(get_clients)]
    if heavy is not None:
        jobs += [loop_requests(port, heavy, until, heavy_times, heavy_status) for _ in range(clients)]
    await asyncio.gather(*jobs)
    return {"get": {**summary(get_times), "per_s": round(len(get_times) / seconds), "status": dict(get_status)},
            "heavy": {**summary(heavy_times), "status": dict(heavy_status)} if heavy is not None else None}


async def heavy_case(port: int, seconds: float, get_clients: int) -> dict:
    rng = random.Random(0)
    refused = padded(json.dumps({"names": [heavy_name(rng) for _ in range(1000)]}).encode())
    largest = json.dumps({"names": ["Abcdefghijklmnopqrst"] * 1000}).encode()
    distinct = json.dumps({"names": ["".join(rng.choices(string.ascii_lowercase, k=20)).capitalize()
                                     for _ in range(1000)]}).encode()
    explain = get(port, "".join(rng.choices(string.ascii_lowercase, k=100)).capitalize(), "explain")
    cases = {"get_alone": (None, 0), "beside_refused_64kb_cjk": (post(port, refused), len(refused)),
             "beside_largest_accepted": (post(port, largest), len(largest)),
             "beside_1000_distinct_names": (post(port, distinct), len(distinct)),
             "beside_explain_100_letters": (explain, 0)}
    return {case: {"body_bytes": size, **await beside(port, heavy, 2, seconds, get_clients)}
            for case, (heavy, size) in cases.items()}


async def idle_case(port: int, n_idle: int) -> dict:
    idle = []
    for _ in range(n_idle):
        idle.append(await asyncio.open_connection(HOST, port))
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(HOST, port)
    status = await asyncio.wait_for(exchange(reader, writer, get(port)), 30)
    latency = time.perf_counter() - started
    writer.close()
    closed = 0
    for r, w in idle:
        try:
            closed += (await asyncio.wait_for(r.read(1024), 0.01)) is not None
        except asyncio.TimeoutError:
            pass
        except OSError:
            closed += 1
        w.close()
    return {"idle_sockets": n_idle, "get_status": status, "get_ms_with_connect": round(1000 * latency, 1),
            "idle_closed_by_server": closed}


async def drip_forever(port: int, request: bytes, until: float) -> None:
    """A POST head, then its body a byte every half second; a new connection when cut off."""
    head, _, body = request.partition(b"\r\n\r\n")
    while time.perf_counter() < until:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(head + b"\r\n\r\n")
            for byte in body:
                await asyncio.sleep(0.5)
                if time.perf_counter() > until or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
            writer.close()
        except OSError:
            await asyncio.sleep(0.5)


async def fresh_get(port: int) -> int | str:
    """One GET on a new connection: its status, or the error."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 5)
    except (OSError, asyncio.TimeoutError) as err:
        return type(err).__name__
    try:
        return await asyncio.wait_for(exchange(reader, writer, get(port)), 5)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as err:
        return type(err).__name__
    finally:
        writer.close()


async def drip_case(port: int, drippers: int, seconds: float) -> dict:
    """What GETs on fresh connections get while `drippers` connections drip their bodies."""
    until = time.perf_counter() + seconds + 5
    request = post(port, json.dumps({"names": ["Qin"] * 50}).encode())
    jobs = []
    for _ in range(drippers):
        jobs.append(asyncio.ensure_future(drip_forever(port, request, until)))
        await asyncio.sleep(0.002)
    await asyncio.sleep(2)  # all connected, each one mid-body
    outcomes: Counter = Counter()
    while time.perf_counter() < until - 3:
        outcomes[await fresh_get(port)] += 1
        await asyncio.sleep(0.05)
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)
    return {"drippers": drippers, "fresh_gets": dict(sorted(outcomes.items(), key=str))}


async def drip(port: int, head: bytes, rest: bytes, until: float) -> None:
    """`head` at once, then `rest` a byte every half second: a request head dripped (no request
    yet), or a body (a request in flight)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(head)
    for byte in rest:
        if time.perf_counter() > until:
            break
        writer.write(bytes([byte]))
        await asyncio.sleep(0.5)
    writer.close()


def sigterm_case(model: str, log: Path, grace_s: float, body: bool, load_s: float = 2.0) -> dict:
    """Seconds from SIGTERM to exit under load, with a dripped head or (`body`) a dripped body."""
    proc, port = start_server(model, log, "--grace", str(grace_s))
    request = post(port, json.dumps({"names": ["Qin"] * 50}).encode())
    head, _, rest = request.partition(b"\r\n\r\n")
    slow = (head + b"\r\n\r\n", rest) if body else (b"", request)

    async def load() -> float:
        until = time.perf_counter() + load_s + 30
        jobs = [asyncio.ensure_future(loop_requests(port, get(port), until, [], Counter())) for _ in range(32)]
        jobs.append(asyncio.ensure_future(drip(port, *slow, until)))
        await asyncio.sleep(load_s)
        started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        while proc.poll() is None:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        return elapsed

    try:
        elapsed = asyncio.run(load())
    finally:
        if proc.poll() is None:
            stop(proc)
    return {"clients": 32, "dripped": "body" if body else "head", "grace_s": grace_s, "exit_s": round(elapsed, 2),
            "returncode": proc.returncode}


def report(results: dict) -> None:
    for case, r in results.get("heavy", {}).items():
        heavy, got = r["heavy"], r["get"]
        line = (f"{case:>28}: GET {got.get('per_s', 0)}/s, p50 {got.get('p50_ms')} ms, p99 {got.get('p99_ms')} ms, "
                f"max {got.get('max_ms')} ms")
        if heavy:
            what = f"{r['body_bytes']:,} B POSTs" if r["body_bytes"] else "explains"
            line += f"  | {what}: {heavy['status']}, p50 {heavy.get('p50_ms')} ms, p99 {heavy.get('p99_ms')} ms"
        print(line)
    if "idle" in results:
        idle = results["idle"]
        print(f"{'idle sockets':>28}: {idle['idle_sockets']} opened, {idle['idle_closed_by_server']} let go by the "
              f"server; a GET then: HTTP {idle['get_status']} in {idle['get_ms_with_connect']} ms (connect included)")
    if "drip" in results:
        drip = results["drip"]
        print(f"{'dripped bodies':>28}: {drip['drippers']} connections; GETs on fresh connections got "
              f"{drip['fresh_gets']}")
    for r in results.get("sigterm", []):
        print(f"{'SIGTERM, dripped ' + r['dripped']:>28}: exit {r['exit_s']} s after the signal (grace {r['grace_s']} s, "
              f"{r['clients']} clients, status {r['returncode']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="checkpoint folder to serve")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each heavy and dripping run (default 5)")
    parser.add_argument("--get-clients", type=int, default=32, help="GET clients beside the heavy ones (default 32)")
    parser.add_argument("--idle", type=int, default=600, help="idle sockets to open (default 600, cap 512)")
    parser.add_argument("--drippers", type=int, default=600, help="connections dripping a body (default 600)")
    parser.add_argument("--cases", default="heavy,idle,drip,sigterm", help="which to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"nameorigin-http-abuse-{os.getpid()}.log"
    results: dict = {}
    proc, port = start_server(args.model, log)
    try:
        if "heavy" in cases:
            results["heavy"] = asyncio.run(heavy_case(port, args.seconds, args.get_clients))
        if "idle" in cases:
            results["idle"] = asyncio.run(idle_case(port, args.idle))
        if "drip" in cases:
            results["drip"] = asyncio.run(drip_case(port, args.drippers, args.seconds))
    finally:
        stop(proc)
    if "sigterm" in cases:
        results["sigterm"] = [sigterm_case(args.model, log, 10, body=False),
                              sigterm_case(args.model, log, 3, body=True)]
    log.unlink(missing_ok=True)
    if args.json:
        print(json.dumps(results))
    else:
        report(results)


if __name__ == "__main__":
    main()
