"""How many threads a command (PyTorch, or the numpy runtime's batches) should run on, from the
CPUs this process may really use.

PyTorch starts one OpenMP thread per core, and at the end of every operation its threads wait for
each other, spinning. When another process holds one of those cores, each operation waits for the
thread that is descheduled, and a command runs many times slower than on one thread (docs/benchmarks.md,
"Threads", and docs/design.md have the measurements). One thread loses little on a quiet
machine, so the defaults here never give PyTorch every usable CPU:

* a command that scores a few names (``predict NAME...``, ``explain``, ``export``) runs on one
  thread: its operations are too small to share out;
* bulk work (``train``, ``predict --input``, ``evaluate``, ``report``, ``reproduce``) runs on all
  usable CPUs but one, at most `MAX_BULK_THREADS`, and at least one.

"Usable" counts the CPUs the process is allowed to run on (its affinity) and its cgroup's CPU
quota, which is what a container's ``--cpus`` sets and what PyTorch's own default ignores.
Nothing here imports PyTorch or changes its state: the command line applies the choice once
(`nameorigin.cli`), and library code is left to its caller.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

BULK = frozenset({"train", "reproduce", "evaluate", "report", "predict --input", "calibrate-sets"})
# Above this the model's matrix products are too small to gain from more threads: a ceiling, so
# a many-core host does not start dozens of spinning threads.
MAX_BULK_THREADS = 8
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _v2_quota(folder: Path) -> float | None:
    """CPUs' worth of time per period that cgroup v2's ``cpu.max`` ("200000 100000") allows."""
    quota, _, period = (_read(folder / "cpu.max") or "max").partition(" ")
    try:
        return int(quota) / int(period or 100_000) if quota != "max" else None
    except (ValueError, ZeroDivisionError):
        return None


def _v1_quota(folder: Path) -> float | None:
    """The same from cgroup v1's ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (-1: no limit)."""
    try:
        quota, period = int(_read(folder / "cpu.cfs_quota_us") or -1), int(_read(folder / "cpu.cfs_period_us") or 0)
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _own_cgroups(root: Path) -> list[Path]:
    """The folders whose CPU limits bind this process: its own cgroup and every one above it, for
    v2 and v1 (``cpu`` or ``cpu,cpuacct``). Inside a container the path is "/", the mount's root."""
    folders = []
    for line in (_read(PROC_CGROUP) or "0::/").splitlines():
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            base = [root, root / "unified"]
        elif "cpu" in controllers.split(","):
            base = [root / "cpu", root / "cpu,cpuacct"]
        else:
            continue
        for top in base:
            here = top / path.lstrip("/")
            folders += [here, *(p for p in here.parents if p.is_relative_to(top))]
    return folders


def usable_cpus(root: str | os.PathLike = CGROUP_ROOT) -> int:
    """The CPUs this process can keep busy: its affinity, capped by its cgroup's CPU quota (a
    quota of 1.5 CPUs counts as 1), never less than 1. `root` is where the cgroup file systems are
    mounted, for tests."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quotas = [q for folder in _own_cgroups(Path(root)) for q in (_v2_quota(folder), _v1_quota(folder))
              if q is not None]
    if quotas:
        cpus = min(cpus, int(min(quotas)))
    return max(1, cpus)


def default_threads(command: str, cpus: int | None = None) -> int:
    """Threads for `command` (a subcommand's name, or "predict --input") when the user
    says nothing: 1 for light work, and for bulk work all `cpus` but one (default: `usable_cpus`),
    at most `MAX_BULK_THREADS`. A command that is neither (such as ``serve``, which chooses for
    itself) gets 1."""
    if command not in BULK:
        return 1
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(cpus - 1, MAX_BULK_THREADS))


def choose_threads(command: str, requested: int | None = None,
                   environ: Mapping[str, str] = os.environ) -> int | None:
    """The thread count a command line should set: `requested` (``--threads``) if given; else None
    when ``OMP_NUM_THREADS`` is set, since the user's own choice, which PyTorch already follows,
    wins; else `default_threads`."""
    if requested is not None:
        return requested
    if environ.get("OMP_NUM_THREADS", "").strip():
        return None
    return default_threads(command)


_FORKED = False


def _forked() -> None:
    global _FORKED
    _FORKED = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def prediction_threads() -> int:
    """Threads a batch of names is shared out to when the caller says nothing: the CPUs this
    process may use (at most `MAX_BULK_THREADS`), or one in a forked child, whose siblings are the
    parallelism (multiprocessing, Dask's process workers)."""
    return 1 if _FORKED else min(usable_cpus(), MAX_BULK_THREADS)
