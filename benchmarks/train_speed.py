"""Reference-style training loop vs. `nameorigin train`, side by side, on the same data and seed.

The reference loop is the tutorial's: batch size 1, a one-hot tensor per name, one Python call of
the cell per character (rnn) or one nn.GRU call per name (gru), Adam lr 1e-3, gradient
clipping 1.0 for the rnn and none for the gru (as the tutorial trained each), constant learning
rate. The installed `nameorigin train` command runs as its own process, and its whole wall
time, start-up included, is what is compared.

    python benchmarks/train_speed.py --data ../shared/data/names            # both models, 2 epochs
    python benchmarks/train_speed.py --arch rnn --epochs 1 --data ...       # quicker look
    python benchmarks/train_speed.py --compare-optim --skip-reference ...   # optimizers side by side

``--compare-optim`` also times `nameorigin train` with ``torch.optim.AdamW(fused=True)``,
``torch.nn.utils.clip_grad_norm_`` and ``OneCycleLR`` in place of `nameorigin.training.optim`, the two
runs alternating, each through the same launcher (the installed command's `cli.run`), so the only
difference between them is the optimizer code, its imports included.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nameorigin.config import Config
from nameorigin.text.names import N_CHARS
from nameorigin.models.tensors import encode
from nameorigin.data.corpus import load_corpus, split_corpus
from nameorigin.models.recurrent import RecurrentClassifier
from nameorigin.models.tutorial import ScratchRNN


def one_hot(name: str) -> torch.Tensor:
    """The reference's name2tensor: (len, 1, 59)."""
    chars, _ = encode([name])
    return F.one_hot(chars[0], N_CHARS).float().unsqueeze(1)


class TutorialCell(nn.Module):
    """The reference's MyRNN.forward around a ScratchRNN's layers: one call per character."""

    def __init__(self, rnn: ScratchRNN):
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        combined = torch.cat((x, hidden), 1)
        return self.rnn.in2output(combined), torch.sigmoid(self.rnn.in2hidden(combined))


def reference_logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One name through `model` the reference's way: a Python step per character for the cell."""
    if isinstance(model, TutorialCell):
        hidden = model.rnn.init_hidden(1)
        for char in x:
            output, hidden = model(char, hidden)
        return output
    _, h_n = model.layers[0](x.transpose(0, 1))
    return model.head(h_n[-1])


