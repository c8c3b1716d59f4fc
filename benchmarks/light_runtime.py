"""The numpy runtime beside the torch path, for every figure issue 22 asks for, in one run.

Prints, with the load average at the start, between sections and at the end:

1. the light install: the wheel built from this checkout, installed with ``pip`` (no extras) into
   a fresh virtual environment; its size on disk (``du``) and whether ``import torch`` fails
   there; ``nameorigin predict "Angela Merkel"`` from it (median wall time of 5 runs, after one
   unmeasured run, and the largest peak RSS: ``os.wait4``'s rusage of each child, forked by a
   small launcher process so that the benchmark's own memory is not counted) beside the
   same command with ``--backend torch`` in the environment running this script;
2. ``predict_proba`` on 20,000 distinct Wikipedia full names and 20,000 distinct family names, on
   1 and 2 threads: the numpy runtime, the torch path as it was before the runtime (``--old-rev``,
   run from ``git archive`` in its own process with ``torch.set_num_threads``), the new code's
   ``backend="torch"`` and ``backend="onnx"``. Each variant lives in its own process; the runs
   alternate between them, a fresh classifier for each (it remembers the names it has scored),
   warmed on 500 other names; one unmeasured round, then best of 3 (slowest-fastest beside it);
3. the file mode: ``nameorigin predict --input FILE --output OUT.csv --quiet --threads 2`` from the
   light install on a 1,000,000-row CSV of tutorial names drawn with repeats (seed 0) and on one of
   200,000 distinct Wikipedia full names (rows/s over the whole command, and its peak RSS), beside
   ``predict_proba`` on the same names in a fresh process (names/s over the call);
4. ``predict`` against ``predict_proba`` on 100,000 distinct Wikipedia full names, a fresh
   classifier for each run, alternating, best of 3, and the ratio of their times;
5. ``benchmarks/http_load.py`` (32 clients, 20 s, one name per GET) run by the light install's
   Python, after ``pip install WHEEL[serve]`` (after the size was measured);
6. what onnxruntime and its dependencies add to an install: a throwaway environment measured
   with numpy alone, then with onnxruntime;

and a summary table with each goal beside its measured figure. MB is 10**6 bytes throughout.
Needs torch and onnxruntime in the environment running it, and PyPI for ``pip``. Run it on
as quiet a machine as you have (a smoke run takes a minute or two with ``--quick``)::

    python benchmarks/light_runtime.py
    python benchmarks/light_runtime.py --quick
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MB = 1e6
FULL = {"batch": 20_000, "file_rows": 1_000_000, "file_distinct": 200_000, "predict_names": 100_000,
        "http_s": 20.0, "runs": 3, "cli_runs": 5}
QUICK = {"batch": 2_000, "file_rows": 50_000, "file_distinct": 20_000, "predict_names": 10_000,
         "http_s": 5.0, "runs": 1, "cli_runs": 2}
WARM = 500  # names each fresh classifier scores before a timed run
VARIANTS = ("numpy", "old torch", "new torch", "onnx")


# --- children: timed commands and worker processes ------------------------------------------------


@dataclass
class Child:
    seconds: float
    peak_mb: float
    stdout: str


# Runs a command and writes its wall time and peak RSS to a file. A child's ru_maxrss counts the
# memory of the process it was forked from until it calls exec, so this small process forks the
# command rather than the benchmark, whose own RSS (the name lists) would be counted otherwise.
LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "rc": os.waitstatus_to_exitcode(status)}, f)
"""


def run_child(cmd: list, env: dict | None = None) -> Child:
    """Run `cmd` to its end; its wall time and peak RSS (``os.wait4``'s rusage of that child,
    taken by `LAUNCHER`)."""
    with tempfile.TemporaryDirectory() as scratch:
        result, out, err = (Path(scratch) / name for name in ("result.json", "out", "err"))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            subprocess.run([sys.executable, "-I", "-c", LAUNCHER, str(result), *map(str, cmd)], env=env, stdout=stdout,
                           stderr=stderr, check=False)
        stderr = err.read_text(errors="replace")
        if not result.exists() or json.loads(result.read_text())["rc"] != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{stderr[-3000:]}")
        r = json.loads(result.read_text())
        return Child(r["seconds"], r["maxrss_kib"] * 1024 / MB, out.read_text(errors="replace"))


def pip(python: Path | str, *args) -> str:
    """``python -m pip ARGS`` (quiet unless it fails); its standard output."""
    proc = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *map(str, args)],
                          env=env_with(None), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def peak_mb() -> float:
    """This process's peak RSS (VmHWM: its own, since exec; ru_maxrss would count the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def env_with(pythonpath: Path | None) -> dict:
    """This process's environment with PYTHONPATH set to `pythonpath`, or removed."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


