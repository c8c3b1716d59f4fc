"""torchrun: two processes on the CPU (gloo) train one model, and match one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ARGS = ["train", "--arch", "rnn", "--epochs", "2", "--quiet"]


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
