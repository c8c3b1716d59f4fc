"""The world model on a GPU against the CPU: full training time, and batch inference throughput.

Prepared for a CUDA machine; on one without, it says so and exits 0. It trains the documented
world recipe (``--preset world``) on CUDA (fp32, then bf16 autocast where the GPU has it), and
compares with the CPU figure: the training time recorded in the bundled model (trained on this
project's 2-core CPU), or a fresh CPU run with ``--cpu-too``. Then it times ``predict_proba``
on CUDA for 100,000 distinct surnames and full names from the Wikipedia file.

    python benchmarks/gpu.py --data ../shared/data/names --wiki ../shared/data/wiki/names.tsv [--cpu-too]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from nameorigin.inference.classifier import Classifier
from nameorigin.checkpoint.bundled import bundled_path


def train_seconds(device: str, precision: str, data: str, wiki: str) -> tuple[float, float]:
    """Whole-process seconds of `nameorigin train --preset world` and its test accuracy."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "world"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "nameorigin", "train", "--preset", "world", "--data", data,
                        "--wiki", wiki, "--device", device, "--precision", precision, "--quiet", "--out", str(out)],
                       check=True)
        seconds = time.perf_counter() - start
        return seconds, json.loads((out / "model.json").read_text())["metrics"]["accuracy"]


def throughput(clf: Classifier, names: list[str]) -> float:
    clf.predict_proba(names[:1000])
    start = time.perf_counter()
    clf.predict_proba(names)
    return len(names) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the tutorial corpus")
    parser.add_argument("--wiki", required=True, help="the Wikipedia people's names.tsv")
    parser.add_argument("--cpu-too", action="store_true", help="also train on the CPU (about 30-60 min)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured (this script is for a GPU machine)")
        return
    print(f"GPU: {torch.cuda.get_device_name(0)}")
    recorded = json.loads((bundled_path("world") / "model.json").read_text())["history"]["seconds"]
    rows = [("cpu (recorded training loop)", recorded, None)]
    if args.cpu_too:
        rows.append(("cpu", *train_seconds("cpu", "fp32", args.data, args.wiki)))
    precisions = ["fp32"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    rows += [(f"cuda {p}", *train_seconds("cuda", p, args.data, args.wiki)) for p in precisions]
    print("| training | seconds | test accuracy (wiki full names) |\n| --- | --- | --- |")
    for name, seconds, accuracy in rows:
        print(f"| {name} | {seconds:.0f} | {'' if accuracy is None else f'{accuracy:.2%}'} |")

    lines = Path(args.wiki).read_text(encoding="utf-8").splitlines()[1:]
    full = list(dict.fromkeys(line.split("\t")[0] for line in lines))
    random.Random(0).shuffle(full)
    surnames = list(dict.fromkeys(name.split()[-1] for name in full))[:100_000]
    clf = Classifier.from_checkpoint(bundled_path("world"))
    clf.model.to("cuda")
    print("| inference on cuda | names/s |\n| --- | --- |")
    for name, names in (("surnames", surnames), ("full names", full[:100_000])):
        print(f"| {name} | {throughput(clf, names):,.0f} |")


if __name__ == "__main__":
    main()