class Worker:
    """A process running `worker_main`, which times one request (a JSON line) at a time."""

    def __init__(self, python: Path | str, env: dict):
        self.proc = subprocess.Popen([str(python), __file__, "--_worker"], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def time(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a worker died on {request} (its error is above)")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def make_classifier(variant: str, threads: int | None):
    """A fresh classifier of `variant`, as each code base asks for one."""
    if variant == "old torch":  # the code before the numpy runtime: PyTorch, its threads set by the caller
        import torch

        torch.set_num_threads(threads)
        from nameorigin import load_model

        return load_model("world")
    from nameorigin import load_model

    backend = {"numpy": "numpy", "new torch": "torch", "onnx": "onnx"}[variant]
    return load_model("world", backend=backend, threads=threads)


def worker_main() -> None:
    """Answer each request on stdin (variant, op, names file, threads, warm-up file) with the
    seconds one call of ``predict_proba`` or ``predict`` took on a freshly loaded classifier."""
    import nameorigin

    for line in sys.stdin:
        request = json.loads(line)
        names = Path(request["names"]).read_text(encoding="utf-8").split("\n")
        clf = make_classifier(request["variant"], request["threads"])
        if request.get("warm"):
            clf.predict_proba(Path(request["warm"]).read_text(encoding="utf-8").split("\n"))
        call = clf.predict if request["op"] == "predict" else clf.predict_proba
        start = time.perf_counter()
        call(names)
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "n": len(names), "peak_mb": peak_mb(), "module": nameorigin.__file__}),
              flush=True)


# --- printing --------------------------------------------------------------------------------------


def load_line(when: str) -> str:
    one, five, fifteen = os.getloadavg()
    line = f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"
    print(line, flush=True)
    return line


def table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(flush=True)


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)
    load_line("now")
    print()


# --- 1. the light install ------------------------------------------------------------------------


def du_mb(folder: Path) -> float:
    """Disk usage of `folder` (``du -sk``), in MB."""
    kib = subprocess.run(["du", "-sk", str(folder)], check=True, capture_output=True, text=True).stdout.split()[0]
    return int(kib) * 1024 / MB


def build_wheel(tmp: Path) -> Path:
    """The wheel of this checkout's working tree, built from a copy (no build/ left behind here)."""
    source = tmp / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip(sys.executable, "wheel", source, "--no-deps", "-w", tmp / "wheel")
    (wheel,) = (tmp / "wheel").glob("nameorigin-*.whl")
    return wheel


def light_install(tmp: Path, wheel: Path) -> tuple[Path, dict]:
    """A fresh virtual environment with the wheel installed, no extras; its python and figures."""
    venv = tmp / "light"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip(python, "install", wheel)
    size = du_mb(venv)
    probe = subprocess.run([python, "-c", "import torch"], env=env_with(None), capture_output=True, text=True)
    figures = {"wheel_mb": wheel.stat().st_size / MB, "env_mb": size, "torch_fails": probe.returncode != 0,
               "torch_error": (probe.stderr.strip().splitlines() or ["(none)"])[-1]}
    print(f"wheel {wheel.name}: {figures['wheel_mb']:.1f} MB; fresh venv with it installed: {size:.1f} MB on disk "
          f"(du of the whole venv, pip included)")
    print(f"`import torch` in it: {'fails' if figures['torch_fails'] else 'WORKS'} ({figures['torch_error']})")
    print("installed: " + ", ".join(pip(python, "list", "--format=freeze").split()) + "\n")
    return python, figures


def time_cli(cmd: list, env: dict, runs: int) -> dict:
    """Median wall time and largest peak RSS of `runs` runs of `cmd`, after one unmeasured run."""
    run_child(cmd, env)
    children = [run_child(cmd, env) for _ in range(runs)]
    walls = [c.seconds for c in children]
    return {"median_s": statistics.median(walls), "walls": walls, "peak_mb": max(c.peak_mb for c in children),
            "answer": children[0].stdout.strip().splitlines()[0] if children[0].stdout.strip() else ""}


