"""Peak memory and encoding rate of training on a big labelled CSV file.

Writes a CSV of ``--rows`` rows (default 5,000,000): tutorial-corpus names, each with a random
suffix of two to four small letters so that nearly all are distinct, under their 18 labels; plus
(unless ``--no-outlier``) one 1,000-letter name, which would make a corpus-wide padded matrix
1,000 columns wide. Then, each in its own child process:

1. ``nameorigin train --data FILE --epochs 1 --arch gru --hidden-size 32 --batch-size 512`` (one
   whole epoch over the 90 % training split, scoring the 10 % test split, writing the checkpoint
   with the corpus fingerprint): wall time and the child's peak RSS (``RUSAGE_CHILDREN``);
2. the load alone, timed inside the child: `data.load_corpus` (stream, normalize, encode), then
   the fingerprint: rows per second and that child's peak RSS.

    python benchmarks/big_corpus.py                    # 5,000,000 rows; a few minutes on 2 cores
    python benchmarks/big_corpus.py --rows 500000 --keep /tmp/big.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names"
LOAD = """
import json, resource, sys, time
from nameorigin.data.corpus import load_corpus
start = time.perf_counter()
corpus = load_corpus(sys.argv[1], progress=False)
loaded = time.perf_counter()
fingerprint = corpus.fingerprint
done = time.perf_counter()
print(json.dumps({"names": len(corpus), "skipped": len(corpus.skipped), "labels": len(corpus.label_names),
                  "load_s": loaded - start, "fingerprint_s": done - loaded, "fingerprint": fingerprint,
                  "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def corpus_pairs(folder: Path) -> list[tuple[str, str]]:
    pairs = [(line.strip(), path.stem) for path in sorted(folder.glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not pairs:
        sys.exit(f"{folder}: no [Label].txt files; pass --data")
    return pairs


def write_csv(path: Path, rows: int, pairs: list[tuple[str, str]], seed: int, outlier: bool) -> None:
    rng = random.Random(seed)
    letters = string.ascii_lowercase
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["name", "label"])
        if outlier:
            out.writerow(["Q" + "x" * 999, "Chinese"])
        for _ in range(rows - outlier):
            name, label = rng.choice(pairs)
            out.writerow([name + "".join(rng.choices(letters, k=rng.randint(2, 4))), label])


def mib(kib: int) -> float:
    return round(kib / 2**20 if sys.platform == "darwin" else kib / 2**10, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of [Label].txt files")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-outlier", dest="outlier", action="store_false", help="leave out the 1,000-letter name")
    parser.add_argument("--keep", type=Path, help="write the CSV here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}

    with tempfile.TemporaryDirectory() as tmp:
        src = args.keep or Path(tmp) / "names.csv"
        started = time.perf_counter()
        write_csv(src, args.rows, corpus_pairs(args.data), args.seed, args.outlier)
        print(f"wrote {args.rows:,} rows ({src.stat().st_size / 2**20:.1f} MiB) in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)

        command = ["nameorigin", "train", "--data", str(src), "--epochs", "1", "--arch", "gru", "--hidden-size",
                   "32", "--batch-size", str(args.batch_size), "--out", str(Path(tmp) / "big"), "--quiet"]
        started = time.perf_counter()
        train = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        train_s = time.perf_counter() - started
        if train.returncode != 0:
            sys.exit(train.stderr)
        train_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        meta = json.loads((Path(tmp) / "big" / "model.json").read_text())

        load = subprocess.run([sys.executable, "-c", LOAD, str(src)], capture_output=True, text=True, env=env,
                              check=False)
        if load.returncode != 0:
            sys.exit(load.stderr)
        loaded = json.loads(load.stdout)

    assert loaded["fingerprint"] == meta["corpus"]["fingerprint"]
    print(json.dumps({
        "rows": args.rows, "outlier": args.outlier, "names": loaded["names"], "labels": loaded["labels"], "skipped": loaded["skipped"],
        "train": {"command": " ".join(command[:3] + ["FILE"] + command[4:-3]), "wall_s": round(train_s, 1),
                  "trained_s": round(meta["history"]["seconds"], 1), "n_train": meta["split"]["n_train"],
                  "test_accuracy": round(meta["metrics"]["accuracy"], 4), "peak_rss_mib": mib(train_peak)},
        "load": {"encode_s": round(loaded["load_s"], 1), "rows_per_s": round(args.rows / loaded["load_s"]),
                 "fingerprint_s": round(loaded["fingerprint_s"], 1), "peak_rss_mib": mib(loaded["peak_rss_kib"])},
    }, indent=2))


if __name__ == "__main__":
    main()
