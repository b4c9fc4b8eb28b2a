"""Oracle benchmarks: Freivalds vs recomputing the product, and the agent's sampling overhead.

    .venv/bin/python scripts/bench_oracle.py            # measure and rewrite the Oracle section
    .venv/bin/python scripts/bench_oracle.py --no-write # measure and print only

Writes docs/benchmarks.md between `<!-- oracle:begin -->` and `<!-- oracle:end -->`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.chain.anvil import free_port
from oracle import freivalds
from oracle.agent import SampleBuffer, Sampler
from oracle.telemetry.simulated import SimulatedSource
from scripts.benchdoc import DOC, write_section


def timed(fn, repeat: int) -> tuple[float, float]:
    """(median, fastest) wall time. Shared machines lose a scheduler tick (~4 ms) now and then: that
    is noise for a 3 ms check and not for a 300 ms product, so both figures are shown."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), min(times)


def bench_freivalds(n: int, ks: tuple[int, ...] = (1, 2, 4, 8)) -> dict:
    a, b = freivalds.derive_matrices(1, n)
    signs = freivalds.row_signs(2, n)
    bs = b * signs[:, None]
    c = a @ bs
    recompute, recompute_min = timed(lambda: a @ bs, 7)
    rng = np.random.default_rng(0)
    full = {}
    for k in ks:
        full[k] = timed(lambda k=k: freivalds.check(a, b, c, rounds=k, rng=rng, signs=signs), 41)
    rows = sorted(rng.choice(n, 32, replace=False))
    sampled = timed(lambda: freivalds.check(a[rows], b, c[rows], rounds=8, rng=rng, signs=signs), 41)
    return {"n": n, "recompute": recompute, "recompute_min": recompute_min, "full": full, "sampled": sampled}


def bench_sampler(gpus: int = 8, seconds: float = 20.0) -> dict:
    source = SimulatedSource(0, gpus)
    sampler = Sampler(source, SampleBuffer(gpus * 7200), interval=1.0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"gpus": gpus, "wall": wall, "cpu": cpu, "reads": sampler.reads}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def bench_agent_process(gpus: int = 8, seconds: float = 20.0) -> dict:
    """The whole agent (uvicorn + sampler thread) as `gpuhours oracle agent` runs it, idle between samples."""
    import httpx

    port = free_port()
    env = {**os.environ, "GPUHOURS_ORACLE_SIM_GPUS": str(gpus)}
    exe = Path(sys.executable).with_name("gpuhours")
    proc = subprocess.Popen(
        [str(exe), "oracle", "agent", "--source", "simulated", "--port", str(port), "--backend", "numpy"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("agent did not start") from None
                time.sleep(0.2)
        time.sleep(2)  # past start-up
        cpu0, wall0 = _cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(seconds)
        cpu, wall = _cpu_seconds(proc.pid) - cpu0, time.perf_counter() - wall0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"gpus": gpus, "wall": wall, "cpu": cpu}


def render(fvs: list[dict], sampler: dict, agent: dict) -> str:
    lines = [
        f"Measured by `python scripts/bench_oracle.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, float32, {time.strftime('%Y-%m-%d')}, "
        f"load average {os.getloadavg()[0]:.1f} at the start (the machine is shared; figures move with it).",
        "",
        "**Freivalds vs recomputing C = A·B on the same CPU** (medians of repeated runs; fastest run beside):",
        "",
        "| n | check | vectors k | false-accept bound | verify, median | recompute, median | share | "
        "share, fastest runs | target ≤ 1 % |",
        "|---:|---|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for fv in fvs:
        n, rec, rec_min = fv["n"], fv["recompute"], fv["recompute_min"]
        rows = [("whole product", k, f"2^-{k}", t) for k, t in fv["full"].items()]
        rows.append(("32 sampled rows (the node's check)", 8, "(1-f)^32 + 2^-8", fv["sampled"]))
        for what, k, bound, (median, fastest) in rows:
            pct = median / rec * 100
            lines.append(
                f"| {n} | {what} | {k} | {bound} | {median * 1000:.2f} ms | {rec * 1000:.0f} ms "
                f"({freivalds.flops(n) / rec / 1e9:.0f} GFLOP/s) | {pct:.2f} % | {fastest / rec_min * 100:.2f} % | "
                f"{'yes' if pct <= 1 else 'no'} |"
            )
    lines += [
        "",
        "Freivalds here is memory-bound, not flop-bound: each vector (or each batch of four or more, one "
        "skinny GEMM) streams A, B and C from memory, 12·n² bytes (48 MiB at n = 2048), against 2n³ flops "
        "for the recompute. Its share therefore falls as 1/n, but at a given n it is set by the machine's "
        "GFLOP/s per GB/s of memory bandwidth, not by k·n² flops; on this 2-core machine only the "
        "single-vector check lands near 1 %. The node's own check (32 revealed rows, k = 8) streams only B.",
        "",
        "GPU figures (the NVML reader and the torch/CuPy prover on real hardware: TFLOP/s, watts, MFLOP per "
        "joule) are not here yet: no GPU was available where this ran.",
    ]
    s_pct = sampler["cpu"] / sampler["wall"] * 100
    a_pct = agent["cpu"] / agent["wall"] * 100
    lines += [
        "",
        f"**Agent sampling overhead** (simulated source, {sampler['gpus']} GPUs at 1 Hz, process CPU time ÷ wall "
        "time, as a share of one core):",
        "",
        "| what | wall | CPU | share of a core | target ≤ 1 % |",
        "|---|---:|---:|---:|:-:|",
        f"| sampler thread alone ({sampler['reads']} reads of {sampler['gpus']} GPUs) | {sampler['wall']:.1f} s | "
        f"{sampler['cpu'] * 1000:.0f} ms | {s_pct:.2f} % | {'yes' if s_pct <= 1 else 'no'} |",
        f"| whole `gpuhours oracle agent` process (uvicorn idle + sampler) | {agent['wall']:.1f} s | "
        f"{agent['cpu'] * 1000:.0f} ms | {a_pct:.2f} % | {'yes' if a_pct <= 1 else 'no'} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each sampling measurement")
    args = parser.parse_args()
    # Sampling first: OpenBLAS worker threads spin for a while after a product and would be billed to it.
    sampler = bench_sampler(seconds=args.seconds)
    agent = bench_agent_process(seconds=args.seconds)
    fvs = [bench_freivalds(2048)]
    section = render(fvs, sampler, agent)
    print(section)
    if not args.no_write:
        write_section("oracle", "Oracle", section)
        print(f"\nwrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