def cli_section(light_python: Path, runs: int) -> dict:
    name = "Angela Merkel"
    light = time_cli([light_python.parent / "nameorigin", "predict", name], env_with(None), runs)
    heavy = time_cli([Path(sys.executable).parent / "nameorigin", "predict", "--backend", "torch", name],
                     env_with(ROOT / "src"), runs)
    rows = []
    for label, r in (("light install, numpy (default)", light), ("this environment, `--backend torch`", heavy)):
        rows.append([label, f"{r['median_s']:.2f} s", ", ".join(f"{w:.2f}" for w in r["walls"]),
                     f"{r['peak_mb']:.0f} MB", r["answer"][:50]])
    print(f'`nameorigin predict "{name}"`, {runs} runs each after one unmeasured run; peak RSS: '
          "os.wait4's ru_maxrss of each child (forked by a small launcher), the largest of the runs")
    table(["install", "median wall", "runs (s)", "peak RSS", "first line printed"], rows)
    return {"light": light, "torch": heavy}


# --- 2. batch throughput ----------------------------------------------------------------------------


def old_source(tmp: Path, rev: str) -> Path:
    """``src`` of this repository at `rev`, extracted with ``git archive``."""
    folder = tmp / "old"
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def throughput_runs(workers: dict, sets: dict, warm: Path, runs: int) -> dict:
    """names/s of every (variant, set, threads), one unmeasured round then `runs` rounds; within
    a round the variants take turns on each set and thread count."""
    speeds: dict = {}
    for round_ in range(runs + 1):
        for set_name, path in sets.items():
            for threads in (1, 2):
                for variant, worker in workers.items():
                    r = worker.time(variant=variant, op="proba", names=str(path), threads=threads, warm=str(warm))
                    if round_ == 0 and set_name == next(iter(sets)) and threads == 1:
                        print(f"  {variant}: nameorigin from {r['module']}", flush=True)
                    if round_ > 0:
                        speeds.setdefault((variant, set_name, threads), []).append(r["n"] / r["seconds"])
    return speeds


def batch_section(tmp: Path, sets: dict, warm: Path, runs: int, rev: str) -> dict:
    old = old_source(tmp, rev)
    envs = {"numpy": env_with(ROOT / "src"), "old torch": env_with(old), "new torch": env_with(ROOT / "src"),
            "onnx": env_with(ROOT / "src")}
    workers = {v: Worker(sys.executable, envs[v]) for v in VARIANTS}
    try:
        speeds = throughput_runs(workers, sets, warm, runs)
    finally:
        for w in workers.values():
            w.close()
    labels = {"numpy": "numpy runtime", "old torch": f"torch path before ({rev})",
              "new torch": 'new code, backend="torch"', "onnx": 'new code, backend="onnx"'}
    rows = []
    for threads in (1, 2):
        for v in VARIANTS:
            cells = []
            for set_name in sets:
                s = speeds[(v, set_name, threads)]
                base = max(speeds[("old torch", set_name, threads)])
                cells.append(f"{max(s):,.0f}/s ({min(s):,.0f}-{max(s):,.0f}; {max(s) / base:.2f}x)")
            rows.append([labels[v], threads, *cells])
    print(f"\npredict_proba, best of {runs} (slowest-fastest; best against the old torch path's best)")
    table(["variant", "threads", *[f"{k} ({len(_lines(p)):,})" for k, p in sets.items()]], rows)
    return {key: max(v) for key, v in speeds.items()}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


# --- 3. file mode ------------------------------------------------------------------------------------


def write_inputs(tmp: Path, tutorial: list[str], wiki_full: list[str], rows: int, seed: int = 0) -> dict:
    """Two CSV files (id,name) and the same names one a line, for `predict_proba`."""
    rng = random.Random(seed)
    inputs = {f"{rows:,} tutorial names, with repeats": [rng.choice(tutorial) for _ in range(rows)],
              f"{len(wiki_full):,} distinct Wikipedia full names": wiki_full}
    files = {}
    for i, (label, names) in enumerate(inputs.items()):
        src, plain = tmp / f"input{i}.csv", tmp / f"input{i}.txt"
        with src.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(["id", "name"])
            out.writerows(enumerate(names))
        plain.write_text("\n".join(names), encoding="utf-8")
        files[label] = (src, plain, len(names))
    return files


