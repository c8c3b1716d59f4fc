"""Each command's default thread count, on a quiet machine and beside busy processes, side by side.

PyTorch's threads spin-wait for each other, so a command that runs on every core collapses when
another process holds one (docs/benchmarks.md, "Threads"). This runs the installed command's code path
(``python -m nameorigin``, no ``--threads``: the defaults of `nameorigin.threads`) for a few
commands, first alone, then beside ``--busy`` processes that each spin on a core, and prints both
times and their ratio. ``--threads N`` adds rows with that count set explicitly, for comparison.

    python benchmarks/threads.py                       # the defaults, one busy neighbour
    python benchmarks/threads.py --threads 2 --busy 1  # and PyTorch's old default on 2 cores

Times are wall-clock seconds of the whole process (start-up included), the median of
``--repeat`` runs, quiet and busy runs alternating. Whatever else runs on the machine counts as
"quiet" too: the load average printed first says how much there was.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names"
SPIN = "while True: pass"


def corpus_names(folder: Path) -> list[str]:
    names = [line.strip() for path in sorted(folder.glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        sys.exit(f"{folder}: no [Label].txt files; pass --data")
    return names


def commands(data: Path, work: Path, rows: int) -> dict[str, list[str]]:
    """What is timed: the arguments after ``nameorigin``."""
    names = corpus_names(data)
    rng = random.Random(0)
    source = work / "names.txt"
    source.write_text("".join(f"{rng.choice(names)}\n" for _ in range(rows)), encoding="utf-8")
    return {
        "predict 3 names": ["predict", "Qin", "Nguyen", "Schmidt"],
        f"predict --input ({rows:,} rows)": ["predict", "--input", str(source), "--output",
                                             str(work / "out.csv"), "--quiet"],
        "evaluate --model tutorial": ["evaluate", "--model", "tutorial", "--data", str(data)],
        "train --arch rnn --epochs 2": ["train", "--arch", "rnn", "--epochs", "2", "--data", str(data), "--quiet",
                                        "--out", str(work / "rnn")],
    }


def seconds(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nameorigin", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"nameorigin {' '.join(args)} failed:\n{proc.stderr}")
    return time.perf_counter() - start


def beside(busy: int, args: list[str], env: dict[str, str]) -> float:
    """One run of the command, with `busy` processes spinning beside it."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        time.sleep(0.5 if busy else 0)
        return seconds(args, env)
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def quiet_and_busy(args: list[str], env: dict[str, str], repeat: int, busy: int) -> tuple[float, float]:
    """Median seconds alone and beside `busy` spinners; the two alternate, so that whatever else
    the machine is doing weighs on both alike."""
    runs = [(beside(0, args, env), beside(busy, args, env)) for _ in range(repeat)]
    return statistics.median(q for q, _ in runs), statistics.median(b for _, b in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the tutorial's names/ folder")
    parser.add_argument("--rows", type=int, default=100_000, help="rows for predict --input (default: %(default)s)")
    parser.add_argument("--busy", type=int, default=1, help="busy processes beside the command (default: 1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is shown (default: 1)")
    parser.add_argument("--threads", type=int, nargs="*", default=[],
                        help="also time with these explicit --threads counts")
    args = parser.parse_args()
    from nameorigin.threads import default_threads, usable_cpus

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # the command's own defaults
    env["TQDM_DISABLE"] = "1"
    print(f"{usable_cpus()} usable CPUs, load average {os.getloadavg()[0]:.1f} before the runs; "
          f"{args.busy} busy process(es) in the 'busy' column; median of {args.repeat}", flush=True)
    print("| command | threads | quiet | busy | busy / quiet |\n| --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for label, command in commands(args.data, Path(tmp), args.rows).items():
            kind = "predict --input" if "--input" in command else command[0]
            settings = [(f"default ({default_threads(kind)})", [])]
            settings += [(str(n), ["--threads", str(n)]) for n in args.threads]
            for setting, extra in settings:
                quiet, busy = quiet_and_busy(command + extra, env, args.repeat, args.busy)
                print(f"| {label} | {setting} | {quiet:.1f} s | {busy:.1f} s | {busy / quiet:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
