"""Thread defaults: the usable CPUs (affinity and cgroup quota) and the count each command gets."""

from __future__ import annotations

import pytest

from nameorigin import threads


@pytest.fixture
def cgroups(tmp_path, monkeypatch):
    """A fake cgroup mount at `tmp_path`, seen by a process on 8 CPUs in the root cgroup of both
    hierarchies."""
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("12:cpu,cpuacct:/\n0::/\n")
    monkeypatch.setattr(threads, "PROC_CGROUP", proc)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    return tmp_path


def test_without_a_quota_the_affinity_counts(cgroups):
    (cgroups / "cpu.max").write_text("max 100000\n")
    assert threads.usable_cpus(cgroups) == 8


@pytest.mark.parametrize("cpu_max, expected", [("200000 100000", 2), ("150000 100000", 1), ("50000 100000", 1),
                                               ("1600000 100000", 8), ("garbage", 8), ("100000 0", 8)])
def test_a_cgroup_v2_quota_caps_the_cpus(cgroups, cpu_max, expected):
    (cgroups / "cpu.max").write_text(cpu_max)
    assert threads.usable_cpus(cgroups) == expected


def test_a_cgroup_v1_quota_caps_the_cpus(cgroups):
    folder = cgroups / "cpu,cpuacct"
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.usable_cpus(cgroups) == 3
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.usable_cpus(cgroups) == 8


def test_the_quota_of_a_parent_cgroup_binds_too(cgroups, monkeypatch):
    (cgroups / "proc-self-cgroup").write_text("0::/kubepods/pod1/box\n")
    (cgroups / "kubepods" / "pod1" / "box").mkdir(parents=True)
    (cgroups / "kubepods" / "pod1" / "box" / "cpu.max").write_text("max 100000")
    (cgroups / "kubepods" / "pod1" / "cpu.max").write_text("400000 100000")
    assert threads.usable_cpus(cgroups) == 4


def test_the_affinity_caps_a_larger_quota(cgroups, monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    (cgroups / "cpu.max").write_text("400000 100000")
    assert threads.usable_cpus(cgroups) == 1


@pytest.mark.parametrize("command, cpus, expected", [
    ("predict", 16, 1), ("explain", 16, 1), ("export", 16, 1), ("serve", 16, 1),
    ("train", 1, 1), ("train", 2, 1), ("train", 4, 3), ("train", 64, threads.MAX_BULK_THREADS),
    ("predict --input", 2, 1), ("predict --input", 6, 5), ("evaluate", 3, 2), ("report", 2, 1),
    ("reproduce", 5, 4),
])
def test_default_threads(command, cpus, expected):
    assert threads.default_threads(command, cpus) == expected


def test_an_explicit_count_wins_then_the_users_omp_setting():
    assert threads.choose_threads("train", 3, {"OMP_NUM_THREADS": "2"}) == 3
    assert threads.choose_threads("train", None, {"OMP_NUM_THREADS": "2"}) is None
    assert threads.choose_threads("predict", None, {}) == 1
    assert threads.choose_threads("predict", None, {"OMP_NUM_THREADS": " "}) == 1