def file_section(tmp: Path, light_python: Path, files: dict) -> dict:
    results, rows = {}, []
    for label, (src, plain, n) in files.items():
        out = tmp / "predicted.csv"
        child = run_child([light_python.parent / "nameorigin", "predict", "--input", src, "--output", out, "--quiet",
                           "--threads", "2"], env_with(None))
        with out.open(encoding="utf-8", newline="") as f:
            written = sum(1 for _ in csv.reader(f)) - 1
        out.unlink()
        worker = Worker(light_python, env_with(None))
        proba = worker.time(variant="numpy", op="proba", names=str(plain), threads=2)
        worker.close()
        file_rate, proba_rate = n / child.seconds, n / proba["seconds"]
        results[label] = {"file_rate": file_rate, "peak_mb": child.peak_mb, "proba_rate": proba_rate,
                          "ratio": file_rate / proba_rate, "written": written, "rows": n}
        rows.append([label, f"{file_rate:,.0f} rows/s ({child.seconds:.1f} s, {written:,} rows written)",
                     f"{child.peak_mb:.0f} MB", f"{proba_rate:,.0f} names/s ({proba['seconds']:.1f} s; "
                     f"process peak {proba['peak_mb']:.0f} MB)", f"{file_rate / proba_rate:.2f}"])
    print("file mode: `nameorigin predict --input FILE --output OUT.csv --quiet --threads 2` from the light install "
          "(whole command, start-up included); predict_proba: one call, threads=2, in a fresh light-install process")
    table(["input", "file mode", "file mode peak RSS", "predict_proba", "file / predict_proba"], rows)
    return results


# --- 4. predict against predict_proba ----------------------------------------------------------------


def predict_section(light_python: Path, names: Path, runs: int) -> dict:
    worker = Worker(light_python, env_with(None))
    times: dict = {"proba": [], "predict": []}
    try:
        for _ in range(runs):
            for op in times:
                times[op].append(worker.time(variant="numpy", op=op, names=str(names), threads=None)["seconds"])
    finally:
        worker.close()
    n = len(_lines(names))
    best = {op: min(t) for op, t in times.items()}
    ratio = best["predict"] / best["proba"]
    print(f"{n:,} distinct Wikipedia full names, light install, default threads, a fresh classifier each run, "
          f"best of {runs}")
    table(["call", "best", "runs (s)", "names/s"],
          [[op if op == "predict" else "predict_proba", f"{best[op]:.2f} s", ", ".join(f"{t:.2f}" for t in ts),
            f"{n / best[op]:,.0f}"] for op, ts in times.items()])
    print(f"predict / predict_proba time: {ratio:.2f}\n")
    return {"ratio": ratio, **best}


# --- 5. HTTP ------------------------------------------------------------------------------------------


def http_section(light_python: Path, wheel: Path, seconds: float) -> dict:
    """http_load.py from the light install (with the serve extra); from this environment if that fails."""
    script = ROOT / "benchmarks" / "http_load.py"
    args = [script, "--clients", "32", "--seconds", seconds, "--json"]
    try:
        pip(light_python, "install", f"{wheel}[serve]", "httpx")
        child, where = run_child([light_python, *args], env_with(None)), "the light install (+ [serve], httpx)"
    except RuntimeError as err:
        print(f"http_load.py failed from the light install ({str(err)[-500:]}); running it from this environment")
        child, where = run_child([sys.executable, *args], env_with(ROOT / "src")), sys.prefix
    r = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"benchmarks/http_load.py --clients 32 --seconds {seconds:g}, server and load generator run by {where}; "
          "the server on its default 1 thread, micro-batching on (wait 2 ms)")
    table(["requests/s", "p50", "p99", "errors", "server CPU/request"],
          [[f"{r['requests_per_s']:,.0f}", f"{r['p50_ms']:.1f} ms", f"{r['p99_ms']:.1f} ms", r["errors"],
            f"{r['server_cpu_ms_per_request']} ms"]])
    return {**r, "where": where}


# --- 6. what onnxruntime adds --------------------------------------------------------------------------


def onnx_size_section(tmp: Path) -> dict:
    venv = tmp / "onnx-size"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip(python, "install", "numpy")
    before, listed = du_mb(venv), pip(python, "list", "--format=freeze").split()
    pip(python, "install", "onnxruntime")
    added, after = du_mb(venv) - before, pip(python, "list", "--format=freeze").split()
    new = sorted(set(after) - set(listed))
    print(f"`pip install onnxruntime` into a fresh venv that already holds numpy adds {added:.1f} MB on disk: "
          + ", ".join(new) + "\n")
    shutil.rmtree(venv)
    return {"added_mb": added, "packages": new}


# --- summary ------------------------------------------------------------------------------------------


