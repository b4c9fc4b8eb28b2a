"""The oracle benchmark's GPU path, run end to end on the simulated source and the NumPy prover.

On an NVIDIA machine the same code runs with NVML and torch/CuPy (`scripts/bench_oracle.py --gpu`);
here it must at least produce its table from real challenges, so it cannot rot unseen.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_benchmark_runs_challenges_and_reports_them():
    out = subprocess.run(
        [
            sys.executable,
            "scripts/bench_oracle.py",
            "--gpu",
            "--source",
            "simulated",
            "--backend",
            "numpy",
            "--sizes",
            "128,256",
            "--repeats",
            "2",
            "--no-write",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith(("| 128 |", "| 256 |"))]
    assert len(rows) == 2 and all("| 2 of 2 |" in row for row in rows), out
    assert "telemetry from simulated" in out and "products by numpy on cpu" in out
    assert "Failed challenges" not in out


def test_gpu_benchmark_refuses_an_unknown_backend_clearly():
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/bench_oracle.py",
            "--gpu",
            "--source",
            "simulated",
            "--backend",
            "tpu",
            "--sizes",
            "64",
            "--no-write",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0 and "unknown backend 'tpu'" in proc.stderr
