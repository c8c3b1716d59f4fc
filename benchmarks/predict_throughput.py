"""Prediction throughput, every way nameorigin offers it, against the reference's one-name loop.

One run, one model, four modes:

* reference loop: one name at a time, batch 1, eval mode, no_grad: one forward per name (for the
  reference "rnn" cell, a Python step per character, as in `train_speed.reference_logits`);
* `clf.predict_proba` on batches of 1,000 / 10,000 / all distinct corpus names (no name twice, so
  every name costs a forward pass), and on 100,000 names sampled from the corpus with repeats, as
  real lists have them (`predict_proba` scores each distinct name once); on the torch backend and
  on onnxruntime (`export.load_onnx_classifier`). The batch target is judged on distinct names;
* file mode: a ``--rows`` CSV streamed through `stream.predict_file` in a child process
  (`file_rss.py`'s input and driver): rows/s and the child's peak RSS;
* HTTP: `nameorigin serve` in one process, ``--clients`` keep-alive clients asking one name per
  GET from another, for ``--seconds`` (`http_load.py`): requests/s, p50/p99 latency, errors.

Every mode's names/s (requests/s for HTTP, one name each) is printed with its ratio to the
reference loop. On a shared 2-core machine the load average matters; it is printed.

    python benchmarks/predict_throughput.py --model runs/gru
    python benchmarks/predict_throughput.py --model runs/gru --rows 100000 --seconds 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import file_rss  # noqa: E402  (benchmarks/file_rss.py)
import http_load  # noqa: E402  (benchmarks/http_load.py)

DISTINCT_SIZES = (1_000, 10_000, None)  # None: every distinct name of the corpus
SAMPLED_SIZE = 100_000
HTTP_MODE = "batched (wait 2 ms)"  # http_load's default server configuration
TARGET_BATCH_NAMES_PER_S = 50_000
TARGET_FILE_RSS_MIB = 1024
TARGET_HTTP_P99_MS = 50.0


def sample_names(data: Path, n: int, seed: int) -> list[str]:
    pairs = file_rss.corpus_names(data)
    rng = random.Random(seed)
    return [rng.choice(pairs)[0] for _ in range(n)]


def distinct_names(data: Path, seed: int) -> list[str]:
    """Every distinct name of the corpus once, in a shuffled order."""
    names = sorted({name for name, _ in file_rss.corpus_names(data)})
    random.Random(seed).shuffle(names)
    return names


# --- in-process modes ---------------------------------------------------------------------------


def reference_loop(clf, names: list[str], min_seconds: float) -> tuple[float, int]:
    """Names/s of the reference's inference: normalize, one tensor per name, one forward (batch 1),
    softmax. Runs over `names` (cycling) for at least `min_seconds` and 200 names."""
    import torch

    from nameorigin.models.tensors import encode
    from nameorigin.models.tutorial import ScratchRNN
    from nameorigin.text.readings import prepare
    from train_speed import one_hot, reference_logits

    model = clf.model.eval()
    scratch = isinstance(model, ScratchRNN)
    valid = [name for name in names if prepare(name)[1] is None]
    done = 0
    with torch.no_grad():
        for name in valid[:20]:  # warm-up
            model(*encode([prepare(name)[0]]))
        started = time.perf_counter()
        while True:
            text = prepare(valid[done % len(valid)])[0]
            logits = reference_logits(model, one_hot(text)) if scratch else model(*encode([text]))
            torch.softmax(logits, dim=1)
            done += 1
            if done >= 200 and time.perf_counter() - started >= min_seconds:
                break
    return done / (time.perf_counter() - started), done


def batch_rate(clf, names: list[str], min_seconds: float) -> tuple[float, int]:
    """Median names/s of `clf.predict_proba(names)`, repeated for at least `min_seconds`."""
    clf.predict_proba(names[:1000])  # warm-up
    rates, spent = [], 0.0
    while not rates or spent < min_seconds:
        started = time.perf_counter()
        clf.predict_proba(names)
        took = time.perf_counter() - started
        spent += took
        rates.append(len(names) / took)
    return statistics.median(rates), len(rates)


# --- child-process modes ------------------------------------------------------------------------


def file_mode(model: str, data: Path, rows: int, threads: int, seed: int = 0) -> dict:
    """`file_rss.py`'s measurement; the child's peak RSS is its own (os.wait4), not the largest of
    all the children this process has had."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dest = Path(tmp) / "names.csv", Path(tmp) / "predicted.csv"
        file_rss.write_input(src, rows, file_rss.corpus_names(data), seed)
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", file_rss.DRIVER, model, str(src), str(dest),
                                     "8192", str(threads)], stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"file mode failed:\n{err_path.read_text()}")
        result = json.loads(out_path.read_text())
    if result["rows"] != rows:
        sys.exit(f"file mode wrote {result['rows']} rows, expected {rows}")
    peak_mib = usage.ru_maxrss / 2**20 if sys.platform == "darwin" else usage.ru_maxrss / 2**10
    return {"rows_per_s": rows / result["seconds"], "rows_per_s_with_startup": rows / wall,
            "peak_rss_mib": peak_mib}


def http_mode(model: str, clients: int, seconds: float) -> dict:
    args = SimpleNamespace(model=model, clients=clients, seconds=seconds, warmup=2.0)
    return http_load.run_mode(HTTP_MODE, http_load.MODES[HTTP_MODE], args)


# --- the driver ---------------------------------------------------------------------------------


