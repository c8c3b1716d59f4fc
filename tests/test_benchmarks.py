"""The benchmark scripts are documented commands: each must still start against the package as
it is now (their imports, their arguments), even though CI never runs them in full."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))
SCRIPTS = [p for p in BENCHMARKS if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8")]  # the rest are helpers

PROBE = """
import runpy, sys
failed = []
for path in sys.argv[1:]:
    sys.argv = [path, "--help"]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as stop:
        if stop.code not in (0, None):
            failed.append(f"{path}: exit {stop.code}")
    except Exception as err:
        failed.append(f"{path}: {type(err).__name__}: {err}")
sys.stderr.write("\\n".join(failed))
"""


def test_every_benchmark_script_imports_and_answers_help():
    assert len(BENCHMARKS) >= 10
    proc = subprocess.run([sys.executable, "-c", PROBE, *map(str, BENCHMARKS)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr[-2000:]
    assert proc.stdout.count("usage:") == len(SCRIPTS)
