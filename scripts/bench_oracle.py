"""Oracle benchmarks: Freivalds vs recomputing the product, the agent's sampling overhead, and the
proof of compute on a real GPU.

    .venv/bin/python scripts/bench_oracle.py            # CPU: measure and rewrite the Oracle section
    .venv/bin/python scripts/bench_oracle.py --no-write # measure and print only
    .venv/bin/python scripts/bench_oracle.py --gpu      # on an NVIDIA machine with torch or CuPy:
                                                        # NVML and the GPU prover, for real

Writes docs/benchmarks.md between `<!-- oracle:begin -->` and `<!-- oracle:end -->` (`--gpu`:
`<!-- oracle-gpu:begin -->` and `<!-- oracle-gpu:end -->`).
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

from oracle.agent.sampling import SampleBuffer, Sampler
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.protocol import freivalds
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


def bench_freivalds(n: int, ks: tuple[int, ...] = (1, 2, 4, 8), rows: int = 32) -> dict:
    seed, salt = 1, 2
    derive = timed(lambda: freivalds.derive_matrices(seed, n), 5)
    a, b = freivalds.derive_matrices(seed, n)
    signs = freivalds.row_signs(salt, n)
    bs = b * signs[:, None]
    c = a @ bs
    recompute, recompute_min = timed(lambda: a @ bs, 7)
    rng = np.random.default_rng(0)
    full = {}
    for k in ks:
        full[k] = timed(lambda k=k: freivalds.check(a, b, c, rounds=k, rng=rng, signs=signs), 41)
    picked = sorted(int(i) for i in rng.choice(n, rows, replace=False))
    sampled = timed(lambda: freivalds.check(a[picked], b, c[picked], rounds=8, rng=rng, signs=signs), 41)
    # The oracle's own path: y = A_S·diag(s)·B·R prepared from the seed before the answer, then C_S·R.
    prepare = timed(lambda: freivalds.expect(seed, salt, n, picked, rounds=8, rng=rng), 21)
    expectation = freivalds.expect(seed, salt, n, picked, rounds=8, rng=rng)
    revealed = c[picked]
    if not expectation.check(revealed).accepted:
        raise RuntimeError("the oracle refused an honest answer")
    on_answer = timed(lambda: expectation.check(revealed), 201)
    return {
        "n": n,
        "rows": rows,
        "derive": derive,
        "recompute": recompute,
        "recompute_min": recompute_min,
        "full": full,
        "sampled": sampled,
        "prepare": prepare,
        "on_answer": on_answer,
    }


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

    from backend.chain.anvil import free_port

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
        "**Freivalds vs recomputing C = A·B on the same CPU** (medians of repeated runs; fastest run "
        "beside):",
        "",
        "| n | check | vectors k | false-accept bound | verify, median | recompute, median | share | "
        "share, fastest runs | target ≤ 1 % |",
        "|---:|---|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for fv in fvs:
        n, rec, rec_min, s = fv["n"], fv["recompute"], fv["recompute_min"], fv["rows"]
        rows = [
            (f"whole product, A, B, C in hand, {k} vector{'s' if k > 1 else ''}", k, f"2^-{k}", t)
            for k, t in fv["full"].items()
        ]
        rows += [
            (f"{s} revealed rows, B in hand", 8, f"(1-f)^{s} + 2^-8", fv["sampled"]),
            (
                f"**the oracle's check on the answer**: {s} revealed rows against the prepared y",
                8,
                f"(1-f)^{s} + 2^-8",
                fv["on_answer"],
            ),
        ]
        for what, k, bound, (median, fastest) in rows:
            pct = median / rec * 100
            lines.append(
                f"| {n} | {what} | {k} | {bound} | {median * 1000:.2f} ms | {rec * 1000:.0f} ms "
                f"({freivalds.flops(n) / rec / 1e9:.0f} GFLOP/s) | {pct:.2f} % | "
                f"{fastest / rec_min * 100:.2f} % | {'yes' if pct <= 1 else 'no'} |"
            )
    lines += [
        "",
        "Before the answer, from the seed (work both sides need, or that does not wait on the agent):",
        "",
        "| n | what | median | fastest | share of the recompute (median) |",
        "|---:|---|---:|---:|---:|",
    ]
    for fv in fvs:
        n, rec = fv["n"], fv["recompute"]
        for what, (median, fastest) in (
            ("deriving A and B whole (the agent's `prepare`; a recompute needs it too)", fv["derive"]),
            (
                f"the oracle preparing y: B derived block by block with B·R fused, {fv['rows']} rows of A "
                "by jumping ahead in the stream, k = 8",
                fv["prepare"],
            ),
        ):
            lines.append(
                f"| {n} | {what} | {median * 1000:.1f} ms | {fastest * 1000:.1f} ms | "
                f"{median / rec * 100:.1f} % |"
            )
    lines += [
        "",
        "Freivalds with the matrices in hand is memory-bound, not flop-bound: each vector (or each batch of "
        "four or more, one skinny GEMM) streams A, B and C from memory, 12·n² bytes (48 MiB at n = 2048), "
        "against 2n³ flops for the recompute, so at a given n its share is set by the machine's GFLOP/s per "
        "GB/s. The oracle does not check that way: it knows everything but C before the agent answers (seed, "
        "salt, the rows it will ask for, its secret vectors R), so it computes y = A_S·diag(s)·B·R while the "
        "agent derives its matrices, and once the rows arrive the test is C_S·R against y. Preparing y costs "
        "about as much as deriving B, which any verifier needs; it never holds A or B whole (memory "
        "O(n·block) instead of 2n², 2 GiB at n = 16384).",
    ]
    s_pct = sampler["cpu"] / sampler["wall"] * 100
    a_pct = agent["cpu"] / agent["wall"] * 100
    lines += [
        "",
        f"**Agent sampling overhead** (simulated source, {sampler['gpus']} GPUs at 1 Hz, process CPU time ÷ "
        "wall time, as a share of one core):",
        "",
        "| what | wall | CPU | share of a core | target ≤ 1 % |",
        "|---|---:|---:|---:|:-:|",
        f"| sampler thread alone ({sampler['reads']} reads of {sampler['gpus']} GPUs) | "
        f"{sampler['wall']:.1f} s | {sampler['cpu'] * 1000:.0f} ms | {s_pct:.2f} % | "
        f"{'yes' if s_pct <= 1 else 'no'} |",
        f"| whole `gpuhours oracle agent` process (uvicorn idle + sampler) | {agent['wall']:.1f} s | "
        f"{agent['cpu'] * 1000:.0f} ms | {a_pct:.2f} % | {'yes' if a_pct <= 1 else 'no'} |",
    ]
    return "\n".join(lines)


def bench_gpu(source_kind: str, backend_name: str, sizes: list[int], repeats: int) -> dict:
    """Challenges answered by the real prover on GPU 0, read through the real telemetry source."""
    from oracle.agent.prover import LocalAgent, Prover, select_backend
    from oracle.agent.telemetry import open_source
    from oracle.node.verifier import challenge
    from oracle.protocol.freivalds import ChallengeError
    from oracle.settings import AgentSettings

    backend = select_backend(backend_name)
    if backend.name == "numpy" and backend_name == "auto" and source_kind != "simulated":
        raise ChallengeError(
            "no CUDA device for torch or CuPy here (--backend numpy measures the CPU instead)"
        )
    with open_source(source_kind, AgentSettings()) as source:
        gpus = source.gpus()
        reads = 200
        cpu0 = time.process_time()
        for _ in range(reads):
            source.read()
        read_cpu = (time.process_time() - cpu0) / reads  # nothing else runs yet: the process is the reads
        idle = next(x for x in source.read().samples if x.uuid == gpus[0].uuid)
        buffer = SampleBuffer(1_000_000)
        sampler = Sampler(source, buffer, interval=0.2)  # 5 Hz: a power profile across the products
        agent = LocalAgent(Prover(backend, source, max_n=max(sizes)))
        outcomes: dict[int, list] = {}
        t0 = time.time()
        sampler.start()
        try:
            for n in sizes:
                challenge(agent, n, gpu=0)  # warm-up: kernels loaded, allocator grown
                outcomes[n] = [challenge(agent, n, gpu=0) for _ in range(repeats)]
        finally:
            sampler.stop()
        samples = [x for x in buffer.between(t0, time.time()) if x.uuid == gpus[0].uuid]
    versions = f"NumPy {np.__version__}"
    if backend.name == "torch":
        import torch

        versions = f"torch {torch.__version__} (CUDA {torch.version.cuda})"
    elif backend.name == "cupy":
        import cupy

        versions = f"CuPy {cupy.__version__}"
    return {
        "source": source_kind,
        "gpu": gpus[0],
        "gpu_count": len(gpus),
        "backend": f"{backend.name} on {backend.device}, {versions}",
        "read_cpu": read_cpu,
        "idle": idle,
        "samples": samples,
        "outcomes": outcomes,
    }


def render_gpu(g: dict) -> str:
    def median(values: list[float]) -> float | None:
        return float(np.median(values)) if values else None

    def show(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    lines = [
        f"Measured by `python scripts/bench_oracle.py --gpu` on {g['gpu'].model} (GPU 0 of "
        f"{g['gpu_count']}), telemetry from {g['source']}, products by {g['backend']}, float32 with TF32 "
        f"off, {platform.machine()} host with {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}.",
        "",
        "**Proof of compute on the GPU**: each challenge as the oracle runs it (prepare, timed run with the "
        "row commitment, 32 rows revealed and checked with k = 8 vectors), one warm-up then the runs "
        "counted. *Verified* TFLOP/s is 2n³ over the time the oracle saw the run call take (product, copy "
        "back, commitment); *on the device* is the agent's own timing of the product; energy is the NVML "
        "counter's delta across the product.",
        "",
        "| n | passed | TFLOP/s verified (median) | TFLOP/s on the device (median) | energy per product | "
        "watts during the product | MFLOP/J (median) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, runs in g["outcomes"].items():
        passed = [o for o in runs if o.passed]
        joules = [freivalds.flops(n) / o.flop_per_joule for o in passed if o.flop_per_joule]
        watts = [
            freivalds.flops(n) / o.flop_per_joule / o.claimed_seconds
            for o in passed
            if o.flop_per_joule and o.claimed_seconds
        ]
        lines.append(
            f"| {n} | {len(passed)} of {len(runs)} | "
            f"{show(median([o.gflops / 1000 for o in passed]), '.1f')} | "
            f"{show(median([freivalds.flops(n) / o.claimed_seconds / 1e12 for o in passed]), '.1f')} | "
            f"{show(median(joules), '.1f')} J | {show(median(watts), '.0f')} | "
            f"{show(median([o.mflop_per_joule for o in passed if o.mflop_per_joule]), ',.0f')} |"
        )
    failed = [o.reason for runs in g["outcomes"].values() for o in runs if not o.passed]
    if failed:
        lines += ["", "Failed challenges: " + "; ".join(sorted(set(failed)))]
    samples, idle = g["samples"], g["idle"]
    busy = [x for x in samples if x.utilization_pct >= 50]
    throttle = 0
    for x in samples:
        throttle |= x.throttle_reasons or 0
    lines += [
        "",
        f"**Telemetry** ({g['source']}, {len(samples)} samples at 5 Hz across the run): power "
        f"{idle.power_w:.0f} W idle, {max((x.power_w for x in samples), default=0):.0f} W at most; SM clock "
        f"{show(median([x.sm_clock_mhz for x in busy]), '.0f')} MHz (median while utilization ≥ 50 %); "
        f"temperature {idle.temperature_c} °C idle, {max((x.temperature_c for x in samples), default=0)} °C "
        f"at most; clock event reasons seen: {throttle:#x}. One read of every GPU costs "
        f"{g['read_cpu'] * 1000:.2f} ms of CPU, {g['read_cpu'] * 100:.2f} % of a core at the agent's 1 Hz "
        "(target ≤ 1 %).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each sampling measurement")
    parser.add_argument("--gpu", action="store_true", help="the GPU benchmark: real telemetry and prover")
    parser.add_argument(
        "--source", default="nvml", help="with --gpu: telemetry source (nvml, dcgm, simulated)"
    )
    parser.add_argument(
        "--backend", default="auto", help="with --gpu: prover backend (auto, torch, cupy, numpy)"
    )
    parser.add_argument("--sizes", default="4096,8192,16384", help="with --gpu: challenge sizes n")
    parser.add_argument(
        "--repeats", type=int, default=3, help="with --gpu: challenges per size, after a warm-up"
    )
    args = parser.parse_args()
    if args.gpu:
        from oracle.agent.telemetry import TelemetryError
        from oracle.protocol.freivalds import ChallengeError

        try:
            sizes = [int(n) for n in args.sizes.split(",")]
            g = bench_gpu(args.source, args.backend, sizes, args.repeats)
        except (ChallengeError, TelemetryError, ValueError) as exc:
            parser.exit(2, f"bench_oracle: {exc}\n")
        name, title, section = "oracle-gpu", "Oracle on a GPU", render_gpu(g)
    else:
        # Sampling first: OpenBLAS worker threads spin for a while after a product and would be billed to it.
        sampler = bench_sampler(seconds=args.seconds)
        agent = bench_agent_process(seconds=args.seconds)
        fvs = [bench_freivalds(2048)]
        name, title, section = "oracle", "Oracle", render(fvs, sampler, agent)
    print(section)
    if not args.no_write:
        write_section(name, title, section)
        print(f"\nwrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