def load_report(when: str) -> str:
    load1, load5, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = "LOADED" if load1 >= 0.75 * cpus else "idle-ish"
    return f"load average {when}: {load1:.2f} (1 min), {load5:.2f} (5 min) on {cpus} CPUs -> {busy}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", metavar="DIR", help="checkpoint folder (default: the bundled model)")
    parser.add_argument("--data", type=Path, default=file_rss.DEFAULT_DATA, help="folder of [Label].txt files")
    parser.add_argument("--rows", type=int, default=1_000_000, help="file mode rows (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=32, help="HTTP clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=30.0, help="HTTP duration (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch (and onnxruntime) threads, here and in the children (0: the default)")
    parser.add_argument("--reference-seconds", type=float, default=5.0, help="time the reference loop runs")
    parser.add_argument("--batch-seconds", type=float, default=2.0, help="minimum time per batch size")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled names")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-file", action="store_true")
    parser.add_argument("--skip-onnx", action="store_true")
    args = parser.parse_args()
    if args.threads < 0 or args.rows < 1 or not 1 <= args.clients <= http_load.MAX_CLIENTS:
        parser.error("--threads must be >= 0, --rows >= 1, --clients between 1 and "
                     f"{http_load.MAX_CLIENTS}")
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the server and file children inherit it

    import torch

    from nameorigin.checkpoint.bundled import default_model_path
    from nameorigin.inference.classifier import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model = str(args.model if args.model is not None else default_model_path())
    if not (Path(model) / "model.json").is_file():
        parser.error(f"{model}: no checkpoint there (pass --model DIR; there may be no bundled model yet)")

    print(load_report("at start"))
    print(f"model {model}; torch {torch.__version__}, {torch.get_num_threads()} torch threads"
          f"{' (--threads)' if args.threads else ' (default)'}", flush=True)
    clf = load_model(model)
    names = sample_names(args.data, SAMPLED_SIZE, args.seed)
    distinct = distinct_names(args.data, args.seed)

    rows: list[tuple[str, float, str]] = []  # (mode, names/s, notes)
    ref, n = reference_loop(clf, names, args.reference_seconds)
    rows.append(("reference loop (batch 1)", ref, f"{n} names"))
    print(f"  reference loop: {ref:,.0f} names/s", flush=True)

    backends = [("torch", clf)]
    if not args.skip_onnx:
        try:
            from nameorigin.inference.onnx import load_onnx_classifier

            backends.append(("onnx", load_onnx_classifier(model, threads=args.threads or None)))
        except Exception as err:  # missing onnxruntime, or an architecture that does not export
            print(f"  onnx backend skipped: {err}", flush=True)
    best_batch = 0.0
    for backend, c in backends:
        for size in DISTINCT_SIZES:
            batch = distinct[:size]
            rate, reps = batch_rate(c, batch, args.batch_seconds)
            best_batch = max(best_batch, rate)
            rows.append((f"predict_proba {backend} x{len(batch):,}", rate, f"distinct names; median of {reps}"))
            print(f"  {rows[-1][0]}: {rate:,.0f} names/s", flush=True)
        rate, reps = batch_rate(c, names, args.batch_seconds)
        rows.append((f"predict_proba {backend} x{len(names):,}", rate,
                     f"sampled with repeats ({len(set(names)):,} distinct); median of {reps}"))
        print(f"  {rows[-1][0]}: {rate:,.0f} names/s", flush=True)

    file = http = None
    if not args.skip_file:
        file = file_mode(model, args.data, args.rows, args.threads, args.seed)
        rows.append((f"file mode ({args.rows:,} rows)", file["rows_per_s"],
                     f"peak RSS {file['peak_rss_mib']:.0f} MiB; {file['rows_per_s_with_startup']:,.0f} "
                     "rows/s with start-up"))
        print(f"  file mode: {file['rows_per_s']:,.0f} rows/s, peak RSS {file['peak_rss_mib']:.0f} MiB", flush=True)
    if not args.skip_http:
        http = http_mode(model, args.clients, args.seconds)
        rows.append((f"HTTP {args.clients} clients {args.seconds:g} s", http["requests_per_s"],
                     f"p50 {http['p50_ms']:.2f} ms, p99 {http['p99_ms']:.2f} ms, errors {http['errors']}"
                     + (f" {http['error_kinds']}" if http["errors"] else "")))
        print(f"  HTTP: {http['requests_per_s']:,.0f} req/s", flush=True)

    print()
    print(f"{'mode':<32} {'names/s':>10} {'vs ref':>8}  notes")
    for label, rate, notes in rows:
        print(f"{label:<32} {rate:>10,.0f} {rate / ref:>7.1f}x  {notes}")
    print()
    print(load_report("at end"))
    print("targets:")
    print(f"  batch inference >= {TARGET_BATCH_NAMES_PER_S:,} names/s (distinct names): best {best_batch:,.0f} -> "
          f"{'met' if best_batch >= TARGET_BATCH_NAMES_PER_S else 'NOT met'}")
    if file:
        scope = "" if args.rows >= 1_000_000 else f" (measured at {args.rows:,} rows, target is for 1,000,000)"
        print(f"  file peak RSS < {TARGET_FILE_RSS_MIB} MiB: {file['peak_rss_mib']:.0f} MiB -> "
              f"{'met' if file['peak_rss_mib'] < TARGET_FILE_RSS_MIB else 'NOT met'}{scope}")
    if http:
        ok = http["errors"] == 0 and http["p99_ms"] < TARGET_HTTP_P99_MS
        scope = "" if (args.clients, args.seconds) == (32, 30) else " (target is for 32 clients, 30 s)"
        print(f"  HTTP zero errors, p99 < {TARGET_HTTP_P99_MS:g} ms: {http['errors']} errors, p99 "
              f"{http['p99_ms']:.2f} ms -> {'met' if ok else 'NOT met'}{scope}")


if __name__ == "__main__":
    main()