def goal_rows(r: dict, sets: list[str]) -> list[list]:
    light, cli = r["install"], r["cli"]
    rows = [["light install size < 150 MB", f"{light['env_mb']:.1f} MB", light["env_mb"] < 150],
            ["`import torch` fails in it", "fails" if light["torch_fails"] else "works", light["torch_fails"]],
            ['`predict "Angela Merkel"` median <= 0.5 s', f"{cli['light']['median_s']:.2f} s (torch path "
             f"{cli['torch']['median_s']:.2f} s)", cli["light"]["median_s"] <= 0.5],
            ["its peak RSS <= 120 MB",
             f"{cli['light']['peak_mb']:.0f} MB (torch path {cli['torch']['peak_mb']:.0f} MB)",
             cli["light"]["peak_mb"] <= 120]]
    for threads in (1, 2):
        for s in sets:
            new, old = r["batch"][("numpy", s, threads)], r["batch"][("old torch", s, threads)]
            rows.append([f"numpy >= old torch path, {s}, {threads} thread{'s' * (threads > 1)}",
                         f"{new:,.0f}/s against {old:,.0f}/s ({new / old:.2f}x)", new >= old])
    for label, f in r["files"].items():
        rows.append([f"file mode peak RSS < 400 MB ({label})", f"{f['peak_mb']:.0f} MB", f["peak_mb"] < 400])
        rows.append([f"file / predict_proba >= 0.7 ({label})", f"{f['ratio']:.2f}", f["ratio"] >= 0.7])
    rows.append(["predict / predict_proba time <= 2", f"{r['predict']['ratio']:.2f}", r["predict"]["ratio"] <= 2])
    h = r["http"]
    rows.append(["HTTP, 32 clients: p99 < 20 ms, 0 errors", f"p99 {h['p99_ms']:.1f} ms, {h['errors']} errors",
                 h["p99_ms"] < 20 and h["errors"] == 0])
    return [[goal, measured, "met" if ok else "NOT met"] for goal, measured, ok in rows]


# --- the run ------------------------------------------------------------------------------------------


def sample_names(args: argparse.Namespace, size: dict) -> dict:
    """Distinct Wikipedia full names and family names (as `load_people` splits them), and the
    tutorial corpus's lines; the timed sets are disjoint from the warm-up names."""
    sys.path.insert(0, str(ROOT / "src"))
    from nameorigin.data.wiki import load_people

    people = load_people(args.wiki)
    rng = random.Random(args.seed)
    full = sorted(set(people.full))
    big = rng.sample(full, max(size["file_distinct"], size["predict_names"], size["batch"] + WARM))
    tutorial = [line for path in sorted(args.data.glob("*.txt"))
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {"full": big[:size["batch"]], "warm": big[size["batch"]:size["batch"] + WARM],
            "family": rng.sample(sorted(set(people.surname)), size["batch"]), "tutorial": tutorial,
            "file_full": big[:size["file_distinct"]], "predict": big[:size["predict_names"]]}


def write_lines(path: Path, names: list[str]) -> Path:
    path.write_text("\n".join(names), encoding="utf-8")
    return path


def run_all(args: argparse.Namespace, size: dict, tmp: Path) -> dict:
    names = sample_names(args, size)
    r: dict = {}
    section("1. The light install")
    wheel = build_wheel(tmp)
    light_python, r["install"] = light_install(tmp, wheel)
    r["cli"] = cli_section(light_python, size["cli_runs"])
    section("2. Batch throughput (predict_proba)")
    sets = {"Wikipedia full names": write_lines(tmp / "full.txt", names["full"]),
            "Wikipedia family names": write_lines(tmp / "family.txt", names["family"])}
    r["batch"] = batch_section(tmp, sets, write_lines(tmp / "warm.txt", names["warm"]), size["runs"], args.old_rev)
    section("3. File mode")
    files = write_inputs(tmp, names["tutorial"], names["file_full"], size["file_rows"])
    r["files"] = file_section(tmp, light_python, files)
    section("4. predict against predict_proba")
    r["predict"] = predict_section(light_python, write_lines(tmp / "predict.txt", names["predict"]), size["runs"])
    section("5. HTTP")
    r["http"] = http_section(light_python, wheel, size["http_s"])
    section("6. What onnxruntime would add to an install")
    r["onnx"] = onnx_size_section(tmp)
    section("Summary")
    table(["goal", "measured", ""], goal_rows(r, list(sets)))
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and single runs: a smoke run")
    parser.add_argument("--old-rev", default="dea2550",
                        help="the commit whose torch path is compared (default: %(default)s)")
    parser.add_argument("--wiki", type=Path, default=SHARED / "wiki" / "names.tsv")
    parser.add_argument("--data", type=Path, default=SHARED / "names", help="the tutorial corpus's folder")
    parser.add_argument("--seed", type=int, default=1,
                        help="for the Wikipedia samples (the file of tutorial names uses 0)")
    parser.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._worker:
        worker_main()
        return
    size = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(f"# benchmarks/light_runtime.py{' --quick' if args.quick else ''}: {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]} ({sys.executable})")
    load_line("at the start")
    with tempfile.TemporaryDirectory(prefix="light-runtime-") as tmp:
        run_all(args, size, Path(tmp))
    load_line("at the end")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
