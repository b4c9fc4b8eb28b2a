"""The indexer loop: one writer per chain and store, reorg-safe, resumable after a crash.

Each tick:
1. compares the checkpoint's block hash with the chain's; on a mismatch finds the fork point and
   rolls back to it (reorg.py), in one transaction;
2. fetches the logs of the next range up to head − settings.indexer_confirmations (fetch.py). Blocks
   within settings.indexer_reorg_window of the head are "recent": their headers are fetched *before*
   their logs, checked to link to the checkpoint and to each other, and every log must carry its
   header's hash; else the chain moved mid-fetch and the range is fetched again on the next tick.
   Older blocks are final: the next range of them is fetched and decoded in a thread while this
   tick's batch commits, and used if the next tick starts where it does;
3. writes the raw events, their projections (project.py), the recent block hashes, the journal and the
   checkpoint in one transaction, the checkpoint by compare-and-set. A crash at any point leaves the
   store at the previous checkpoint, which the next run resumes from.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import OperationalError

from backend.chain import deployments
from backend.config import IndexerSettings
from backend.db.models import EVENT_TABLES, STATE_TABLES, Block, Checkpoint, Journal, RawEvent, table_of
from backend.db.session import begin_write, engine_from_settings, migrate
from backend.indexer.decode import Event, EventDecoder, checksum, indexed_contracts
from backend.indexer.fetch import FetchError, Log, LogFetcher
from backend.indexer.journal import Store, insert_rows, upsert_rows
from backend.indexer.lock import Heartbeat, LockHeld, LockLost, WriterLock, writer_lock
from backend.indexer.project import Projector
from backend.indexer.reorg import ConcurrentWriter, DeepReorg, Rollback, find_fork_point, rollback
from backend.indexer.rpc import Header, Rpc, RpcError, RpcUnavailable

log = logging.getLogger(__name__)

ZERO_HASH = "0x" + "00" * 32

#: Called with each event as it is applied, before the batch commits (tests use it to crash mid-batch).
FILL_EVENT = "OrderFilled"
EventHook = Callable[[Event, int], None]
#: Called in the transaction of a batch that indexed fills, or of a rollback that undid events, with
#: the chain's time as far as the store has seen it: what is derived from fills (the price index) is
#: written with them, so it follows each block.
FillsHook = Callable[[Connection, int, int], object]


class IndexerError(RuntimeError):
    """The indexer cannot go on; the message says why and what to do."""


class ChainMismatch(IndexerError):
    """The store indexes another chain than the RPC endpoint serves."""


class ReorgDuringFetch(RuntimeError):
    """The chain changed while a range was fetched; nothing was written."""


@dataclass(frozen=True)
class TickResult:
    action: str  # "idle", "indexed", "rolled_back" or "retry"
    head: int
    start: int | None = None
    end: int | None = None
    events: int = 0
    rollback: Rollback | None = None


@dataclass
class SyncSummary:
    batches: int = 0
    events: int = 0
    rollbacks: list[Rollback] = field(default_factory=list)
    checkpoint: int = -1


class Indexer:
    def __init__(
        self,
        engine: Engine,
        rpc: Rpc,
        deployment: deployments.Deployment,
        abis: dict[str, list[dict[str, Any]]],
        settings: IndexerSettings,
        *,
        hook: EventHook | None = None,
        after_fills: FillsHook | None = None,
    ):
        self.engine = engine
        self.rpc = rpc
        self.settings = settings
        self.chain_id = deployment.chain_id
        self.decoder = EventDecoder(indexed_contracts(deployment, abis))
        self.fetcher = LogFetcher(
            rpc, self.decoder.addresses, settings.indexer_batch_blocks, settings.indexer_max_batch_blocks
        )
        self.start_block = (
            settings.indexer_start_block
            if settings.indexer_start_block is not None
            else deployment.deploy_block
        )
        self.confirmations = settings.indexer_confirmations
        self.window = settings.indexer_reorg_window
        self.hook = hook
        self.after_fills = after_fills
        self.lock: WriterLock | None = None
        # Final blocks (below the reorg window) are fetched and decoded one range ahead, in a thread,
        # while the previous range commits: the node and the database then work at the same time.
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="indexer-fetch")
        self._prefetched: tuple[int, Future[tuple[int, str, list[Event]]]] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: IndexerSettings,
        *,
        engine: Engine | None = None,
        rpc_url: str | None = None,
        deployments_dir: Path | None = None,
        hook: EventHook | None = None,
        after_fills: FillsHook | None = None,
        stop: threading.Event | None = None,
    ) -> Indexer:
        """`stop`: once set, RPC retries give up at once (the process is shutting down)."""
        rpc = Rpc(
            rpc_url or settings.rpc_url,
            timeout=settings.indexer_rpc_timeout,
            retries=settings.indexer_rpc_retries,
            backoff=settings.indexer_backoff,
            max_backoff=settings.indexer_max_backoff,
            stop=stop,
        )
        try:
            chain_id = rpc.chain_id()
        except (RpcUnavailable, RpcError) as exc:
            raise IndexerError(f"cannot reach the chain: {exc}") from None
        try:
            deployment, abis = deployments.load(deployments_dir or settings.deployments_dir, chain_id)
        except deployments.DeploymentError as exc:
            raise IndexerError(str(exc)) from None
        engine = engine or engine_from_settings(settings)
        if settings.db_auto_migrate:
            migrate(engine)
        return cls(engine, rpc, deployment, abis, settings, hook=hook, after_fills=after_fills)

    def close(self) -> None:
        self._ahead.shutdown()
        self.rpc.close()

    # ------------------------------------------------------------------ checkpoint

    def initialize(self) -> None:
        """Create this chain's checkpoint (the block before the start block), or check that the store
        indexes the same chain as the RPC endpoint."""
        chain_id = self.rpc.chain_id()
        if chain_id != self.chain_id:
            raise ChainMismatch(
                f"the RPC endpoint serves chain {chain_id}, the deployment is for {self.chain_id}"
            )
        genesis = self._header(0).hash
        cp = table_of(Checkpoint)
        with begin_write(self.engine) as conn:
            row = conn.execute(select(cp).where(cp.c.chain_id == self.chain_id)).mappings().first()
            if row is not None:
                if row["genesis_hash"] != genesis:
                    raise ChainMismatch(
                        f"the store holds another chain {self.chain_id} (genesis "
                        f"{row['genesis_hash'][:10]}…, the node's is {genesis[:10]}…), e.g. an earlier "
                        "local Anvil: run `gpuhours index --reset` or point GPUHOURS_DB_URL at another "
                        "database"
                    )
                return
            base = self.start_block - 1
            header = self._header(base) if base >= 0 else None
            conn.execute(
                insert(cp).values(
                    chain_id=self.chain_id,
                    block_number=base,
                    block_hash=header.hash if header else ZERO_HASH,
                    genesis_hash=genesis,
                    start_block=self.start_block,
                    updated_at=time.time(),
                )
            )
            if header is not None:
                upsert_rows(conn, table_of(Block), [self._block_row(header)])

    def checkpoint(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            return self._read_checkpoint(conn)

    def _read_checkpoint(self, conn: Connection) -> tuple[int, str]:
        cp = table_of(Checkpoint)
        row = conn.execute(
            select(cp.c.block_number, cp.c.block_hash).where(cp.c.chain_id == self.chain_id)
        ).first()
        if row is None:
            raise IndexerError(f"no checkpoint for chain {self.chain_id}: initialize() first")
        return row[0], row[1]

    def _header(self, number: int) -> Header:
        header = self.rpc.get_block(number)
        if header is None:
            raise ReorgDuringFetch(f"block {number} is gone")
        return header

    def _block_row(self, header: Header) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "number": header.number,
            "hash": header.hash,
            "parent_hash": header.parent_hash,
            "timestamp": header.timestamp,
        }

    # ------------------------------------------------------------------ one step

    def tick(self) -> TickResult:
        """Roll back a reorg, or index the next range, or find nothing to do."""
        with _collector_paused():
            try:
                return self._tick()
            finally:
                # No fetch ahead outlives its tick: the next one uses the same RPC client and fetcher,
                # and the collector stays paused while it runs.
                if self._prefetched is not None:
                    wait([self._prefetched[1]])

    def _tick(self) -> TickResult:
        head = self.rpc.block_number()
        cp = self.checkpoint()
        if cp[0] >= 0:
            at_chain = self.rpc.get_block(cp[0]) if cp[0] <= head else None
            if at_chain is None or at_chain.hash != cp[1]:
                return self._roll_back(head, cp)
        target = head - self.confirmations
        if cp[0] >= target:
            return TickResult("idle", head)
        try:
            return self._index(head, cp, target)
        except ReorgDuringFetch as exc:
            log.info("the chain moved while fetching (%s); fetching again", exc)
            return TickResult("retry", head)

    def _roll_back(self, head: int, cp: tuple[int, str]) -> TickResult:
        with begin_write(self.engine) as conn:
            fork = find_fork_point(conn, self.rpc, self.chain_id, head)
            if self.lock is not None:
                self.lock.renew(conn)
            result = rollback(conn, self.chain_id, fork, cp)
            if self.after_fills is not None and result.raw_events and fork >= 0:
                self.after_fills(conn, self.chain_id, self._header(fork).timestamp)
        return TickResult("rolled_back", head, fork + 1, cp[0], result.raw_events, result)

    def _index(self, head: int, cp: tuple[int, str], target: int) -> TickResult:
        start = cp[0] + 1
        floor = head - self.window  # blocks above it can still be reorganised
        headers: dict[int, Header] = {}
        if start <= floor:
            stop = min(target, floor)
            end, end_hash, events = self._final_range(start, stop)
            journal_above = end
            if end < stop:
                self._prefetched = (end + 1, self._ahead.submit(self._fetch_final, end + 1, stop))
        else:
            stop = min(target, start + self.fetcher.span - 1)
            fetched = self.rpc.get_blocks(range(start, stop + 1))
            previous = cp[1]
            for number in range(start, stop + 1):
                header = fetched[number]
                if header is None or previous not in (ZERO_HASH, header.parent_hash):
                    raise ReorgDuringFetch(f"block {number} does not link to block {number - 1}")
                headers[number] = header
                previous = header.hash
            end, logs = self.fetcher.fetch(start, stop)
            for lg in logs:
                if lg.block_hash != headers[lg.block_number].hash:
                    raise ReorgDuringFetch(f"a log of block {lg.block_number} carries another block hash")
            headers = {n: h for n, h in headers.items() if n <= end}
            end_hash = headers[end].hash
            journal_above = floor
            events = self._decode(logs, headers)
        written = self._commit(
            cp,
            start,
            end,
            end_hash,
            events,
            headers,
            journal_above,
            keep_from=(end - self.window if headers else end),
        )
        return TickResult("indexed", head, start, end, written)

    def _final_range(self, start: int, stop: int) -> tuple[int, str, list[Event]]:
        """The next range of final blocks from `start`: the one fetched ahead if it still fits, else
        fetched now."""
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None and prefetched[0] == start:
            end, end_hash, events = prefetched[1].result()  # raises what the fetch raised
            if end <= stop:
                return end, end_hash, events
        return self._fetch_final(start, stop)

    def _fetch_final(self, start: int, stop: int) -> tuple[int, str, list[Event]]:
        """(end, hash of block end, decoded events) of final blocks start..end, end ≤ stop."""
        end, logs = self.fetcher.fetch(start, stop)
        end_hash = self._header(end).hash
        return end, end_hash, self._decode(logs, {})

    def _decode(self, logs: list[Log], headers: dict[int, Header]) -> list[Event]:
        return [self.decoder.decode(lg) for lg in self._with_times(logs, headers)]

    def _with_times(self, logs: list[Log], headers: dict[int, Header]) -> list[Log]:
        """Block times for logs whose node does not send blockTimestamp."""
        missing = sorted({lg.block_number for lg in logs if lg.block_time is None} - headers.keys())
        times = {n: h.timestamp for n, h in headers.items()}
        if missing:
            for number, header in self.rpc.get_blocks(missing).items():
                if header is None:
                    raise ReorgDuringFetch(f"block {number} is gone")
                times[number] = header.timestamp
        return [
            lg
            if lg.block_time is not None
            else msgspec.structs.replace(lg, block_time=times[lg.block_number])
            for lg in logs
        ]

    def _commit(
        self,
        cp: tuple[int, str],
        start: int,
        end: int,
        end_hash: str,
        events: Sequence[Event],
        headers: dict[int, Header],
        journal_above: int,
        keep_from: int,
    ) -> int:
        raw = table_of(RawEvent)
        cpt = table_of(Checkpoint)
        with begin_write(self.engine) as conn:
            # Move the checkpoint first: a compare-and-set that also locks its row (PostgreSQL) or the
            # database (SQLite) until this batch commits, so a second writer waits, then finds it moved.
            moved = conn.execute(
                update(cpt)
                .where(
                    cpt.c.chain_id == self.chain_id, cpt.c.block_number == cp[0], cpt.c.block_hash == cp[1]
                )
                .values(block_number=end, block_hash=end_hash, updated_at=time.time())
            ).rowcount
            if moved != 1:
                raise ConcurrentWriter(
                    f"the checkpoint of chain {self.chain_id} moved while blocks {start}..{end} were "
                    "fetched: another indexer writes to this store"
                )
            stored = {
                (h, i)
                for h, i in conn.execute(
                    select(raw.c.block_hash, raw.c.log_index).where(
                        raw.c.chain_id == self.chain_id, raw.c.block_number.between(start, end)
                    )
                )
            }
            store = Store(conn, self.chain_id, journal_above)
            projector = Projector(store)
            fresh = [
                (i, event)
                for i, event in enumerate(events)  # idempotent: each log once
                if (event.log.block_hash, event.log.log_index) not in stored
            ]
            store.prefetch(projector.keys(event for _, event in fresh))
            rows = []
            for i, event in fresh:
                lg = event.log
                rows.append(
                    {
                        "chain_id": self.chain_id,
                        "block_number": lg.block_number,
                        "block_hash": lg.block_hash,
                        "block_time": lg.block_time,
                        "tx_hash": lg.tx_hash,
                        "tx_index": lg.tx_index,
                        "log_index": lg.log_index,
                        "address": checksum(lg.address),
                        "contract": event.contract,
                        "event": event.name,
                        "args": event.args,
                    }
                )
                projector.apply(event)
                if self.hook is not None:
                    self.hook(event, i)
            insert_rows(conn, raw, rows)
            store.flush()
            if self.after_fills is not None and any(e.name == FILL_EVENT for _, e in fresh):
                self.after_fills(conn, self.chain_id, max(int(e.log.block_time or 0) for _, e in fresh))
            blocks = table_of(Block)
            upsert_rows(conn, blocks, [self._block_row(h) for h in headers.values()])
            conn.execute(
                delete(blocks).where(blocks.c.chain_id == self.chain_id, blocks.c.number < keep_from)
            )
            journal = table_of(Journal)
            conn.execute(
                delete(journal).where(
                    journal.c.chain_id == self.chain_id, journal.c.block_number <= keep_from
                )
            )
            if self.lock is not None:
                self.lock.renew(conn)
        return len(rows)

    # ------------------------------------------------------------------ loops

    def sync(self) -> SyncSummary:
        """Index until the checkpoint reaches head − confirmations (the caller holds the lock)."""
        summary = SyncSummary()
        while True:
            result = self.tick()
            if result.action == "idle":
                summary.checkpoint = self.checkpoint()[0]
                return summary
            if result.action == "indexed":
                summary.batches += 1
                summary.events += result.events
            elif result.action == "rolled_back" and result.rollback is not None:
                summary.rollbacks.append(result.rollback)

    def run(
        self,
        *,
        once: bool = False,
        wait_for_lock: bool = False,
        stop: threading.Event | None = None,
        on_tick: Callable[[TickResult], None] | None = None,
        start_over: bool = False,
    ) -> SyncSummary:
        """Take the writer lock, then index: to the head and return (`once`), or until `stop` is set.
        `start_over` first drops what the store holds for this chain (under the lock).

        RPC outages are waited out (logged, retried each poll interval) unless `once`; a deep reorg or
        another writer end the run with an IndexerError; a lost lock (Redis or the store away for longer
        than its lifetime) with LockLost, or, with `wait_for_lock`, a wait to take it again."""
        stop = stop or threading.Event()
        summary = SyncSummary()
        while not stop.is_set():
            lock = writer_lock(self.settings, self.engine, self.chain_id)
            while not lock.acquire():
                if not wait_for_lock:
                    raise LockHeld(
                        f"another indexer writes chain {self.chain_id} to this store "
                        f"({lock.kind} lock held by {lock.holder()})"
                    )
                if stop.wait(self.settings.indexer_poll_interval):
                    return summary
            try:
                self._write(lock, summary, once=once, stop=stop, on_tick=on_tick, start_over=start_over)
                break
            except LockLost as exc:
                if not wait_for_lock:
                    raise
                # Redis or the store was away past the lock's lifetime, or another writer took over:
                # a long-lived indexer waits to take the lock again, as at start.
                log.warning("%s; waiting to take the writer lock again", exc)
                start_over = False
        summary.checkpoint = self.checkpoint()[0]
        return summary

    def _write(
        self,
        lock: WriterLock,
        summary: SyncSummary,
        *,
        once: bool,
        stop: threading.Event,
        on_tick: Callable[[TickResult], None] | None,
        start_over: bool,
    ) -> None:
        """Index under `lock`, already taken, until the head (`once`) or `stop`; released on the way out."""
        self.lock = lock
        try:
            with Heartbeat(lock, self.settings.indexer_lock_ttl / 3) as heartbeat:
                try:
                    if start_over:
                        reset(self.engine, self.chain_id)
                    self.initialize()
                except (RpcUnavailable, RpcError, ReorgDuringFetch, OperationalError) as exc:
                    raise IndexerError(f"cannot start indexing chain {self.chain_id}: {exc}") from None
                while not stop.is_set():
                    heartbeat.check()  # the heartbeat renews the lock, idle or busy; a lost lock stops here
                    try:
                        result = self.tick()
                    except (RpcUnavailable, FetchError, OperationalError) as exc:
                        # The node or the database is down for a while: wait and try again, losing nothing.
                        reason = str(exc.orig) if isinstance(exc, OperationalError) else str(exc)
                        if once:
                            raise IndexerError(reason) from None
                        if stop.is_set():
                            break
                        log.error("indexing paused: %s", reason)
                        stop.wait(self.settings.indexer_poll_interval)
                        continue
                    except (DeepReorg, ConcurrentWriter, RpcError) as exc:
                        raise IndexerError(str(exc)) from None
                    if on_tick is not None:
                        on_tick(result)
                    if result.action == "indexed":
                        summary.batches += 1
                        summary.events += result.events
                    elif result.action == "rolled_back" and result.rollback is not None:
                        summary.rollbacks.append(result.rollback)
                    elif result.action == "idle":
                        if once:
                            break
                        stop.wait(self.settings.indexer_poll_interval)
        finally:
            self.lock = None
            lock.release()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, process-wide, for one tick. A batch allocates millions of
    objects that live until it commits and form no cycles: the collector's passes over them took 40 %
    of a backfill. Reference counting still frees them; the collector resumes after the tick."""
    if not gc.isenabled():  # paused by someone else, who will resume it
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def reset(engine: Engine, chain_id: int) -> None:
    """Drop everything indexed for `chain_id`, in one transaction (the next run starts over)."""
    with begin_write(engine) as conn:
        for model in (*STATE_TABLES, *EVENT_TABLES, RawEvent, Block, Journal, Checkpoint):
            table = table_of(model)
            conn.execute(delete(table).where(table.c.chain_id == chain_id))


__all__ = ["ChainMismatch", "Indexer", "IndexerError", "SyncSummary", "TickResult", "reset"]
