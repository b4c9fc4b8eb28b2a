"""Indexer backfill benchmark: a local Anvil chain holding ≥ 1,000,000 events of the gpuhours
contracts, indexed from scratch into SQLite and into PostgreSQL.

    .venv/bin/python scripts/bench_indexer.py                      # both stores, rewrite the Indexer section
    .venv/bin/python scripts/bench_indexer.py --events 100000 --db sqlite --no-write --profile

The chain is generated once per --events and kept under .cache/bench-indexer/ (Anvil's state dump
and the deployment); later runs load it. Each block carries 16 rounds of market traffic: a maker
cancelling four distinct orders, a renter filling a provider's signed primary ask in 12 one-hour
fills (OrderFilled, a mint, SaleCredited each), a renter reselling 16 hours to another one by one
(OrderFilled and TransferSingle), every fourth round direct ERC-1155 transfers (single and batch);
every 20th block a counter bump.

Writes docs/benchmarks.md between `<!-- indexer:begin -->` and `<!-- indexer:end -->`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg
import sqlalchemy
from eth_abi import encode
from eth_utils import keccak

from backend.chain.anvil import start_anvil
from backend.chain.client import Market
from backend.chain.deploy import deploy
from backend.chain.deployments import load as load_deployment
from backend.chain.dev_accounts import dev_account
from backend.chain.orders import Order, OrderKind, sign_order, typed_data
from backend.chain.protocol import HOUR
from backend.config import DevChainSettings, IndexerSettings
from backend.indexer.decode import INDEXED_CONTRACTS
from backend.indexer.rpc import Rpc
from backend.indexer.run import Indexer
from scripts.benchdoc import DOC, write_section

CACHE = ROOT / ".cache" / "bench-indexer"
CHAIN_ID = 31337
USDC = 10**6
PRICE = 10_000  # 0.01 USDC per GPU-hour: the renters' stablecoin lasts the whole run
ANVIL_ARGS = ["--gas-limit", "2000000000", "--accounts", "20", "--prune-history"]
PROVIDERS = range(1, 5)
RENTERS = range(5, 15)
CANCELLER = 15
ROUNDS_PER_BLOCK = 16  # fewer, fuller blocks: Anvil's cost per block grows with its state
NODES_PER_PROVIDER = 4
GPUS = 8
WINDOW_HOURS = 90 * 24
TX_GAS = 5_000_000
#: The first eth_getLogs range: the default 2,000 blocks would be the whole chain at once here.
FIRST_RANGE = 16

ORDER = "(address,uint8,uint256,uint256,uint256,uint256,uint256,uint256)"
CANCEL = keccak(text=f"cancel({ORDER}[])")[:4]
FILL_BATCH = keccak(text=f"fillBatch(({ORDER},bytes,uint256)[])")[:4]
TRANSFER = keccak(text="safeTransferFrom(address,address,uint256,uint256,bytes)")[:4]
BATCH_TRANSFER = keccak(text="safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)")[:4]
INCREMENT_COUNTER = keccak(text="incrementCounter()")[:4]

# Published backfill rates the issue compares with (events per second).
PUBLISHED = (("Envio HyperSync", 15_076), ("rindexer over RPC", 207), ("Ponder over RPC", 48))
TARGET = 20_000


# ---------------------------------------------------------------------------- the chain


@dataclass
class Traffic:
    """Generates blocks of market traffic and keeps just enough state to keep every call valid."""

    rpc: Rpc
    market: Market
    capacities: dict[str, list[int]]  # provider address -> its capacity ids
    expiry: int
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    holdings: dict[str, Counter] = field(default_factory=dict)
    counters: Counter = field(default_factory=Counter)
    nonces: dict[str, int] = field(default_factory=dict)
    events: int = 0
    blocks: int = 0
    txs: int = 0

    def __post_init__(self) -> None:
        self.providers = [dev_account(i, CHAIN_ID).address for i in PROVIDERS]
        self.renters = [dev_account(i, CHAIN_ID).address for i in RENTERS]
        self.canceller = dev_account(CANCELLER, CHAIN_ID).address
        self.holdings = {r: Counter() for r in self.renters}
        senders = [*self.providers, *self.renters, self.canceller]
        calls = [("eth_getTransactionCount", [a, "pending"]) for a in senders]
        for address, nonce in zip(senders, self.rpc.batch(calls), strict=True):
            self.nonces[address] = int(nonce, 16)
        self.exchange = self.market.exchange.address
        self.hours = self.market.hours.address
        self.indexed = {self.market.deployment.address(n).lower() for n in INDEXED_CONTRACTS}

    def order(self, maker: str, kind: OrderKind, capacity_id: int, amount: int) -> Order:
        return Order(
            maker,
            kind,
            capacity_id,
            amount,
            PRICE,
            self.expiry,
            self.rng.getrandbits(256),
            self.counters[maker],
        )

    def plan_block(self, n: int) -> tuple[list[tuple[str, str, bytes]], list[tuple[Order, int, str]]]:
        """One block's calls as (sender, to, calldata), and the fills among them still to be signed:
        (order, fills of one unit, taker). Hours are sold or sent on only once a block holds them."""
        calls: list[tuple[str, str, bytes]] = []
        fills: list[tuple[Order, int, str]] = []
        settled = {r: Counter(h) for r, h in self.holdings.items()}

        def move(sender: str, receiver: str, capacity: int, units: int) -> None:
            settled[sender][capacity] -= units
            self.holdings[sender][capacity] -= units
            self.holdings[receiver][capacity] += units

        for k in range(n * ROUNDS_PER_BLOCK, (n + 1) * ROUNDS_PER_BLOCK):
            maker = self.canceller if k % 2 else self.renters[k % len(self.renters)]
            cancelled = [
                self.order(maker, OrderKind.SELL, self.rng.randrange(1, 17), 5).as_tuple() for _ in range(4)
            ]
            calls.append((maker, self.exchange, CANCEL + encode([f"{ORDER}[]"], [cancelled])))

            provider = self.providers[(k // 2) % len(self.providers)]
            renter = self.renters[k % len(self.renters)]
            capacity = self.capacities[provider][(k // 8) % NODES_PER_PROVIDER]
            fills.append((self.order(provider, OrderKind.PRIMARY_SELL, capacity, 12), 12, renter))
            self.holdings[renter][capacity] += 12

            seller = self.renters[(k + 3) % len(self.renters)]
            buyer = self.renters[(k + 7) % len(self.renters)]
            held = [c for c, units in settled[seller].items() if units >= 16]
            if held:
                capacity = self.rng.choice(held)
                fills.append((self.order(seller, OrderKind.SELL, capacity, 16), 16, buyer))
                move(seller, buyer, capacity, 16)

            if k % 4 == 0:
                sender = self.renters[(k + 1) % len(self.renters)]
                receiver = self.renters[(k + 2) % len(self.renters)]
                ids = sorted(c for c, units in settled[sender].items() if units >= 2)[:4]
                if ids:
                    calls.append(
                        (
                            sender,
                            self.hours,
                            BATCH_TRANSFER
                            + encode(
                                ["address", "address", "uint256[]", "uint256[]", "bytes"],
                                [sender, receiver, ids, [1] * len(ids), b""],
                            ),
                        )
                    )
                    calls.append(
                        (
                            sender,
                            self.hours,
                            TRANSFER
                            + encode(
                                ["address", "address", "uint256", "uint256", "bytes"],
                                [sender, receiver, ids[0], 1, b""],
                            ),
                        )
                    )
                    for c in ids:
                        move(sender, receiver, c, 1)
                    move(sender, receiver, ids[0], 1)
        if n % 20 == 19:  # a maker whose orders are only ever cancelled invalidates the rest at once
            calls.append((self.canceller, self.exchange, INCREMENT_COUNTER))
            self.counters[self.canceller] += 1
        return calls, fills

    def sign(self, orders: list[Order]) -> list[bytes]:
        """Anvil signs for its unlocked dev accounts: much faster than pure-Python ECDSA."""
        calls = []
        for order in orders:
            data = typed_data(order, CHAIN_ID, self.exchange)
            data["message"] = {k: str(v) if isinstance(v, int) else v for k, v in data["message"].items()}
            calls.append(("eth_signTypedData_v4", [order.maker, data]))
        return [bytes.fromhex(s[2:]) for s in self.rpc.batch(calls)]

    def send(self, sender: str, to: str, data: bytes) -> tuple[str, list[Any]]:
        nonce = self.nonces[sender]
        self.nonces[sender] += 1
        tx = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(TX_GAS), "nonce": hex(nonce)}
        return "eth_sendTransaction", [tx]

    def why(self, receipt: dict[str, Any] | None) -> str:
        if receipt is None:
            return "it was not mined"
        tx = self.rpc.call("eth_getTransactionByHash", [receipt["transactionHash"]])
        try:
            before = hex(int(tx["blockNumber"], 16) - 1)
            self.rpc.call("eth_call", [{k: tx[k] for k in ("from", "to", "input")}, before])
        except Exception as exc:  # noqa: BLE001 — the revert, decoded where the contracts' errors name it
            data = getattr(exc, "data", None)
            return str(self.market.errors.decode(data)) if data else str(exc)
        return f"{tx['hash']} reverted in its block but not on the state before it"

    def run(self, target: int, chunk: int = 10) -> None:
        """Mine blocks until the indexed contracts have emitted `target` events."""
        started = time.perf_counter()
        while self.events < target:
            planned = [self.plan_block(self.blocks + i) for i in range(chunk)]
            orders = [order for _, fills in planned for order, _, _ in fills]
            signatures = dict(zip((id(o) for o in orders), self.sign(orders), strict=True))
            hashes: list[str] = []
            for calls, fills in planned:
                txs = [self.send(*call) for call in calls]
                for order, times, taker in fills:
                    batch = [(order.as_tuple(), signatures[id(order)], 1)] * times
                    data = FILL_BATCH + encode([f"({ORDER},bytes,uint256)[]"], [batch])
                    txs.append(self.send(taker, self.exchange, data))
                hashes += self.rpc.batch(txs)
                self.rpc.call("evm_mine", [])
            receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
            for receipt in receipts:
                if receipt is None or receipt["status"] != "0x1":
                    raise RuntimeError(f"a generated transaction failed: {self.why(receipt)}")
                self.events += sum(lg["address"].lower() in self.indexed for lg in receipt["logs"])
            self.blocks += chunk
            self.txs += len(hashes)
            rate = self.events / (time.perf_counter() - started)
            print(
                f"\r  {self.blocks} blocks, {self.txs} transactions, {self.events:,} events ({rate:,.0f}/s)",
                end="",
                flush=True,
            )
        print()


def setup_market(market: Market) -> tuple[dict[str, list[int]], int]:
    """Providers with nodes and 90-day capacities (bonded), renters with stablecoin; every approval."""
    capacities: dict[str, list[int]] = {}
    head = market.w3.eth.get_block("latest")["timestamp"]
    start = head - head % HOUR + HOUR
    end = start + WINDOW_HOURS * HOUR
    bond = GPUS * WINDOW_HOURS * market.min_bond_per_unit()
    for i in PROVIDERS:
        provider = dev_account(i, CHAIN_ID)
        market.faucet(provider, 10**7 * USDC)
        market.approve(provider, market.escrow.address)
        market.approve(provider, market.exchange.address)
        capacities[provider.address] = []
        for k in range(NODES_PER_PROVIDER):
            node = market.register_node(
                provider, "H100-SXM5-80GB", GPUS, 80, "eu-west", "NVLink", [f"GPU-{i}-{k}"]
            )
            capacities[provider.address].append(
                market.create_capacity(provider, node, start, end, 1_000_000, bond)
            )
    for i in RENTERS:
        renter = dev_account(i, CHAIN_ID)
        market.faucet(renter, 10**7 * USDC)
        market.approve(renter, market.exchange.address)
    return capacities, end - HOUR


def check_signing(traffic: Traffic) -> None:
    """Anvil's signature of an order equals eth-account's (both RFC 6979): the orders are signed right."""
    provider = dev_account(PROVIDERS[0], CHAIN_ID)
    order = traffic.order(provider.address, OrderKind.PRIMARY_SELL, 1, 1)
    expected = sign_order(order, provider, CHAIN_ID, traffic.exchange).signature
    if traffic.sign([order])[0] != expected:
        raise RuntimeError("Anvil signs orders differently from eth-account")


@dataclass
class Chain:
    url: str
    deployments: Path
    deploy_block: int
    head: int
    logs: int
    generated: dict[str, Any]  # how long generating it took: seconds, blocks, transactions


def open_chain(args: argparse.Namespace, stack: list) -> Chain:
    folder = CACHE / f"{args.events}-events"
    state, deployments_dir, record = folder / "state.json", folder / "deployments", folder / "chain.json"
    settings = DevChainSettings()
    if record.exists() and not args.regenerate:
        print(f"loading the chain from {state.relative_to(ROOT)}")
        # Not dumped again on exit: Anvil would rewrite the cache, genesis block included, so that
        # block 1 no longer links to block 0.
        anvil = start_anvil(
            settings.node_modules,
            port=args.port,
            timeout=600,
            extra_args=[*ANVIL_ARGS, "--load-state", str(state)],
        )
        stack.append(anvil)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        anvil = start_anvil(
            settings.node_modules, port=args.port, extra_args=[*ANVIL_ARGS, "--dump-state", str(state)]
        )
        stack.append(anvil)
        print(f"generating ≥ {args.events:,} events on Anvil at {anvil.url}")
        started = time.perf_counter()
        deploy(anvil.url, deployments_dir)
        market = Market.connect(anvil.url, deployments_dir)
        capacities, expiry = setup_market(market)
        rpc = Rpc(anvil.url, timeout=120)
        rpc.call("evm_setAutomine", [False])
        traffic = Traffic(rpc, market, capacities, expiry)
        check_signing(traffic)
        traffic.run(args.events)
        rpc.call("evm_setAutomine", [True])
        seconds = round(time.perf_counter() - started)
        record.write_text(json.dumps({"seconds": seconds, "blocks": traffic.blocks, "txs": traffic.txs}))
    deployment, _ = load_deployment(deployments_dir, CHAIN_ID)
    rpc = Rpc(anvil.url, timeout=300)
    head = rpc.block_number()
    addresses = [deployment.address(n) for n in INDEXED_CONTRACTS]
    logs = 0
    for start in range(deployment.deploy_block, head + 1, 1000):
        logs += len(rpc.get_logs(start, min(head, start + 999), addresses))
    rpc.close()
    print(f"chain: blocks {deployment.deploy_block}..{head}, {logs:,} logs of the indexed contracts")
    if logs < args.events:
        raise RuntimeError(
            f"the chain holds {logs} events, fewer than {args.events}: the state dump lost "
            "some; run again with --regenerate"
        )
    generated = json.loads(record.read_text())
    return Chain(anvil.url, deployments_dir, deployment.deploy_block, head, logs, generated)


# ---------------------------------------------------------------------------- the stores


def sqlite_store(folder: Path) -> tuple[str, Any]:
    path = folder / "bench.db"

    def size() -> int:
        return sum(p.stat().st_size for p in folder.glob("bench.db*"))

    return f"sqlite:///{path}", size


class PostgresStore:
    """A fresh database on the server, dropped afterwards."""

    def __init__(self, admin_url: str, name: str = "gpuhours_bench"):
        self.admin_url, self.name = admin_url, name
        base, _, _ = admin_url.rpartition("/")
        self.url = f"{base}/{name}"

    def __enter__(self) -> Self:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def size(self) -> int:
        with psycopg.connect(self.url) as conn:
            return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    def __exit__(self, *exc) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def backfill(db_url: str, chain: Chain, profile: bool) -> dict[str, Any]:
    """Index the chain from scratch: start (migrations included) to the checkpoint at the head."""
    settings = IndexerSettings(
        db_url=db_url,
        redis_url=None,
        indexer_confirmations=0,
        indexer_rpc_timeout=300,
        indexer_batch_blocks=FIRST_RANGE,
    )
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    indexer = Indexer.from_settings(settings, rpc_url=chain.url, deployments_dir=chain.deployments)
    migrated = time.perf_counter()
    try:
        indexer.initialize()
        summary = indexer.sync()
    finally:
        indexer.close()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())
    with indexer.engine.connect() as conn:
        stored = conn.execute(sqlalchemy.text("SELECT count(*) FROM raw_event")).scalar_one()
    indexer.engine.dispose()
    if summary.checkpoint != chain.head or summary.events != chain.logs or stored != chain.logs:
        raise RuntimeError(
            f"indexed {summary.events} events ({stored} stored) to block "
            f"{summary.checkpoint}; the chain has {chain.logs} to block {chain.head}"
        )
    return {
        "seconds": seconds,
        "migrate": migrated - started,
        "events": summary.events,
        "batches": summary.batches,
        "rate": summary.events / seconds,
        "requests": indexer.rpc.stats.requests,
    }


# ---------------------------------------------------------------------------- report


def render(chain: Chain, results: dict[str, dict[str, Any]], load: float, events_arg: int) -> str:
    blocks = chain.head - chain.deploy_block + 1
    lines = [
        f"Measured by `python scripts/bench_indexer.py --events {events_arg}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{time.strftime('%Y-%m-%d')}, load average {load:.1f} at the start (the machine is shared; the "
        "indexer, Anvil and the database share its two cores).",
        "",
        f"**Backfill from a local Anvil chain**: {chain.logs:,} events of the five indexed contracts in "
        f"{blocks:,} blocks (about {chain.logs // blocks:,} a block: cancels of distinct orders, primary and "
        "secondary fills with their mints, transfers and escrow credits, direct single and batch transfers, "
        "counter bumps), indexed from an empty store to the head by `Indexer.initialize()` then `sync()`, "
        "timed from start (migrations included) to the checkpoint at the head; the store's `raw_event` count "
        "was checked against `eth_getLogs`. Default settings but the first `eth_getLogs` range "
        f"(`GPUHOURS_INDEXER_BATCH_BLOCKS={FIRST_RANGE}`: the default 2,000 blocks would be the whole chain "
        "in one answer); the range then adapts to at most 20,000 logs an answer.",
        "",
        f"| store | events | wall time | events/s | batches | eth_getLogs and other requests | store size | "
        f"target ≥ {TARGET:,}/s |",
        "|---|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['events']:,} | {r['seconds']:.1f} s | {r['rate']:,.0f} | {r['batches']} | "
            f"{r['requests']} | {r['size'] / 2**20:,.0f} MiB | "
            f"{'yes' if r['rate'] >= TARGET else '**no**'} |"
        )
    lines += [
        "",
        "Published backfill rates for comparison (their own chains and hardware, not measured here): "
        + ", ".join(f"{name} {rate:,} events/s" for name, rate in PUBLISHED)
        + ".",
    ]
    g = chain.generated
    lines += [
        "",
        f"Generating the chain took {g['seconds']:.0f} s ({g['blocks']:,} blocks, {g['txs']:,} "
        "transactions; kept under `.cache/bench-indexer/` for later runs).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events the chain holds at least")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--port", type=int, default=8611, help="port of the benchmark's own Anvil")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("GPUHOURS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a database to connect to while creating and dropping gpuhours_bench",
    )
    parser.add_argument("--regenerate", action="store_true", help="generate the chain even if cached")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each backfill (slower)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    stack: list = []
    results: dict[str, dict[str, Any]] = {}
    try:
        chain = open_chain(args, stack)
        if args.db in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as folder:
                url, size = sqlite_store(Path(folder))
                results["SQLite (WAL)"] = backfill(url, chain, args.profile)
                results["SQLite (WAL)"]["size"] = size()
                print("SQLite:", results["SQLite (WAL)"])
        if args.db in ("postgresql", "both"):
            with PostgresStore(args.postgres_url) as pg:
                version = psycopg.connect(pg.url).info.server_version
                name = f"PostgreSQL {version // 10000}"
                results[name] = backfill(pg.url, chain, args.profile)
                results[name]["size"] = pg.size()
                print(f"{name}:", results[name])
    finally:
        for anvil in stack:  # a generating Anvil writes its state as it exits: GBs for a million events
            anvil.process.terminate()
            anvil.process.wait(timeout=600)
    section = render(chain, results, load, args.events)
    print(section)
    if not args.no_write and not args.profile:
        write_section("indexer", "Indexer", section)
        print(f"\nwrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
