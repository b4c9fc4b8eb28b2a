"""The settlement keeper: settles every booking and window as soon as the contract lets it.

Each tick finds candidates in the SQL store (open bookings of active capacities whose last hour has
ended; active capacities whose window has ended, with the holders the store says still hold units),
then asks the chain: every call is simulated (gas estimate) before it is sent, and a revert that
means "not yet" or "already done" (by this keeper earlier, another keeper, or anyone by hand) is a
logged skip. The contract pays each item once; the keeper never retries an item within a tick, so
a lost race costs one estimate and nothing else. Calls per tick are bounded; the rest wait.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Connection, select
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception

from backend.chain.client import Market
from backend.chain.dev_accounts import dev_account
from backend.chain.errors import ContractRevert
from backend.chain.keystore import KeystoreError, load_account, read_password_file
from backend.chain.protocol import DEV_CHAIN_IDS, HOUR, CapacityStatusName, CloseReasonName
from backend.config import TaskSettings
from backend.db.models import Balance, Booking, Capacity, table_of

log = logging.getLogger(__name__)

#: Where GpuHours.terms(id) puts the delay: Terms(backing, slashPerGpuHour, maxDelay, ...).
TERMS_MAX_DELAY = 2

#: Reverts that say "nothing to do here now": not ready yet (NotSettleable), settled or closed
#: already (BookingNotOpen, CapacityNotSettleable), units still unsettled (UnitsOutstanding).
SKIP_ERRORS = frozenset({"NotSettleable", "BookingNotOpen", "CapacityNotSettleable", "UnitsOutstanding"})


class KeeperAccountError(Exception):
    """No account to settle with: a keystore is needed outside development chains."""


def keeper_account(settings: TaskSettings, chain_id: int) -> tuple[LocalAccount, str]:
    """The account that sends settlements, and a few words on where it came from: the keystore when
    one is set; otherwise, on a development chain only, an Anvil dev account."""
    files = settings.keeper_keystore_files()
    if files is not None:
        return _load_keystore(*files), f"keystore {files[0]}"
    if chain_id not in DEV_CHAIN_IDS:
        raise KeeperAccountError(
            f"no keeper account for chain {chain_id}: set GPUHOURS_KEEPER_KEYSTORE and "
            "GPUHOURS_KEEPER_PASSWORD_FILE"
        )
    index = settings.keeper_dev_account
    return dev_account(index, chain_id), f"dev account {index}, for development chains only"


def _load_keystore(path: Path, password_file: Path) -> LocalAccount:
    # Errors name the files, never what is in them.
    try:
        return load_account(path, read_password_file(password_file))
    except KeystoreError as exc:
        raise KeeperAccountError(f"the keeper keystore: {exc}") from None


def settle_delay(market: Market, capacity_id: int) -> int:
    """Seconds after an hour of `capacity_id` ends during which its attestation is awaited: the delay
    the capacity recorded at its creation (`terms(id).maxDelay`); the contract settles one second
    later. The one place that knows it."""
    return market.hours.functions.terms(capacity_id).call()[TERMS_MAX_DELAY]


@dataclass(frozen=True)
class Candidates:
    """What the store says may be settleable; the chain has the last word."""

    bookings: list[tuple[int, int, int]] = field(default_factory=list)  # (booking, capacity, end)
    windows: list[tuple[int, int]] = field(default_factory=list)  # (capacity, window end)
    holders: dict[int, list[str]] = field(default_factory=dict)  # capacity -> holders with units


def find_candidates(conn: Connection, chain_id: int, now: int, limit: int) -> Candidates:
    """Open bookings whose last hour has ended and active capacities whose window has ended, the
    longest-ended first, at most `limit` of each."""
    b = table_of(Booking)
    c = table_of(Capacity)
    bal = table_of(Balance)
    end = (b.c.start + b.c.hours * HOUR).label("end")
    bookings = conn.execute(
        select(b.c.booking_id, b.c.capacity_id, end)
        .select_from(b.join(c, (c.c.chain_id == b.c.chain_id) & (c.c.capacity_id == b.c.capacity_id)))
        .where(
            b.c.chain_id == chain_id,
            b.c.close_reason == CloseReasonName.NONE,
            c.c.status == CapacityStatusName.ACTIVE,
            end <= now,
        )
        .order_by(end, b.c.booking_id)
        .limit(limit)
    ).all()
    windows = conn.execute(
        select(c.c.capacity_id, c.c.end)
        .where(c.c.chain_id == chain_id, c.c.status == CapacityStatusName.ACTIVE, c.c.end <= now)
        .order_by(c.c.end, c.c.capacity_id)
        .limit(limit)
    ).all()
    holders: dict[int, list[str]] = {}
    if windows:
        rows = conn.execute(
            select(bal.c.capacity_id, bal.c.holder)
            .where(
                bal.c.chain_id == chain_id, bal.c.capacity_id.in_([w[0] for w in windows]), bal.c.amount > 0
            )
            .order_by(bal.c.capacity_id, bal.c.holder)
        ).all()
        for capacity_id, holder in rows:
            holders.setdefault(int(capacity_id), []).append(holder)
    return Candidates(
        [(int(i), int(cap), int(e)) for i, cap, e in bookings],
        [(int(cap), int(e)) for cap, e in windows],
        holders,
    )


@dataclass(frozen=True)
class Decision:
    """What the keeper did with one call: settled (with its transaction), skipped (the contract's
    reason) or failed (anything else; tried again next tick)."""

    call: str
    id: int
    outcome: str
    reason: str = ""
    tx: str | None = None
    holders: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SettlementKeeper:
    def __init__(
        self, market: Market, account: LocalAccount, *, max_calls: int = 25, holders_per_call: int = 50
    ):
        self.market = market
        self.account = account
        self.max_calls = max_calls
        self.holders_per_call = holders_per_call

    def tick(self, found: Candidates, now: int) -> list[Decision]:
        """Bookings first, then unused hours, then closing windows: the order in which each becomes
        possible. At most `max_calls` calls; what is left waits for the next tick."""
        delays: dict[int, int] = {}
        decisions: list[Decision] = []
        calls = self.market.settlement.functions

        def ready(capacity_id: int, end: int) -> bool:
            if capacity_id not in delays:
                delays[capacity_id] = settle_delay(self.market, capacity_id)
            return now >= end + delays[capacity_id] + 1

        def budget_left() -> bool:
            return len(decisions) < self.max_calls

        for booking_id, capacity_id, end in found.bookings:
            if budget_left() and ready(capacity_id, end):
                decisions.append(self._call("settleBooking", booking_id, calls.settleBooking(booking_id)))
        windows = [(cap, end) for cap, end in found.windows if ready(cap, end)]
        for capacity_id, _ in windows:
            for batch in self._holding(capacity_id, found.holders.get(capacity_id, [])):
                if budget_left():  # counts `decisions` as they grow: no comprehension
                    decisions.append(  # noqa: PERF401
                        self._call("settleUnused", capacity_id, calls.settleUnused(capacity_id, batch), batch)
                    )
        for capacity_id, _ in windows:
            if budget_left():
                decisions.append(self._call("settleCapacity", capacity_id, calls.settleCapacity(capacity_id)))
        return decisions

    def _holding(self, capacity_id: int, holders: list[str]) -> list[list[str]]:
        """`holders` that hold units on chain now (the store may lag), in batches."""
        if not holders:
            return []
        amounts = self.market.hours.functions.balanceOfBatch(holders, [capacity_id] * len(holders)).call()
        holding = [h for h, amount in zip(holders, amounts, strict=True) if amount > 0]
        step = self.holders_per_call
        return [holding[i : i + step] for i in range(0, len(holding), step)]

    def _call(self, name: str, item: int, fn: ContractFunction, holders: list[str] | None = None) -> Decision:
        try:
            receipt = self.market.send(self.account, fn)  # estimates first: a revert raises here
        except ContractRevert as exc:
            outcome = "skipped" if exc.name in SKIP_ERRORS else "failed"
            decision = Decision(name, item, outcome, str(exc), holders=holders)
        except Web3Exception as exc:  # a nonce taken by a racing send, a receipt that never came
            decision = Decision(name, item, "failed", f"{type(exc).__name__}: {exc}", holders=holders)
        else:
            effect = self._effect(name, receipt)
            # settleUnused does not revert for holders with nothing left, so a race lost between
            # the estimate and the block is a transaction that settled nothing.
            outcome = "settled" if effect else "skipped"
            decision = Decision(
                name,
                item,
                outcome,
                effect or "nothing left: settled by another first",
                receipt["transactionHash"].to_0x_hex(),
                holders,
            )
        level = logging.WARNING if decision.outcome == "failed" else logging.INFO
        log.log(
            level,
            "settlement keeper: %s(%s)%s %s: %s%s",
            name,
            item,
            f" for {len(holders)} holders" if holders else "",
            decision.outcome,
            decision.reason,
            f" (tx {decision.tx})" if decision.tx else "",
        )
        return decision

    def _effect(self, name: str, receipt: Any) -> str:
        event = {
            "settleBooking": "BookingSettled",
            "settleUnused": "UnusedSettled",
            "settleCapacity": "CapacitySettled",
        }[name]
        return "; ".join(
            ", ".join(f"{k}={v}" for k, v in args.items())
            for args in self.market.events(receipt, self.market.settlement, event)
        )
