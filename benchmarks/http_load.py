"""Load test of `nameorigin serve`: N concurrent clients asking one name each, for a fixed time.

The server runs as its own process on 127.0.0.1; the clients run in a second process (asyncio,
one keep-alive connection per client, requests written and parsed by hand so the load generator
spends as little CPU as possible on a machine it shares with the server). Each client sends its
next GET /v1/predict as soon as the previous answer arrives. Prints requests/s, p50/p99 latency and
the number of errors (non-200 answers, timeouts, broken connections).

    python benchmarks/http_load.py --model DIR                       # 32 clients, 30 s, micro-batching on
    python benchmarks/http_load.py --model DIR --compare             # also without batching, and with no wait
    python benchmarks/http_load.py --model DIR --clients 8 --seconds 10
    python benchmarks/http_load.py --model DIR --threads 2           # the server on two PyTorch threads
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
NAMES = ["Qin", "Nakamura", "Papadopoulos", "Ivanov", "Schmidt", "Dubois", "Rossi", "Kowalski", "Nguyen",
         "O'Brien", "García", "Müller", "Novak", "Yamamoto", "Kim", "Abadi", "Smith", "Jansen"]
MODES = {  # name -> keyword arguments of nameorigin.serve.serve (and through it of create_app)
    "batched (wait 2 ms)": {"batching": True, "batch_wait_s": 0.002},
    "batched (no wait)": {"batching": True, "batch_wait_s": 0.0},
    "unbatched": {"batching": False},
}
REQUEST_TIMEOUT_S = 10.0
MAX_CLIENTS = 1024
MAX_SECONDS = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, options: dict, log: Path) -> subprocess.Popen:
    code = ("import sys, json; from nameorigin.serve import serve; "
            "serve(sys.argv[1], '127.0.0.1', int(sys.argv[2]), **json.loads(sys.argv[3]))")
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code, model, str(port), json.dumps(options)],
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"the server was not ready within 120 s:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the load generator (runs in its own process) ---------------------------------------------


async def one_client(port: int, requests: list[bytes], until: float, latencies: list[float],
                     errors: list[str]) -> None:
    reader = writer = None
    i = 0
    while time.perf_counter() < until:
        request = requests[i % len(requests)]
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            started = time.perf_counter()
            writer.write(request)
            status, close = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT_S)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(f"HTTP {status}")
            if close:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as err:
            errors.append(type(err).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") == "close"


def process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system, all threads) used so far by process `pid`; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(port: int, clients: int, seconds: float, warmup: float, server_pid: int | None = None) -> dict:
    requests = [(f"GET /v1/predict?name={urllib.request.quote(n)}&top_k=3 HTTP/1.1\r\n"
                 f"Host: {HOST}:{port}\r\n\r\n").encode() for n in NAMES]
    if warmup > 0:
        await asyncio.gather(*(one_client(port, requests[c:] + requests[:c], time.perf_counter() + warmup, [], [])
                               for c in range(clients)))
    latencies: list[float] = []
    errors: list[str] = []
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = process_cpu_s(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(one_client(port, requests[c % len(requests):] + requests[:c % len(requests)],
                                      started + seconds, latencies, errors) for c in range(clients)))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    server_after = process_cpu_s(server_pid)
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return {"clients": clients, "seconds": round(elapsed, 2), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1), "p50_ms": round(pct(0.50), 2),
            "p99_ms": round(pct(0.99), 2), "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
            "client_cpu_s": round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
            "server_cpu_ms_per_request": (round((server_after - server_cpu) * 1000 / len(latencies), 3)
                                          if latencies and server_cpu is not None and server_after is not None
                                          else None)}


def client_main(args: argparse.Namespace) -> None:
    print(json.dumps(asyncio.run(load(args.port, args.clients, args.seconds, args.warmup, args.server_pid))))


# --- the driver ---------------------------------------------------------------------------------


def run_mode(label: str, options: dict, args: argparse.Namespace) -> dict:
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"nameorigin-http-load-{os.getpid()}.log"
    server = start_server(args.model, port, {"threads": args.threads, **options}, log)
    try:
        proc = subprocess.run([sys.executable, __file__, "--_client", "--port", str(port), "--clients",
                               str(args.clients), "--seconds", str(args.seconds), "--warmup", str(args.warmup),
                               "--server-pid", str(server.pid)],
                              capture_output=True, text=True, timeout=args.seconds + args.warmup + 120)
        if proc.returncode != 0:
            raise SystemExit(f"the load generator failed:\n{proc.stderr}")
        result = json.loads(proc.stdout)
    finally:
        stop_server(server)
        log.unlink(missing_ok=True)
    result["mode"] = label
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="checkpoint folder to serve (required until a bundled model exists)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured duration (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured load first (default: %(default)s)")
    parser.add_argument("--compare", action="store_true", help="also measure without micro-batching")
    parser.add_argument("--threads", type=int, default=1,
                        help="the server's PyTorch threads, as `nameorigin serve --threads` (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per mode")
    parser.add_argument("--_client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be between 1 and {MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS or not 0 <= args.warmup <= MAX_SECONDS:
        parser.error(f"--seconds and --warmup must be at most {MAX_SECONDS}")
    if args._client:
        client_main(args)
        return
    if args.model is None:
        from nameorigin.checkpoint.bundled import default_model_path

        if not (default_model_path() / "model.json").is_file():
            parser.error("--model is required (there is no bundled model yet)")
        args.model = str(default_model_path())
    modes = MODES if args.compare else {k: MODES[k] for k in list(MODES)[:1]}
    for label, options in modes.items():
        r = run_mode(label, options, args)
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"{label:>20}: {r['requests_per_s']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                  f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}  server CPU/request "
                  f"{r['server_cpu_ms_per_request']} ms  ({r['clients']} clients, {r['seconds']} s, "
                  f"{r['requests']} requests, client CPU {r['client_cpu_s']} s)", flush=True)


if __name__ == "__main__":
    main()
