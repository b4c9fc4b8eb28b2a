"""Market reads under many concurrent connections, beside a FastAPI hello-world served the same way.

    .venv/bin/python scripts/bench_load.py                  # rewrite the load section of docs/benchmarks.md
    .venv/bin/python scripts/bench_load.py --no-write --seconds 4

Two layouts, each after the demo's market round on its own Anvil:
- embedded: the default as a user starts it (`gpuhours demo --serve`: SQLite, the indexer and jobs in
  the API process, one uvicorn process), beside a hello-world served by one uvicorn process;
- production: deployments/Procfile run by honcho (`scripts/dev up`: the indexer, a Celery worker and
  beat, `gpuhours serve --workers 2`) on PostgreSQL (a database of its own on
  GPUHOURS_BENCH_POSTGRES_URL, dropped after) and Redis (GPUHOURS_BENCH_REDIS_URL, a namespace of its
  own), beside a hello-world served by `uvicorn --workers 2`.
Each is loaded by wrk (Debian's `wrk` package: `apt-get install wrk`) at each connection count, one
endpoint at a time, on 127.0.0.1 only, each run bounded in time. The hello-world (`def hello() ->
dict`, a sync route as ours are) is the ceiling, measured in the same run. wrk counts errors (connect,
read, write, timeout) and non-2xx answers; the goal is none of either, p99 under 100 ms at 64
connections, and every market read at half the hello-world's requests per second or more.

Writes docs/benchmarks.md between `<!-- load:begin -->` and `<!-- load:end -->`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from backend.chain.anvil import free_port
from backend.chain.deployments import REPO_ROOT
from scripts.benchdoc import write_section

BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "wrk"
POSTGRES = os.environ.get("GPUHOURS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("GPUHOURS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LAYOUTS = ("embedded", "production")
WORKERS = {"embedded": 1, "production": 2}
ENDPOINTS = ["/health", "/capacities", "/capacities/1", "/capacities/1/book", "/prices", "/orders", "/nodes"]
HELLO = """from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def hello() -> dict[str, str]:
    return {"hello": "world"}
