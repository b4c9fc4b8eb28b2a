"""HTTP API benchmarks: market queries over 100,000 open orders, and head latency.

    .venv/bin/python scripts/bench_api.py                    # both stores, rewrite the API section
    .venv/bin/python scripts/bench_api.py --db sqlite --no-write

**Market queries.** A store holding a synthetic market (nodes, capacities, open orders, partial fills,
attestations, fills; rows written straight into the tables the indexer and the API write, with
well-formed but unsigned orders: these endpoints read, they do not verify) is served by
`gpuhours serve --tasks off` (one uvicorn process) over real HTTP. Each endpoint gets sequential
requests on one keep-alive connection, first each with a query string of its own so that the read
cache (backend/api/cache.py) never answers (cold latency), then as a client sends them (as served),
and then a fixed time of concurrent requests from client threads in this process (throughput, as
served); `/health`, a bare JSON answer through the same app and middleware, is the hello-world
baseline measured in the same run.

**Head latency.** `gpuhours serve` with its in-process indexer follows a local Anvil; a client holds
`/events/stream` open while transactions that emit an indexed event are sent one at a time. Anvil
mines each as it arrives, so the latency of a sample is from the moment `eth_sendRawTransaction`
returns (the block is mined) to the moment its event arrives on the stream.

Writes docs/benchmarks.md between `<!-- api:begin -->` and `<!-- api:end -->`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import psycopg
from eth_utils import to_checksum_address
from sqlalchemy import insert

from backend.chain.anvil import free_port, start_anvil
from backend.chain.client import Market
from backend.chain.deploy import deploy
from backend.chain.dev_accounts import dev_account
from backend.chain.protocol import HOUR
from backend.config import ApiSettings, DevChainSettings, IndexerSettings
from backend.db.models import (
    Capacity,
    IndexedAttestation,
    IndexedFill,
    MakerCounter,
    Node,
    OrderState,
    PostedOrder,
    table_of,
)
from backend.db.session import make_engine, migrate
from backend.tasks.jobs import update_price_index
from scripts.benchdoc import write_section

CHAIN_ID = 31337
ADMIN_PG = "postgresql://postgres@127.0.0.1:5432/test"
PG_DB = "gpuhours_bench_api"

NODES = 500
CAPACITIES = 2_000
ATTESTATIONS_PER_NODE = 48
FILLS = 20_000
MODELS = ("H100-SXM5-80GB", "A100-SXM4-80GB", "H200-SXM5-141GB", "L40S-48GB", "B200-SXM-192GB")
REGIONS = ("eu-west", "us-east", "us-west", "ap-south")

LATENCY_TARGET_MS = 25.0
THROUGHPUT_SHARE = 0.5
HEAD_TARGET_MS = 250.0


# ---------------------------------------------------------------------------- the synthetic market


def address(n: int) -> str:
    return to_checksum_address(f"0x{n:040x}")


def populate(url: str, orders: int, now: int, seed: int = 7) -> dict[str, Any]:
    """Write the synthetic market into a migrated store; returns what the queries need."""
    rng = random.Random(seed)
    engine = make_engine(url)
    migrate(engine)
    start = now - now % HOUR + HOUR
    nodes = [
        {
            "chain_id": CHAIN_ID,
            "node_id": n,
            "owner": address(0x1000 + n % 100),
            "gpu_model": MODELS[n % len(MODELS)],
            "gpu_count": 8,
            "vram_gb": 80,
            "region": REGIONS[n % len(REGIONS)],
            "interconnect": "NVLink",
            "gpu_uuids_hash": "0x" + "00" * 32,
            "registered_block": 1,
            "registered_time": now - 86_400,
        }
        for n in range(1, NODES + 1)
    ]
    capacities = []
    for c in range(1, CAPACITIES + 1):
        node = nodes[c % NODES]
        begin = start + HOUR * rng.randrange(0, 24 * 14)
        hours = rng.choice((24, 48, 168))
        capacities.append(
            {
                "chain_id": CHAIN_ID,
                "capacity_id": c,
                "node_id": node["node_id"],
                "provider": node["owner"],
                "start": begin,
                "end": begin + hours * HOUR,
                "supply_cap": 8 * hours,
                "bond": 10**9,
                "status": "active",
                "close_reason": "none",
                "minted": 0,
                "burned": 0,
                "supply": 0,
                "activated": 0,
                "redeemed": 0,
                "expired": 0,
                "created_block": 2,
                "created_time": now - 3_600,
            }
        )
    signed, states = [], []
    kinds = ("primary_sell",) * 9 + ("sell",) * 3 + ("buy",) * 8
    for i in range(orders):
        cap = capacities[rng.randrange(CAPACITIES)]
        kind = rng.choice(kinds)
        maker = cap["provider"] if kind == "primary_sell" else address(0x2000 + rng.randrange(2_000))
        price = rng.randrange(1_500_000, 3_500_000, 1_000)
        order_hash = "0x" + rng.getrandbits(256).to_bytes(32, "big").hex()
        amount = rng.randrange(1, 64)
        signed.append(
            {
                "chain_id": CHAIN_ID,
                "order_hash": order_hash,
                "maker": maker,
                "kind": kind,
                "capacity_id": cap["capacity_id"],
                "amount": amount,
                "price": price,
                "expiry": now + 30 * 86_400,
                "salt": i,
                "counter": 0,
                "signature": "0x" + "00" * 65,
                "status": "open",
                "posted_at": float(now),
                "updated_at": float(now),
            }
        )
        if i % 10 == 0 and amount > 1:  # one in ten partly filled on chain
            states.append(
                {
                    "chain_id": CHAIN_ID,
                    "order_hash": order_hash,
                    "maker": maker,
                    "capacity_id": cap["capacity_id"],
                    "kind": kind,
                    "price": price,
                    "filled": amount // 2,
                    "fees": 0,
                    "fills": 1,
                    "cancelled": False,
                }
            )
    counters = [
        {"chain_id": CHAIN_ID, "maker": address(0x2000 + m), "counter": 0, "block_number": 3}
        for m in range(0, 2_000, 7)
    ]
    first_epoch = now // HOUR - ATTESTATIONS_PER_NODE
    attestations = [
        {
            "chain_id": CHAIN_ID,
            "block_number": 10 + e,
            "log_index": node["node_id"],
            "block_hash": "0x" + f"{10 + e:064x}",
            "block_time": (first_epoch + e + 1) * HOUR,
            "tx_hash": "0x" + f"{e:064x}",
            "node_id": node["node_id"],
            "epoch": first_epoch + e,
            "uptime_bps": rng.choice((10_000, 10_000, 9_900, 9_000, 5_000)),
            "load_bps": 6_000,
            "gpu_seconds": 28_800,
            "mflops_per_joule": 250_000,
            "gflops": 600_000,
            "samples_root": "0x" + "11" * 32,
        }
        for node in nodes
        for e in range(ATTESTATIONS_PER_NODE)
    ]
    fills = []
    for f in range(FILLS):
        cap = capacities[rng.randrange(CAPACITIES)]
        fills.append(
            {
                "chain_id": CHAIN_ID,
                "block_number": 1_000 + f // 50,
                "log_index": f % 50,
                "block_hash": "0x" + f"{1_000 + f // 50:064x}",
                "block_time": now - rng.randrange(2 * 86_400),
                "tx_hash": "0x" + f"{f:064x}",
                "order_hash": "0x" + f"{f:064x}",
                "maker": cap["provider"],
                "taker": address(0x3000 + f % 500),
                "capacity_id": cap["capacity_id"],
                "kind": "primary_sell",
                "amount": rng.randrange(1, 16),
                "price": rng.randrange(1_500_000, 3_500_000, 1_000),
                "fee": 0,
            }
        )
    with engine.begin() as conn:
        for model, rows in (
            (Node, nodes),
            (Capacity, capacities),
            (PostedOrder, signed),
            (OrderState, states),
            (MakerCounter, counters),
            (IndexedAttestation, attestations),
            (IndexedFill, fills),
        ):
            table = table_of(model)
            for i in range(0, len(rows), 5_000):
                conn.execute(insert(table), rows[i : i + 5_000])
        update_price_index(conn, CHAIN_ID, now)  # as the price-index task keeps it
    if engine.dialect.name == "postgresql":
        # The statistics autovacuum would gather a minute after a load this size; SQLite keeps none.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {
        "capacity_ids": [c["capacity_id"] for c in capacities],
        "order_hashes": [o["order_hash"] for o in signed[:: max(1, orders // 1_000)]],
        "makers": [o["maker"] for o in signed[:500]],
    }


# ---------------------------------------------------------------------------- the server


class Server:
    """`gpuhours serve` in a process of its own."""

    def __init__(self, db_url: str, rpc_url: str, deployments_dir: Path, tasks: str):
        self.port = free_port("127.0.0.1")
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "GPUHOURS_DB_URL": db_url,
            "GPUHOURS_RPC_URL": rpc_url,
            "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
        }
        env.pop("GPUHOURS_REDIS_URL", None)
        gpuhours = Path(sys.executable).with_name("gpuhours")
        self.process = subprocess.Popen(
            [str(gpuhours), "serve", "--port", str(self.port), "--tasks", tasks],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gpuhours serve exited: {self.process.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("gpuhours serve did not answer within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


# ---------------------------------------------------------------------------- measurements


@dataclass
class Result:
    name: str
    cold: list[float]  # ms, every request a miss of the read cache
    warm: list[float]  # ms, as served: repeated requests may be answered from the read cache
    rps: float

    def p(self, which: str, q: float) -> float:
        return percentile(getattr(self, which), q)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _timed(client: httpx.Client, paths: list[str], requests: int, bust: bool) -> list[float]:
    samples = []
    for i in range(requests):
        path = paths[i % len(paths)]
        if bust:  # a query string of its own: the read cache keys on it, the endpoint ignores it
            path += ("&" if "?" in path else "?") + f"bench={i}"
        t0 = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return samples


def measure(url: str, name: str, paths: list[str], requests: int, seconds: float, threads: int) -> Result:
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in paths[:20]:  # warm the server's code paths and the database's plans
            client.get(path).raise_for_status()
        cold = _timed(client, paths, requests, bust=True)
        warm = _timed(client, paths, requests, bust=False)
    done = [0] * threads
    stop = threading.Event()

    def hammer(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            i = k
            while not stop.is_set():
                c.get(paths[i % len(paths)]).raise_for_status()
                done[k] += 1
                i += threads

    workers = [threading.Thread(target=hammer, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    return Result(name, cold, warm, sum(done) / (time.perf_counter() - t0))


def market_queries(
    url: str, data: dict[str, Any], requests: int, seconds: float, threads: int
) -> list[Result]:
    rng = random.Random(3)
    caps = rng.sample(data["capacity_ids"], 200)
    queries = [
        ("hello world: `GET /health`", ["/health"]),
        ("prices per GPU class (the price-index task's rows)", ["/prices"]),
        ("market: `GET /capacities` (active, by window start, 50 a page)", ["/capacities"]),
        (
            "market by GPU model and region",
            [f"/capacities?gpu_model={m}&region={r}" for m in MODELS for r in REGIONS],
        ),
        ("order book of a capacity", [f"/capacities/{c}/book" for c in caps]),
        ("one capacity in full", [f"/capacities/{c}" for c in caps]),
        ("an order with its state", [f"/orders/{h}" for h in data["order_hashes"][:200]]),
        ("market sorted by best ask", ["/capacities?sort=price"]),
        ("market with an ask at or below a price", ["/capacities?max_price=1600000"]),
    ]
    return [measure(url, name, paths, requests, seconds, threads) for name, paths in queries]


def head_latency(db_url: str, rpc_url: str, deployments_dir: Path, samples: int) -> list[float]:
    market = Market.connect(rpc_url, deployments_dir)
    sender = dev_account(5, CHAIN_ID)
    server = Server(db_url, rpc_url, deployments_dir, tasks="inprocess")
    arrived: dict[str, float] = {}
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=server.url, timeout=None) as client:  # noqa: S113 — the stream stays open
            try:
                with client.stream("GET", "/events/stream?event=CounterIncremented") as response:
                    ready.set()
                    for line in response.iter_lines():
                        if line.startswith("data: "):
                            arrived[json.loads(line[6:])["tx"]] = time.perf_counter()
            except httpx.RemoteProtocolError:
                pass  # the server stopped at the end of the run

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(30)
    time.sleep(1)
    latencies = []
    nonce = market.w3.eth.get_transaction_count(sender.address)
    rng = random.Random(5)
    try:
        for i in range(samples):
            fn = market.exchange.functions.incrementCounter()
            tx = fn.build_transaction(
                {
                    "from": sender.address,
                    "nonce": nonce + i,
                    "gas": 60_000,
                    "chainId": CHAIN_ID,
                    "maxFeePerGas": 10**10,
                    "maxPriorityFeePerGas": 10**9,
                }
            )
            raw = sender.sign_transaction(tx).raw_transaction
            tx_hash = market.w3.eth.send_raw_transaction(raw)
            mined = time.perf_counter()
            key = "0x" + bytes(tx_hash).hex()
            deadline = mined + 10
            while key not in arrived and time.perf_counter() < deadline:
                time.sleep(0.001)
            if key not in arrived:
                raise RuntimeError(f"transaction {key} never reached the stream")
            latencies.append((arrived[key] - mined) * 1000)
            time.sleep(rng.uniform(0.05, 0.3))  # blocks arrive at random points of the poll cycle
    finally:
        server.stop()
    return latencies


# ---------------------------------------------------------------------------- runs and the report


def fresh_store(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/api-bench.db"
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_DB}"')
    return ADMIN_PG.rsplit("/", 1)[0] + f"/{PG_DB}"


def drop_store(kind: str) -> None:
    if kind == "postgresql":
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


def report(runs: dict[str, tuple[list[Result], list[float]]], orders: int, args: argparse.Namespace) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"Measured by `python scripts/bench_api.py` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}, load average {load:.1f} at the end (the "
        "machine is shared; the server, the client and the database share its two cores).",
        "",
        f"**Market queries over {orders:,} open orders** ({CAPACITIES:,} capacities of {NODES} nodes, one "
        f"order in ten partly filled, {ATTESTATIONS_PER_NODE} attestations a node, {FILLS:,} fills): "
        f"{args.requests} sequential requests per query on one keep-alive connection for each latency, then "
        f"{args.seconds:.0f} s of {args.threads} client threads for the throughput, against one "
        "`gpuhours serve` process over HTTP. The throughput target is half of the hello-world endpoint's, "
        "measured in the same run.",
        "",
        "Cold: every request a miss of the read cache (a query string of its own); as served: the same "
        "requests again, which the cache answers while the store and the second are unchanged.",
        "",
        "| store | query | cold p50 ms | cold p99 ms | cold p99 ≤ 25 ms | as served p99 ms | req/s (as "
        "served) | share of hello world | ≥ 50 % |",
        "|---|---|---:|---:|:-:|---:|---:|---:|:-:|",
    ]
    for kind, (results, _) in runs.items():
        hello = results[0].rps
        for r in results:
            share = r.rps / hello
            is_hello = r is results[0]
            cold99 = r.p("cold", 0.99)
            lines.append(
                f"| {kind} | {r.name} | {r.p('cold', 0.5):.1f} | {cold99:.1f} | "
                f"{'—' if is_hello else ('yes' if cold99 <= LATENCY_TARGET_MS else '**no**')} | "
                f"{r.p('warm', 0.99):.1f} | {r.rps:,.0f} | {share:.0%} | "
                f"{'—' if is_hello else ('yes' if share >= THROUGHPUT_SHARE else '**no**')} |"
            )
    lines += [
        "",
        f"**Head latency**, a mined block to its event on `/events/stream`, 0 confirmations, "
        f"{args.head_samples} blocks one at a time "
        f"(indexer poll {IndexerSettings().indexer_poll_interval:g} s, "
        f"stream poll {ApiSettings().api_stream_poll:g} s):",
        "",
        "| store | p50 ms | p95 ms | max ms | p95 ≤ 250 ms |",
        "|---|---:|---:|---:|:-:|",
    ]
    for kind, (_, latencies) in runs.items():
        p95 = percentile(latencies, 0.95)
        lines.append(
            f"| {kind} | {statistics.median(latencies):.0f} | {p95:.0f} | {max(latencies):.0f} | "
            f"{'yes' if p95 <= HEAD_TARGET_MS else '**no**'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1_000, help="sequential requests per query")
    parser.add_argument("--seconds", type=float, default=8.0, help="throughput run per query")
    parser.add_argument("--threads", type=int, default=8, help="client threads for the throughput")
    parser.add_argument("--head-samples", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print, do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    settings = DevChainSettings()
    runs: dict[str, tuple[list[Result], list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, start_anvil(settings.node_modules) as anvil:
        deployments_dir = deploy(anvil.url, Path(tmp) / "deployments")
        now = Market.connect(anvil.url, deployments_dir).w3.eth.get_block("latest")["timestamp"]
        for kind in kinds:
            url = fresh_store(kind, Path(tmp))
            try:
                t0 = time.perf_counter()
                data = populate(url, args.orders, now)
                print(f"{kind}: market written in {time.perf_counter() - t0:.0f} s", flush=True)
                server = Server(url, anvil.url, deployments_dir, tasks="off")
                try:
                    results = market_queries(server.url, data, args.requests, args.seconds, args.threads)
                finally:
                    server.stop()
                for r in results:
                    print(
                        f"{kind}: {r.name}: cold p99 {r.p('cold', 0.99):.1f} ms, as served p99 "
                        f"{r.p('warm', 0.99):.1f} ms, {r.rps:,.0f} req/s",
                        flush=True,
                    )
                latencies = head_latency(url, anvil.url, deployments_dir, args.head_samples)
                print(
                    f"{kind}: head latency p50 {statistics.median(latencies):.0f} ms, "
                    f"p95 {percentile(latencies, 0.95):.0f} ms",
                    flush=True,
                )
                runs[kind] = (results, latencies)
            finally:
                drop_store(kind)
    section = report(runs, args.orders, args)
    print(section)
    if not args.no_write:
        write_section("api", "HTTP API", section)


if __name__ == "__main__":
    main()
