"""The lending pools' events applied to `pool`, `pool_position`, `pool_collateral` and `pool_event`.

The decoder names every pool LendingPool; the log's address says which. Each event kind is one entry
of KINDS and one handler: a new event of the pool (a liquidation, a bad-debt write-off) is a new
entry, its handler, and its keys. The vault shares' own ERC-20 events (Transfer, Approval) stay raw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlmodel import SQLModel

from backend.db.models import Pool, PoolCollateral, PoolEvent, PoolPosition, table_of
from backend.indexer.decode import Event, checksum
from backend.indexer.journal import Row, Store

#: The pool's events the store projects, and the `kind` each is written as in `pool_event`.
KINDS = {
    "Deposit": "supply",
    "Withdraw": "withdraw",
    "Pledged": "pledge",
    "Unpledged": "unpledge",
    "Borrowed": "borrow",
    "Repaid": "repay",
    "InterestAccrued": "interest",
    "ExpiredCollected": "expired",
    "ExpiredCredited": "expiry_credit",
    "Liquidated": "liquidation",
    "BadDebt": "bad_debt",
}

#: The pool_event columns an event kind may leave out.
_EVENT_DEFAULTS: dict[str, Any] = dict.fromkeys(
    ("capacity_id", "units", "shares", "rate_per_second", "total_borrow")
) | {"assets": 0}

Keys = list[tuple[type[SQLModel], dict[str, Any]]]


class PoolProjection:
    def __init__(self, store: Store, event_row: Callable[..., Row]):
        """`event_row(event, **values)`: the event table row of `event` with `values`."""
        self.store = store
        self._event_row = event_row
        self._handlers: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "Deposit": self._supplied,
            "Withdraw": self._withdrawn,
            "Pledged": self._pledged,
            "Unpledged": self._unpledged,
            "Borrowed": self._borrowed,
            "Repaid": self._repaid,
            "InterestAccrued": self._interest,
            "ExpiredCollected": self._expired,
            "ExpiredCredited": self._expiry_credited,
            "Liquidated": self._liquidated,
            "BadDebt": self._bad_debt,
        }
        #: Collateral rows written in this batch, by (pool, borrower): with the stored ones, what a
        #: write-off moves to the pool's own position.
        self._touched: dict[tuple[str, str], set[int]] = {}

    def keys(self, event: Event) -> Keys:
        """The state rows `event`'s handler touches (for Store.prefetch)."""
        if event.name not in KINDS:
            return []
        pool, a = checksum(event.log.address), event.args
        out: Keys = [(Pool, {"address": pool})]
        match event.name:
            case "Pledged" | "Unpledged" | "ExpiredCredited":
                out.append(
                    (
                        PoolCollateral,
                        {"pool": pool, "borrower": a["borrower"], "capacity_id": a["capacityId"]},
                    )
                )
            case "Borrowed" | "BadDebt":
                out.append((PoolPosition, {"pool": pool, "borrower": a["borrower"]}))
            case "Liquidated":
                out.append((PoolPosition, {"pool": pool, "borrower": a["borrower"]}))
                for owner in (a["borrower"], pool):
                    out.append(
                        (PoolCollateral, {"pool": pool, "borrower": owner, "capacity_id": a["capacityId"]})
                    )
            case "Repaid":
                out.append((PoolPosition, {"pool": pool, "borrower": a["onBehalf"]}))
        if event.name == "ExpiredCredited":
            out.append((PoolPosition, {"pool": pool, "borrower": a["borrower"]}))
        return out

    def apply(self, event: Event) -> None:
        handler = self._handlers.get(event.name)
        if handler is None:
            return
        pool = checksum(event.log.address)
        values = _EVENT_DEFAULTS | handler(pool, event.args)
        self.store.append(PoolEvent, self._event_row(event, pool=pool, **values))

    # ------------------------------------------------------------------ rows

    def _pool(self, pool: str, **deltas: int) -> Row:
        row = self.store.get(Pool, address=pool) or self.store.new(Pool, address=pool)
        for name, delta in deltas.items():
            row[name] += delta
        self.store.put(Pool, row)
        return row

    def _position(self, pool: str, borrower: str, **deltas: int) -> None:
        row = self.store.get(PoolPosition, pool=pool, borrower=borrower) or self.store.new(
            PoolPosition, pool=pool, borrower=borrower
        )
        for name, delta in deltas.items():
            row[name] += delta
        row["updated_block"] = self.store.block
        self.store.put(PoolPosition, row)

    def _collateral(self, pool: str, borrower: str, capacity_id: int, delta: int) -> None:
        pk = {"pool": pool, "borrower": borrower, "capacity_id": capacity_id}
        row = self.store.get(PoolCollateral, **pk) or self.store.new(PoolCollateral, **pk)
        row["units"] += delta
        self._touched.setdefault((pool, borrower), set()).add(capacity_id)
        if row["units"] == 0:
            self.store.remove(PoolCollateral, **pk)
        else:
            self.store.put(PoolCollateral, row)

    # ------------------------------------------------------------------ handlers: the pool_event values

    def _supplied(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._pool(pool, supply_shares=a["shares"], cash=a["assets"])
        return self._kind("Deposit", a["owner"], a["sender"], assets=a["assets"], shares=a["shares"])

    def _withdrawn(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._pool(pool, supply_shares=-a["shares"], cash=-a["assets"])
        return self._kind("Withdraw", a["owner"], a["receiver"], assets=a["assets"], shares=a["shares"])

    def _pledged(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._collateral(pool, a["borrower"], a["capacityId"], a["units"])
        return self._kind("Pledged", a["borrower"], None, capacity_id=a["capacityId"], units=a["units"])

    def _unpledged(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._collateral(pool, a["borrower"], a["capacityId"], -a["units"])
        return self._kind("Unpledged", a["borrower"], a["to"], capacity_id=a["capacityId"], units=a["units"])

    def _borrowed(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._pool(pool, borrow_assets=a["assets"], borrow_shares=a["shares"], cash=-a["assets"])
        self._position(pool, a["borrower"], borrow_shares=a["shares"], borrowed=a["assets"])
        return self._kind("Borrowed", a["borrower"], a["receiver"], assets=a["assets"], shares=a["shares"])

    def _repaid(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._settle_debt(pool, a["onBehalf"], a["assets"], a["shares"])
        return self._kind("Repaid", a["onBehalf"], a["payer"], assets=a["assets"], shares=a["shares"])

    def _expired(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        # Collected proceeds are reserved for the positions, not cash, until credited.
        self._pool(pool)
        return self._kind(
            "ExpiredCollected", None, None, capacity_id=a["capacityId"], units=a["units"], assets=a["amount"]
        )

    def _expiry_credited(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        self._collateral(pool, a["borrower"], a["capacityId"], -a["units"])
        if a["borrower"] == pool:  # the pool's own units (left by bad debt): the lenders' cash now
            self._pool(pool, cash=a["amount"])
        elif a["shares"]:
            self._settle_debt(pool, a["borrower"], a["repaid"], a["shares"])
        return self._kind(
            "ExpiredCredited",
            a["borrower"],
            None,
            capacity_id=a["capacityId"],
            units=a["units"],
            assets=a["amount"],
            shares=a["shares"],
        )

    def _liquidated(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        borrower, capacity_id = a["borrower"], a["capacityId"]
        # The pool emits BadDebt before Liquidated: a write-off in this liquidation has moved the
        # borrower's units, the seized ones included, to the pool's own position already. The contract
        # took the seized units off first, so they come off the pool's position here.
        pledged = self.store.get(PoolCollateral, pool=pool, borrower=borrower, capacity_id=capacity_id)
        owner = borrower if pledged is not None else pool
        self._collateral(pool, owner, capacity_id, -a["seizedUnits"])
        self._settle_debt(pool, borrower, a["repaidAssets"], a["repaidShares"])
        return self._kind(
            "Liquidated",
            borrower,
            a["liquidator"],
            capacity_id=capacity_id,
            units=a["seizedUnits"],
            assets=a["repaidAssets"],
            shares=a["repaidShares"],
        )

    def _bad_debt(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        borrower = a["borrower"]
        self._pool(pool, borrow_assets=-a["assets"], borrow_shares=-a["shares"], bad_debt=a["assets"])
        self._position(pool, borrower, borrow_shares=-a["shares"])
        for capacity_id in self._pledged_ids(pool, borrower):
            row = self.store.get(PoolCollateral, pool=pool, borrower=borrower, capacity_id=capacity_id)
            if row is not None:
                self._collateral(pool, borrower, capacity_id, -row["units"])
                self._collateral(pool, pool, capacity_id, row["units"])
        return self._kind("BadDebt", borrower, None, assets=a["assets"], shares=a["shares"])

    def _pledged_ids(self, pool: str, borrower: str) -> list[int]:
        """The capacities `borrower` may hold units of: stored, or written in this batch."""
        t = table_of(PoolCollateral)
        stored = self.store.conn.execute(
            select(t.c.capacity_id).where(
                t.c.chain_id == self.store.chain_id, t.c.pool == pool, t.c.borrower == borrower
            )
        ).scalars()
        return sorted(set(stored) | self._touched.get((pool, borrower), set()))

    def _interest(self, pool: str, a: dict[str, Any]) -> dict[str, Any]:
        row = self._pool(pool, interest=a["interest"])
        row["borrow_assets"] = a["totalBorrowAssets"]
        self.store.put(Pool, row)
        return self._kind(
            "InterestAccrued",
            None,
            None,
            assets=a["interest"],
            rate_per_second=a["ratePerSecond"],
            total_borrow=a["totalBorrowAssets"],
        )

    def _settle_debt(self, pool: str, borrower: str, assets: int, shares: int) -> None:
        """`assets` of `borrower`'s debt paid into the pool's cash, burning `shares`."""
        # As the contract: the sum of rounded-up debts may pass the total by a few wei; it floors at 0.
        total = self.store.get(Pool, address=pool)
        owed = total["borrow_assets"] if total is not None else 0
        self._pool(pool, borrow_assets=-min(assets, owed), borrow_shares=-shares, cash=assets)
        self._position(pool, borrower, borrow_shares=-shares, repaid=assets)

    @staticmethod
    def _kind(name: str, account: str | None, counterparty: str | None, **values: Any) -> dict[str, Any]:
        return {"kind": KINDS[name], "account": account, "counterparty": counterparty, **values}