"""


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, seconds: float) -> Run:
    out = subprocess.run(
        [WRK, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, flags=re.MULTILINE))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def _wait(proc: subprocess.Popen[str], url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if url.endswith("/rpc"):  # a chain: a JSON-RPC call answers
                call = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
                if httpx.post(url.removesuffix("/rpc"), json=call, timeout=2).status_code == 200:
                    return
            elif httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


@contextmanager
def served(args: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    """`args` running (in a process group of its own, ended whole) once `ready_url` answers 200 (a
    chain's URL + "/rpc": once it answers a JSON-RPC call)."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            _wait(proc, ready_url)
            yield
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _base_env(work: Path, api_port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")},
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "GPUHOURS_API_PORT": str(api_port),
        "GPUHOURS_DEPLOYMENTS_DIR": str(work / "deployments"),
    }


@contextmanager
def embedded(work: Path, api_port: int) -> Iterator[None]:
    env = _base_env(work, api_port) | {
        "GPUHOURS_ANVIL_PORT": str(free_port()),
        "GPUHOURS_DB_URL": f"sqlite:///{work / 'store.db'}",
    }
    demo = [str(BIN / "gpuhours"), "demo", "--serve"]
    with served(demo, env, f"http://127.0.0.1:{api_port}/capacities/1/book", work / "demo.log"):
        yield


@contextmanager
def production(work: Path, api_port: int) -> Iterator[None]:
    env = _base_env(work, api_port)
    anvil_port = free_port()
    rpc = f"http://127.0.0.1:{anvil_port}"
    chain = [str(BIN / "gpuhours"), "chain", "--port", str(anvil_port)]
    with served(chain, env, f"{rpc}/rpc", work / "chain.log"):
        demo = [str(BIN / "gpuhours"), "demo", "--rpc-url", rpc]
        subprocess.run(demo, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        name = f"gpuhours_bench_{os.getpid()}"
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            env |= {
                "GPUHOURS_RPC_URL": rpc,
                "GPUHOURS_DB_URL": f"{POSTGRES.rpartition('/')[0]}/{name}",
                "GPUHOURS_REDIS_URL": REDIS,
                "GPUHOURS_REDIS_NAMESPACE": name,
                "GPUHOURS_API_WORKERS": str(WORKERS["production"]),
                "GPUHOURS_BEAT_SCHEDULE": str(work / "beat-schedule"),
            }
            up = [str(BIN / "honcho"), "-d", str(REPO_ROOT), "-f", "deployments/Procfile", "start"]
            with served(up, env, f"http://127.0.0.1:{api_port}/capacities/1/book", work / "up.log"):
                yield
        finally:
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(layout: str, connections: list[int], seconds: float) -> dict[str, dict[int, Run]]:
    results: dict[str, dict[int, Run]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hello_port, api_port = free_port(), free_port()
        (work / "hello.py").write_text(HELLO)
        hello = [str(BIN / "uvicorn"), "hello:app", "--port", str(hello_port), "--log-level", "warning"]
        hello += ["--workers", str(WORKERS[layout])]
        with served(
            hello, {**os.environ, "PYTHONPATH": tmp}, f"http://127.0.0.1:{hello_port}/", work / "h.log"
        ):
            results["hello-world"] = {
                c: wrk(f"http://127.0.0.1:{hello_port}/", c, seconds) for c in connections
            }
        with (embedded if layout == "embedded" else production)(work, api_port):
            for path in ENDPOINTS:
                results[path] = {
                    c: wrk(f"http://127.0.0.1:{api_port}{path}", c, seconds) for c in connections
                }
    return results


DESCRIBED = {
    "embedded": "`gpuhours demo --serve` (embedded default: SQLite, tasks in-process, one uvicorn process) "
    "beside a FastAPI hello-world served by one uvicorn process",
    "production": "deployments/Procfile under honcho (PostgreSQL, Redis, the indexer, a Celery worker and "
    "beat, `gpuhours serve --workers 2`) beside a FastAPI hello-world served by `uvicorn --workers 2`",
}


def report(layouts: dict[str, dict[str, dict[int, Run]]], connections: list[int], seconds: float) -> str:
    lines = [
        f"Measured by `python scripts/bench_load.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d}: wrk, 2 threads, "
        f"{seconds:g} s per row; {os.cpu_count()} cores ({platform.machine()}), Python "
        f"{platform.python_version()}, wrk on the same cores."
    ]
    for layout, results in layouts.items():
        lines += ["", f"**{layout}**: {DESCRIBED[layout]}.", "", *_table(results, connections)]
    return "\n".join(lines)


def _table(results: dict[str, dict[int, Run]], connections: list[int]) -> list[str]:
    hello = results["hello-world"]
    head = "| endpoint | " + " | ".join(
        f"{c} conn.: req/s (of hello-world), p50 / p99 ms" for c in connections
    )
    lines = [head + " | errors, non-2xx |", "|---|" + "---:|" * len(connections) + "---:|"]
    for name, runs in results.items():
        cells = [
            f"{r.rps:,.0f} ({r.rps / hello[c].rps:.0%}), {r.p50_ms:.0f} / {r.p99_ms:.0f}"
            for c, r in ((c, runs[c]) for c in connections)
        ]
        bad = sum(r.errors for r in runs.values()), sum(r.non_2xx for r in runs.values())
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {bad[0]}, {bad[1]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--layouts", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    if shutil.which(WRK) is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    results = {layout: measure(layout, args.connections, args.seconds) for layout in args.layouts}
    section = report(results, args.connections, args.seconds)
    print(section)
    if not args.no_write:
        write_section("load", "API under load", section)


if __name__ == "__main__":
    main()
