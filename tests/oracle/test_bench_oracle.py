"""The oracle benchmark's GPU path, run end to end on the simulated source and the NumPy prover.

On an NVIDIA machine the same code runs with NVML and torch/CuPy (`scripts/bench_oracle.py --gpu`);
here it must at least produce its table from real challenges, so it cannot rot unseen.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bench_gpu(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/bench_oracle.py", "--gpu", "--source", "simulated", "--no-write", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_gpu_benchmark_runs_challenges_and_reports_them():
    proc = bench_gpu("--backend", "numpy", "--sizes", "128,256", "--repeats", "2")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| 128 |", "| 256 |"))]
    assert len(rows) == 2 and all("| 2 of 2 |" in row for row in rows), proc.stdout
    assert "telemetry from simulated" in proc.stdout and "products by numpy on cpu" in proc.stdout
    assert "Failed challenges" not in proc.stdout


def test_gpu_benchmark_refuses_an_unknown_backend_clearly():
    proc = bench_gpu("--backend", "tpu", "--sizes", "64")
    assert proc.returncode == 2 and "unknown backend 'tpu'" in proc.stderr