def reference_run(arch: str, train: list, test: list, epochs: int, seed: int) -> tuple[float, float]:
    random.seed(seed)
    torch.manual_seed(seed)
    model = TutorialCell(ScratchRNN(N_CHARS, 256, 18)) if arch == "rnn" else RecurrentClassifier("gru", N_CHARS, 256, 18, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    start = time.perf_counter()
    train = list(train)
    model.train()
    for _ in range(epochs):
        random.shuffle(train)
        for x, y in train:
            loss = criterion(reference_logits(model, x), y)
            optimizer.zero_grad()
            loss.backward()
            if arch == "rnn":
                nn.utils.clip_grad_norm_(model.parameters(), 1)
            optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        correct = sum(int(reference_logits(model, x).argmax(1) == y) for x, y in test)
    return correct / len(test), seconds


def command() -> str:
    """The installed ``nameorigin`` script of this environment: what a user runs and times."""
    script = shutil.which("nameorigin", path=str(Path(sys.executable).parent))
    if script is None:
        sys.exit("benchmarks/train_speed.py: no `nameorigin` command next to this Python; pip install -e . first")
    return script


def nameorigin_run(arch: str, data: str, epochs: int, seed: int, extra: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [command(), "train", "--arch", arch, "--epochs", str(epochs),
               "--seed", str(seed), "--data", data, "--quiet", "--out", f"{tmp}/model", *extra]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        meta = json.loads(Path(f"{tmp}/model/model.json").read_text())
    return meta["metrics"]["accuracy"], seconds


# Both optimizer variants start the same way: PyTorch imported as the command imports it, then
# nameorigin.training.train, then (for torch.optim only) its optimizer, clipping and schedule swapped.
_LAUNCHER = """
import sys
from nameorigin import cli
cli.import_pytorch()
import nameorigin.training.train as train
if {torch_optim!r}:
    import torch

    class AdamW(torch.optim.AdamW):
        def __init__(self, params, lr, weight_decay):
            self.params = list(params)
            super().__init__(self.params, lr=lr, weight_decay=weight_decay, fused=True)

    def OneCycle(optimizer, max_lr, total_steps, pct_start):
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps,
                                                   pct_start=pct_start)

    train.AdamW, train.OneCycle, train.clip_grad_norm = AdamW, OneCycle, torch.nn.utils.clip_grad_norm_
sys.argv = ["nameorigin", *{argv!r}]
cli.run()
"""


def optimizer_run(torch_optim: bool, arch: str, data: str, epochs: int, seed: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["train", "--arch", arch, "--epochs", str(epochs), "--seed", str(seed), "--data", data,
                "--quiet", "--out", f"{tmp}/model"]
        code = _LAUNCHER.format(torch_optim=torch_optim, argv=argv)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        meta = json.loads(Path(f"{tmp}/model/model.json").read_text())
    return meta["metrics"]["accuracy"], seconds


def compare_optimizers(arch: str, data: str, epochs: int, seed: int, repeats: int) -> None:
    """nameorigin.training.optim against torch.optim, whole process, alternating, median of `repeats`."""
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(repeats):
        for torch_optim in (False, True):
            runs[torch_optim].append(optimizer_run(torch_optim, arch, data, epochs, seed))
    for torch_optim, label in ((False, "nameorigin.training.optim"), (True, "torch.optim fused")):
        times = [sec for _, sec in runs[torch_optim]]
        accuracies = sorted({acc for acc, _ in runs[torch_optim]})
        print(f"{arch:<5} {label:<22} {accuracies[0]:>8.4f} {statistics.median(times):>8.1f} "
              f"{'':>8}  (median of {', '.join(f'{t:.1f}' for t in times)} s)", flush=True)
        if len(accuracies) > 1:
            print(f"      note: accuracy differed between runs: {accuracies}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["rnn", "gru"], choices=["rnn", "gru"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", default=os.environ.get("NAMEORIGIN_DATA"))
    parser.add_argument("--skip-reference", action="store_true", help="time only nameorigin train")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of nameorigin train, the median time is reported (a few seconds "
                             "swing more from run to run than the reference loop's minutes)")
    parser.add_argument("--compare-optim", action="store_true",
                        help="also time nameorigin train with torch.optim in place of nameorigin.training.optim")
    parser.add_argument("extra", nargs="*", help="extra flags for nameorigin train (after --)")
    args = parser.parse_args()

    corpus = load_corpus(args.data, progress=False)
    split = split_corpus(corpus, "seed", Config().seed)
    as_ref = lambda rows: [(one_hot(corpus.names[i]), torch.tensor([corpus.labels[i]])) for i in rows]
    train, test = as_ref(split.train), as_ref(split.test)
    print(f"{len(train)} train / {len(test)} test names, {args.epochs} epochs, seed {args.seed}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'model':<5} {'loop':<22} {'accuracy':>8} {'seconds':>8} {'speed-up':>8}")
    for arch in args.arch:
        runs = [nameorigin_run(arch, str(corpus.source), args.epochs, args.seed, args.extra)
                for _ in range(max(1, args.repeats))]
        acc_new, sec_new = runs[0][0], statistics.median(sec for _, sec in runs)
        if len({acc for acc, _ in runs}) > 1:
            print(f"      note: accuracy differed between runs: {[acc for acc, _ in runs]}")
        if not args.skip_reference:
            acc_ref, sec_ref = reference_run(arch, train, test, args.epochs, args.seed)
            print(f"{arch:<5} {'reference (batch 1)':<22} {acc_ref:>8.4f} {sec_ref:>8.1f} {'1.0x':>8}")
        ratio = f"{sec_ref / sec_new:.1f}x" if not args.skip_reference else "-"
        times = ", ".join(f"{sec:.1f}" for _, sec in runs)
        print(f"{arch:<5} {'nameorigin train':<22} {acc_new:>8.4f} {sec_new:>8.1f} {ratio:>8}  (median of {times} s)",
              flush=True)
        if not args.skip_reference and acc_new < acc_ref:
            print(f"      note: nameorigin reached {acc_new:.4f} < reference {acc_ref:.4f} in this run")
        if args.compare_optim:
            compare_optimizers(arch, str(corpus.source), args.epochs, args.seed, max(1, args.repeats))


if __name__ == "__main__":
    main()
