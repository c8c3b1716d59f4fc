"""Throughput and peak memory of predicting over a large CSV file, streamed.

Writes a CSV of ``--rows`` rows (names sampled from the corpus, 2% junk: blank, digits, emoji,
CJK, a 200-character value; under half of it abstained) to a temporary folder, predicts it in a
child process with `stream.predict_file`, and reports rows per second and the child's peak RSS.
Streaming should keep the peak flat however many rows there are: it is the model and torch, not
the file. The machine's load matters: on 2 busy cores, ``--threads 1`` is much faster.

    python benchmarks/file_rss.py --model runs/gru --rows 1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names"
JUNK = ["", "   ", "12345", "\U0001F600", "李", "ÅØ-Ægir", "x" * 200, "O'Brien-Smith Jr.", "a,b \"c\""]
DRIVER = """
import json, sys, time
import torch
from nameorigin import stream
from nameorigin.inference.classifier import load_model
model, src, dest, chunk, threads = sys.argv[1:]
if int(threads):
    torch.set_num_threads(int(threads))
clf = load_model(model)
start = time.perf_counter()
rows = stream.predict_file(clf, src, dest, chunk_size=int(chunk), progress=False)
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start}))
"""


def corpus_names(folder: Path) -> list[tuple[str, str]]:
    pairs = []
    for path in sorted(folder.glob("*.txt")):
        pairs += [(line, path.stem) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not pairs:
        sys.exit(f"{folder}: no [Label].txt files; pass --data")
    return pairs


def write_input(path: Path, rows: int, pairs: list[tuple[str, str]], seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "name", "source"])
        for i in range(rows):
            if rng.random() < 0.02:
                out.writerow([i, rng.choice(JUNK), "junk"])
            else:
                out.writerow([i, *rng.choice(pairs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, metavar="DIR", help="checkpoint folder")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of [Label].txt files")
    parser.add_argument("--chunk-size", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=0, help="torch threads in the child (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        src, dest = Path(tmp) / "names.csv", Path(tmp) / "predicted.csv"
        started = time.perf_counter()
        write_input(src, args.rows, corpus_names(args.data), args.seed)
        print(f"wrote {args.rows:,} rows ({src.stat().st_size / 2**20:.1f} MiB) in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)

        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", DRIVER, args.model, str(src), str(dest),
                               str(args.chunk_size), str(args.threads)], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        peak_mib = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
        result = json.loads(proc.stdout)

        with dest.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            written = abstained = 0
            for row in reader:
                written += 1
                abstained += row[5] == "true"

    assert result["rows"] == written == args.rows, (result["rows"], written, args.rows)
    print(json.dumps({"rows": args.rows, "abstained": abstained, "chunk_size": args.chunk_size,
                      "rows_per_s": round(args.rows / result["seconds"]),
                      "rows_per_s_with_startup": round(args.rows / wall),
                      "peak_rss_mib": round(peak_mib, 1)}, indent=2))


if __name__ == "__main__":
    main()
