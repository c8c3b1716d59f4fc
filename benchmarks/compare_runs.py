"""Validation curves of training runs side by side, from their checkpoints' recorded histories.

Each checkpoint's ``model.json`` keeps its per-epoch validation accuracy and loss; this plots them
on shared axes, marks the epoch each run kept, and prints the same figures as a table, so runs
that differ in one option can be compared without reading logs.

    python benchmarks/compare_runs.py src/nameorigin/pretrained/world runs/F6 --labels shipped "2-6 words" \\
        --out docs/world-runs.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def histories(folders: list[str]) -> list[dict]:
    return [json.loads((Path(f) / "model.json").read_text(encoding="utf-8"))["history"] for f in folders]


def plot(runs: list[dict], labels: list[str], out: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    acc, loss = fig.subplots(1, 2)
    for history, label in zip(runs, labels):
        epochs = range(1, len(history["val_accuracy"]) + 1)
        (line,) = acc.plot(epochs, [100 * a for a in history["val_accuracy"]], label=label)
        kept = history["best_epoch"]
        acc.plot([kept], [100 * history["val_accuracy"][kept - 1]], "o", color=line.get_color())
        loss.plot(epochs, history["val_loss"], color=line.get_color(), label=f"{label}, validation")
        loss.plot(epochs, history["train_loss"], "--", color=line.get_color(), label=f"{label}, training")
    acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title="accuracy (dot: the epoch kept)")
    loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    for axes in (acc, loss):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc.legend(fontsize=8)
    loss.legend(fontsize=7)
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="checkpoint folders")
    parser.add_argument("--labels", nargs="+", help="one name per folder (default: the folder names)")
    parser.add_argument("--out", type=Path, help="PNG to write")
    args = parser.parse_args()
    labels = args.labels or [Path(f).name for f in args.folders]
    if len(labels) != len(args.folders):
        parser.error("give one --labels name per folder")
    runs = histories(args.folders)
    print("| run | epochs | kept | validation accuracy there | best | final training loss |\n| --- | --- | --- | --- | --- | --- |")
    for history, label in zip(runs, labels):
        acc, kept = history["val_accuracy"], history["best_epoch"]
        print(f"| {label} | {len(acc)} | {kept} | {100 * acc[kept - 1]:.2f} % | {100 * max(acc):.2f} % | "
              f"{history['train_loss'][-1]:.3f} |")
    if args.out:
        plot(runs, labels, args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
