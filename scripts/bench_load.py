"""Market reads under many concurrent connections, beside a FastAPI hello-world served the same way.

    .venv/bin/python scripts/bench_load.py                  # rewrite the load section of docs/benchmarks.md
    .venv/bin/python scripts/bench_load.py --no-write --seconds 4

The embedded default as a user starts it (`gpuhours demo --serve`: Anvil, the demo's market round,
SQLite, the indexer and jobs in the API process, one uvicorn process) is loaded by wrk (Debian's
`wrk` package: `apt-get install wrk`) at each connection count, one endpoint at a time, on 127.0.0.1
only, each run bounded in time. A hello-world (`def hello() -> dict`, a sync route as ours are) is
served by uvicorn in the same way and measured in the same run as the ceiling. wrk counts errors
(connect, read, write, timeout) and non-2xx answers; the goal is none of either, p99 under 100 ms at
64 connections, and every market read at half the hello-world's requests per second or more.

Writes docs/benchmarks.md between `<!-- load:begin -->` and `<!-- load:end -->`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from backend.chain.anvil import free_port
from scripts.benchdoc import write_section

BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "wrk"
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
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


@contextmanager
def served(args: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            _wait(proc, ready_url)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure(connections: list[int], seconds: float) -> dict[str, dict[int, Run]]:
    results: dict[str, dict[int, Run]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hello_port, api_port = free_port(), free_port()
        (work / "hello.py").write_text(HELLO)
        hello = [str(BIN / "uvicorn"), "hello:app", "--port", str(hello_port), "--log-level", "warning"]
        with served(
            hello, {**os.environ, "PYTHONPATH": tmp}, f"http://127.0.0.1:{hello_port}/", work / "h.log"
        ):
            results["hello-world"] = {
                c: wrk(f"http://127.0.0.1:{hello_port}/", c, seconds) for c in connections
            }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")},
            "GPUHOURS_API_PORT": str(api_port),
            "GPUHOURS_ANVIL_PORT": str(free_port()),
            "GPUHOURS_DB_URL": f"sqlite:///{work / 'store.db'}",
            "GPUHOURS_DEPLOYMENTS_DIR": str(work / "deployments"),
        }
        demo = [str(BIN / "gpuhours"), "demo", "--serve"]
        with served(demo, env, f"http://127.0.0.1:{api_port}/capacities/1/book", work / "demo.log"):
            for path in ENDPOINTS:
                results[path] = {
                    c: wrk(f"http://127.0.0.1:{api_port}{path}", c, seconds) for c in connections
                }
    return results


def report(results: dict[str, dict[int, Run]], connections: list[int], seconds: float) -> str:
    hello = results["hello-world"]
    head = "| endpoint | " + " | ".join(
        f"{c} conn.: req/s (of hello-world), p50 / p99 ms" for c in connections
    )
    lines = [
        f"Measured by `python scripts/bench_load.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d}: wrk, 2 threads, "
        f"{seconds:g} s per row, against `gpuhours demo --serve` (embedded default, one uvicorn process) "
        f"and a FastAPI hello-world served by uvicorn the same way; {os.cpu_count()} cores "
        f"({platform.machine()}), Python {platform.python_version()}.",
        "",
        head + " | errors, non-2xx |",
        "|---|" + "---:|" * len(connections) + "---:|",
    ]
    for name, runs in results.items():
        cells = [
            f"{r.rps:,.0f} ({r.rps / hello[c].rps:.0%}), {r.p50_ms:.0f} / {r.p99_ms:.0f}"
            for c, r in ((c, runs[c]) for c in connections)
        ]
        bad = sum(r.errors for r in runs.values()), sum(r.non_2xx for r in runs.values())
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {bad[0]}, {bad[1]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    if shutil.which(WRK) is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    section = report(measure(args.connections, args.seconds), args.connections, args.seconds)
    print(section)
    if not args.no_write:
        write_section("load", "API under load", section)


if __name__ == "__main__":
    main()
