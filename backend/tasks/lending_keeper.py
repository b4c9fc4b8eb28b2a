"""The lending keeper: collects expired collateral, liquidates unhealthy positions, realises bad debt.

Each tick reads candidates from the SQL store (pledged capacities whose window has ended or that were
cancelled, with the positions holding their units; positions with borrow shares), then asks the chain:
every position is re-read (debt, collateral value at the last mark, LLTV) before anything is sent,
and every call is simulated (gas estimate) before it is sent. A revert that means "not yet" or
"already done" (by this keeper earlier, another keeper, or anyone by hand) is a logged skip: the
pool liquidates only unhealthy positions and writes a debt off once, so a lost race costs one
estimate and never a double liquidation. Calls per tick are bounded; the rest wait.

A liquidation picks the position's most valuable capacity: it repays the whole debt when that
capacity's units cover it at the incentive, else it seizes all its units. It is sent when the value
seized less the repayment reaches `min_profit`, or when the position is underwater (value below
debt: the incentive is 1, so no liquidator profits, yet clearing it recovers the hours' value for
lenders while they still sell and writes the rest off now).

Where an open bid on the Exchange buys the capacity's units for more than the repayment they cost,
the keeper flash-liquidates through the BidLiquidator beside the pool: the units seized are sold into
the bid inside the pool's callback and the repayment is paid out of the sale, so the keeper needs no
stablecoin; the liquidator refuses (ProfitTooLow) a sale that would leave less than the keeper's floor.
Otherwise it repays from its own stablecoin.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Connection, select
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception

from backend.chain.client import Market, to_bytes32
from backend.chain.errors import ContractRevert
from backend.chain.orders import Order, OrderKind
from backend.chain.protocol import CapacityStatusName
from backend.db.models import ORDER_KINDS, Capacity, PoolCollateral, PoolPosition, table_of
from backend.market.order_state import OPEN_ORDERS, as_order, so
from backend.market.pool_health import WAD, PositionReading, read_positions
from backend.tasks.keeper import settle_delay

log = logging.getLogger(__name__)

#: Reverts that say "nothing to do here now": healthy (again, or liquidated by another), nothing left
#: to seize or repay, no mark yet, units of ended capacities still to credit, nothing to write off,
#: the window not settleable yet.
SKIP_ERRORS = frozenset(
    {
        "HealthyPosition",
        "EmptyLiquidation",
        "RepaidSharesExceedDebt",
        "InsufficientCollateral",
        "StaleMark",
        "ExpiryPending",
        "NoBadDebt",
        "NotSettleable",
        "CapacityNotSettleable",
    }
)


@dataclass(frozen=True)
class LendingCandidates:
    """What the store says may need the keeper; the chain has the last word."""

    #: (pool, capacity, window end, cancelled) for pledged capacities that ended or were cancelled.
    expired: list[tuple[str, int, int, bool]] = field(default_factory=list)
    #: (pool, capacity) -> positions (the pool's own included) the store says hold its units.
    holders: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    #: pool -> borrowers with borrow shares.
    debtors: dict[str, list[str]] = field(default_factory=dict)
    #: capacity -> open bids on it that flash liquidations can sell into, the best price first.
    bids: dict[int, list[Bid]] = field(default_factory=dict)


@dataclass(frozen=True)
class Bid:
    """An open buy order posted to the API, with what is left of it."""

    order: Order
    signature: bytes
    remaining: int


def find_lending_candidates(conn: Connection, chain_id: int, now: int, limit: int) -> LendingCandidates:
    """At most `limit` expired capacities (the longest-ended first) and every position with debt."""
    col = table_of(PoolCollateral)
    cap = table_of(Capacity)
    pos = table_of(PoolPosition)
    joined = col.join(cap, (cap.c.chain_id == col.c.chain_id) & (cap.c.capacity_id == col.c.capacity_id))
    expired = conn.execute(
        select(col.c.pool, col.c.capacity_id, cap.c.end, cap.c.status)
        .select_from(joined)
        .where(col.c.chain_id == chain_id, (cap.c.end <= now) | (cap.c.status != CapacityStatusName.ACTIVE))
        .group_by(col.c.pool, col.c.capacity_id, cap.c.end, cap.c.status)
        .order_by(cap.c.end, col.c.capacity_id)
        .limit(limit)
    ).all()
    holders: dict[tuple[str, int], list[str]] = {}
    if expired:
        rows = conn.execute(
            select(col.c.pool, col.c.capacity_id, col.c.borrower)
            .where(col.c.chain_id == chain_id, col.c.capacity_id.in_({int(e[1]) for e in expired}))
            .order_by(col.c.pool, col.c.capacity_id, col.c.borrower)
        ).all()
        for pool, capacity_id, borrower in rows:
            holders.setdefault((pool, int(capacity_id)), []).append(borrower)
    debtors: dict[str, list[str]] = {}
    for pool, borrower in conn.execute(
        select(pos.c.pool, pos.c.borrower)
        .where(pos.c.chain_id == chain_id, pos.c.borrow_shares > 0)
        .order_by(pos.c.pool, pos.c.borrower)
    ):
        debtors.setdefault(pool, []).append(borrower)
    bids: dict[int, list[Bid]] = {}
    if debtors:
        pledged = select(col.c.capacity_id).where(col.c.chain_id == chain_id).distinct()
        rows = conn.execute(
            OPEN_ORDERS.where(
                so.c.kind == ORDER_KINDS[OrderKind.BUY], so.c.capacity_id.in_(pledged)
            ).order_by(so.c.capacity_id, so.c.price.desc(), so.c.posted_at),
            {"chain_id": chain_id, "now": now},
        ).all()
        for row in rows:
            bid = Bid(as_order(row), bytes.fromhex(row.signature.removeprefix("0x")), int(row.remaining))
            bids.setdefault(int(row.capacity_id), []).append(bid)
    return LendingCandidates(
        [(p, int(c), int(e), s == CapacityStatusName.CANCELLED) for p, c, e, s in expired],
        holders,
        debtors,
        bids,
    )


@dataclass(frozen=True)
class LendingDecision:
    """What the keeper did about one item: sent (with its transaction), skipped (the contract's reason,
    or not worth the gas) or failed (anything else; tried again next tick)."""

    call: str
    pool: str
    item: str  # the borrower, or the capacity id
    outcome: str
    reason: str = ""
    tx: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """One liquidation: its arguments and what the keeper expects it to yield, at the last mark."""

    capacity_id: int
    seized_units: int  # 0: repay `repaid_shares`
    repaid_shares: int  # 0: seize `seized_units`
    value: int  # of the units seized
    repaid: int

    @property
    def profit(self) -> int:
        return self.value - self.repaid


def plan_liquidation(reading: PositionReading, incentive: int) -> Plan:
    """Repay the whole debt from the most valuable capacity when its units cover it at the incentive
    (shrunk to value / debt and at least 1, as the pool does), else seize all that capacity's units.
    Expected figures rounded as the pool rounds: within a few units of what it does."""
    debt, value = reading.debt, reading.collateral_value
    i = max(WAD, min(incentive, value * WAD // debt))
    best = max(reading.collateral, key=lambda c: c.value)
    if best.value * WAD >= debt * i:
        return Plan(best.capacity_id, 0, reading.borrow_shares, debt * i // WAD, debt)
    return Plan(best.capacity_id, best.units, 0, best.value, -(-best.value * WAD // i))


@dataclass(frozen=True)
class FlashPlan:
    """A flash liquidation: `units` of the capacity seized and sold into `bid`."""

    bid: Bid
    units: int
    proceeds: int  # the sale, less the Exchange's fee
    repaid: int

    @property
    def profit(self) -> int:
        return self.proceeds - self.repaid


def plan_flash(
    plan: Plan, reading: PositionReading, incentive: int, bids: list[Bid], fee_bps: int
) -> FlashPlan | None:
    """The most profitable sale of the plan's units (those that repay the debt, or all the capacity's)
    into one of `bids`, each taking at most what is left of it; None when no bid pays the repayment.
    The repayment of u units is their value at the mark over the incentive, rounded up as the pool does."""
    debt, value = reading.debt, reading.collateral_value
    i = max(WAD, min(incentive, value * WAD // debt))
    pledged = next(c for c in reading.collateral if c.capacity_id == plan.capacity_id)
    if pledged.value == 0:
        return None
    wanted = plan.seized_units or min(pledged.units, -(-plan.value * pledged.units // pledged.value))
    best: FlashPlan | None = None
    for bid in bids:
        units = min(wanted, bid.remaining)
        if units == 0:
            continue
        sale = units * bid.order.price
        repaid = -(-(units * pledged.value // pledged.units) * WAD // i)
        flash = FlashPlan(bid, units, sale - sale * fee_bps // 10_000, repaid)
        if flash.profit >= 0 and (best is None or flash.profit > best.profit):
            best = flash
    return best


class LendingKeeper:
    def __init__(
        self,
        market: Market,
        account: LocalAccount,
        *,
        min_profit: int,
        max_calls: int = 25,
        borrowers_per_call: int = 50,
    ):
        self.market = market
        self.account = account
        self.min_profit = min_profit
        self.max_calls = max_calls
        self.borrowers_per_call = borrowers_per_call
        self.fee_bps = int(market.deployment.params["feeBps"])
        self._approved: set[str] = set()

    def tick(self, found: LendingCandidates, now: int) -> list[LendingDecision]:
        """Expired collateral first (it repays debt and may make positions healthy or writable off),
        then liquidations and bad debt. At most `max_calls` calls; what is left waits."""
        decisions: list[LendingDecision] = []
        pools: dict[str, Contract] = {p.address: p for p in self.market.pools.values()}
        for address, capacity_id, end, cancelled in found.expired:
            pool = pools.get(address)
            if pool is None or not (cancelled or now >= end + settle_delay(self.market, capacity_id) + 1):
                continue
            if not self._uncredited(pool, capacity_id):
                continue  # credited already: the store has not caught up yet
            borrowers = found.holders.get((address, capacity_id), [])
            step = self.borrowers_per_call
            for batch in [borrowers[i : i + step] for i in range(0, len(borrowers), step)]:
                if len(decisions) >= self.max_calls:
                    return decisions
                fn = pool.functions.settleExpired(capacity_id, batch)
                decisions.append(self._send("settleExpired", pool, str(capacity_id), fn, "ExpiredCredited"))
        for gpu_class, pool in sorted(self.market.pools.items()):
            debtors = found.debtors.get(pool.address, [])
            if debtors and len(decisions) < self.max_calls:
                decisions += self._clear(
                    gpu_class, pool, debtors, found.bids, self.max_calls - len(decisions)
                )
        return decisions

    def _clear(
        self, gpu_class: str, pool: Contract, debtors: list[str], bids: dict[int, list[Bid]], budget: int
    ) -> list[LendingDecision]:
        """Liquidates or writes off the unhealthy positions among `debtors`, re-read on chain now."""
        f = pool.functions
        mark, _ = self.market.oracle.functions.markPrice(to_bytes32(gpu_class)).call()
        lltv, incentive = self.market.call_all([f.lltv(), f.liquidationIncentive()])
        out: list[LendingDecision] = []
        for r in read_positions(self.market, pool, debtors, lltv, mark):
            if len(out) >= budget:
                break
            if r.healthy:
                continue
            if r.collateral_value == 0:
                fn = f.realiseBadDebt(r.borrower)
                out.append(self._send("realiseBadDebt", pool, r.borrower, fn, "BadDebt"))
                continue
            plan = plan_liquidation(r, incentive)
            numbers = (
                f"debt {r.debt}, value {r.collateral_value}, max debt {r.max_debt}; capacity "
                f"{plan.capacity_id}: "
                + (
                    f"repay all {plan.repaid_shares} shares"
                    if plan.repaid_shares
                    else f"seize all {plan.seized_units} units"
                )
                + f"; expected value {plan.value}, repaid {plan.repaid}, profit {plan.profit}"
            )
            underwater = r.collateral_value < r.debt
            floor = 0 if underwater else self.min_profit
            liquidator = self.market.liquidators.get(gpu_class)
            flash = plan_flash(plan, r, incentive, bids.get(plan.capacity_id, []), self.fee_bps)
            if liquidator is not None and flash is not None and flash.profit >= floor:
                bid = flash.bid
                fn = liquidator.functions.liquidate(
                    r.borrower, plan.capacity_id, flash.units, bid.order.as_tuple(), bid.signature, floor
                )
                sale = (
                    f"flash: sell {flash.units} units into bid at {bid.order.price} ({bid.remaining} left); "
                    f"proceeds {flash.proceeds}, repaid {flash.repaid}, profit {flash.profit}"
                )
                out.append(self._send("liquidate", pool, r.borrower, fn, "Liquidated", f"{sale}; {numbers}"))
                continue
            if plan.profit < self.min_profit and not underwater:
                out.append(
                    self._log(
                        LendingDecision(
                            "liquidate",
                            pool.address,
                            r.borrower,
                            "skipped",
                            f"not worth the gas: profit {plan.profit} < {self.min_profit}; {numbers}",
                        )
                    )
                )
                continue
            self._approve(pool, plan.repaid)
            why = "underwater" if underwater and plan.profit < self.min_profit else "worth the gas"
            fn = f.liquidate(r.borrower, plan.capacity_id, plan.seized_units, plan.repaid_shares, b"")
            out.append(self._send("liquidate", pool, r.borrower, fn, "Liquidated", f"{why}: {numbers}"))
        return out

    def _uncredited(self, pool: Contract, capacity_id: int) -> bool:
        """Whether the pool still holds units of `capacity_id` to collect, or proceeds to credit."""
        held, (units_left, _) = self.market.call_all(
            [pool.functions.heldUnits(capacity_id), pool.functions.expiredProceeds(capacity_id)]
        )
        return held > 0 or units_left > 0

    def _approve(self, pool: Contract, amount: int) -> None:
        """An unlimited allowance for `pool`, once, so that liquidations can pull the repayment."""
        if pool.address in self._approved:
            return
        allowance = self.market.usdc.functions.allowance(self.account.address, pool.address).call()
        if allowance < amount:
            self.market.approve(self.account, pool.address)
        self._approved.add(pool.address)

    def _send(
        self, name: str, pool: Contract, item: str, fn: ContractFunction, event: str, plan: str = ""
    ) -> LendingDecision:
        try:
            receipt = self.market.send(self.account, fn)  # estimates first: a revert raises here
        except ContractRevert as exc:
            outcome = "skipped" if exc.name in SKIP_ERRORS else "failed"
            decision = LendingDecision(
                name, pool.address, item, outcome, f"{exc}{'; ' if plan else ''}{plan}"
            )
        except Web3Exception as exc:  # a nonce taken by a racing send, a receipt that never came
            decision = LendingDecision(name, pool.address, item, "failed", f"{type(exc).__name__}: {exc}")
        else:
            effect = "; ".join(
                ", ".join(f"{k}={v}" for k, v in args.items())
                for args in self.market.events(receipt, pool, event)
            )
            # settleExpired does not revert for positions credited already: a race lost between the
            # estimate and the block is a transaction that credited nothing.
            decision = LendingDecision(
                name,
                pool.address,
                item,
                "sent" if effect else "skipped",
                (effect or "nothing left: done by another first") + (f" ({plan})" if plan else ""),
                receipt["transactionHash"].to_0x_hex(),
            )
        return self._log(decision)

    @staticmethod
    def _log(decision: LendingDecision) -> LendingDecision:
        level = logging.WARNING if decision.outcome == "failed" else logging.INFO
        log.log(
            level,
            "lending keeper: %s(%s) on pool %s %s: %s%s",
            decision.call,
            decision.item,
            decision.pool,
            decision.outcome,
            decision.reason,
            f" (tx {decision.tx})" if decision.tx else "",
        )
        return decision
