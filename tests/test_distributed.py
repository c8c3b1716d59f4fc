"""torchrun: two processes on the CPU (gloo) train one model, and match one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

# A GRU, not the scratch RNN: that one draws a random initial state per name while training,
# and the processes draw theirs from other streams than one process does, so the two runs would
# differ by more than rounding.
ARGS = ["train", "--arch", "gru", "--num-layers", "1", "--hidden-size", "64", "--epochs", "2", "--quiet"]


def run(command: list[str], out: Path, names_dir: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.run([*command, *ARGS, "--data", str(names_dir), "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "model.json").read_text())


def test_two_processes_write_one_checkpoint_within_a_point_of_one(names_dir, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    two = run([torchrun, "--standalone", "--nproc_per_node=2", "-m", "nameorigin"], tmp_path / "two", names_dir)
    one = run([sys.executable, "-m", "nameorigin"], tmp_path / "one", names_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["model.json", "model.safetensors"]
    assert abs(two["metrics"]["accuracy"] - one["metrics"]["accuracy"]) <= 0.01
    assert two["metrics"]["n_test"] == one["metrics"]["n_test"] == 2007
    # the same steps up to the order of floating-point sums: processes that did not average
    # their gradients would end far apart
    a, b = (load_file(tmp_path / run_ / "model.safetensors") for run_ in ("one", "two"))
    drift = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert drift < 0.1 * max(a[k].float().abs().max().item() for k in a)
