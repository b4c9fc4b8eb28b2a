"""Apply decoded events to the projections, in chain order, through a journaled Store.

Each event is applied once: the indexer inserts its raw event and applies it in the same transaction
as the checkpoint that covers it (run.py), and skips events whose (block hash, log index) is already
stored. The projections then equal a fold of the raw events in (block, log index) order, which is what
the reorg and re-index tests compare.

`Projector.keys` names the state rows each event's handler reads or writes, so that a batch loads
them with one query per table (Store.prefetch) instead of one query per row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlmodel import SQLModel

from backend.chain.deployments import POOL_CONTRACT
from backend.chain.protocol import CapacityStatusName, CloseReasonName
from backend.db.models import (
    CLOSE_REASONS,
    ORDER_KINDS,
    Balance,
    Booking,
    Capacity,
    EscrowAccount,
    EscrowFunds,
    IndexedAttestation,
    IndexedFill,
    IndexedMarkPrice,
    MakerCounter,
    Node,
    OrderState,
    Parameter,
    Provider,
    Settlement,
    Slash,
)
from backend.indexer.decode import Event
from backend.indexer.journal import Row, Store
from backend.indexer.project_pools import PoolProjection

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

#: Admin events: the latest of each per contract is kept in `parameter`.
PARAMETER_EVENTS = frozenset(
    {
        "OwnershipTransferred",
        "OwnershipTransferStarted",
        "SettlementSet",
        "MinBondPerUnitSet",
        "MaxDelaySet",
        "SignerSetChanged",
        "SignerSetQueued",
        "SlaSet",
    }
)


def ascii32(hex_value: str) -> str:
    """A bytes32 holding ASCII (GPU model, region, class), as text; other bytes stay hex."""
    raw = bytes.fromhex(hex_value[2:]).rstrip(b"\0")
    if raw and all(32 <= b < 127 for b in raw):
        return raw.decode("ascii")
    return hex_value if raw else ""


class Projector:
    """Dispatches each event to its handler; unknown and admin-only events stay raw (and parameters)."""

    def __init__(self, store: Store):
        self.store = store
        self.pools = PoolProjection(store, self._event_row)
        self._handlers: dict[tuple[str, str], Callable[[Event, dict[str, Any]], None]] = {
            ("GpuHours", "NodeRegistered"): self._node_registered,
            ("GpuHours", "NodeTransferred"): self._node_transferred,
            ("GpuHours", "CapacityCreated"): self._capacity_created,
            ("GpuHours", "CapacityCancelled"): self._capacity_cancelled,
            ("GpuHours", "CapacityClosed"): self._capacity_closed,
            ("GpuHours", "HoursActivated"): self._hours_activated,
            ("GpuHours", "HoursRedeemed"): self._hours_redeemed,
            ("GpuHours", "HoursExpired"): self._hours_expired,
            ("GpuHours", "BookingClosed"): self._booking_closed,
            ("GpuHours", "BookingEnded"): self._booking_ended,
            ("GpuHours", "TransferSingle"): self._transfer_single,
            ("GpuHours", "TransferBatch"): self._transfer_batch,
            ("Exchange", "OrderFilled"): self._order_filled,
            ("Exchange", "OrderCancelled"): self._order_cancelled,
            ("Exchange", "CounterIncremented"): self._counter_incremented,
            ("Escrow", "BondPosted"): self._bond_posted,
            ("Escrow", "BondReturned"): self._bond_returned,
            ("Escrow", "BondSlashed"): self._bond_slashed,
            ("Escrow", "RefundsOpened"): self._refunds_opened,
            ("Escrow", "BackingDeposited"): self._backing_deposited,
            ("Escrow", "PremiumDeposited"): self._premium_deposited,
            ("Escrow", "PremiumSettled"): self._premium_settled,
            ("Escrow", "Released"): self._released,
            ("Escrow", "Refunded"): self._refunded,
            ("Escrow", "Credited"): self._credited,
            ("Escrow", "Withdrawn"): self._withdrawn,
            ("Escrow", "RevenueSplitSet"): self._revenue_split,
            ("AttestationOracle", "Attested"): self._attested,
            ("AttestationOracle", "MarkPriceSet"): self._mark_price,
            ("Settlement", "BookingSettled"): self._booking_settled,
            ("Settlement", "UnusedSettled"): self._unused_settled,
            ("Settlement", "CapacitySettled"): self._capacity_settled,
        }

    def keys(self, events: Iterable[Event]) -> list[tuple[type[SQLModel], dict[str, Any]]]:
        """The state rows (model, primary key without the chain id) the handlers of `events` touch."""
        out: list[tuple[type[SQLModel], dict[str, Any]]] = []
        for event in events:
            a = event.args
            match event.contract, event.name:
                case "GpuHours", "NodeRegistered":
                    out += [(Node, {"node_id": a["nodeId"]}), (Provider, {"address": a["owner"]})]
                case "GpuHours", "NodeTransferred":
                    out += [
                        (Node, {"node_id": a["nodeId"]}),
                        (Provider, {"address": a["from"]}),
                        (Provider, {"address": a["to"]}),
                    ]
                case "GpuHours", (
                    "CapacityCreated"
                    | "CapacityCancelled"
                    | "CapacityClosed"
                    | "HoursRedeemed"
                    | "HoursExpired"
                ):
                    out.append((Capacity, {"capacity_id": a["capacityId"]}))
                case "GpuHours", "HoursActivated":
                    out += [
                        (Booking, {"booking_id": a["bookingId"]}),
                        (Capacity, {"capacity_id": a["capacityId"]}),
                    ]
                case "GpuHours", "BookingClosed":
                    out.append((Booking, {"booking_id": a["bookingId"]}))
                case "GpuHours", "BookingEnded":
                    out += [
                        (Booking, {"booking_id": a["bookingId"]}),
                        (Capacity, {"capacity_id": a["capacityId"]}),
                    ]
                case "Settlement", "BookingSettled":
                    out += [
                        (Booking, {"booking_id": a["bookingId"]}),
                        (Capacity, {"capacity_id": a["capacityId"]}),
                    ]
                case "Settlement", "UnusedSettled":
                    out.append((Capacity, {"capacity_id": a["capacityId"]}))
                case "GpuHours", "TransferSingle":
                    out += self._transfer_keys(a["from"], a["to"], [a["id"]])
                case "GpuHours", "TransferBatch":
                    out += self._transfer_keys(a["from"], a["to"], a["ids"])
                case "Exchange", ("OrderFilled" | "OrderCancelled"):
                    out.append((OrderState, {"order_hash": a["orderHash"]}))
                case "Exchange", "CounterIncremented":
                    out.append((MakerCounter, {"maker": a["maker"]}))
                case "Escrow", (
                    "BondPosted"
                    | "BondReturned"
                    | "BondSlashed"
                    | "RefundsOpened"
                    | "BackingDeposited"
                    | "PremiumDeposited"
                    | "PremiumSettled"
                    | "Released"
                ):
                    out.append((EscrowFunds, {"capacity_id": a["capacityId"]}))
                case "Escrow", "Refunded":
                    out += [
                        (EscrowFunds, {"capacity_id": a["capacityId"]}),
                        (Capacity, {"capacity_id": a["capacityId"]}),
                    ]
                case "Escrow", ("Credited" | "Withdrawn"):
                    out.append((EscrowAccount, {"account": a["account"]}))
                case "Escrow", "RevenueSplitSet":
                    out.append((Provider, {"address": a["provider"]}))
                case "Settlement", "CapacitySettled":
                    out.append((Capacity, {"capacity_id": a["capacityId"]}))
                case contract, _ if contract == POOL_CONTRACT:
                    out += self.pools.keys(event)
                case _, name if name in PARAMETER_EVENTS:
                    out.append((Parameter, {"contract": event.contract, "name": name}))
        return out

    @staticmethod
    def _transfer_keys(
        sender: str, receiver: str, ids: list[int]
    ) -> list[tuple[type[SQLModel], dict[str, Any]]]:
        holders = [h for h in (sender, receiver) if h != ZERO_ADDRESS]
        return [(Balance, {"holder": h, "capacity_id": i}) for i in ids for h in holders] + [
            (Capacity, {"capacity_id": i}) for i in ids
        ]

    def apply(self, event: Event) -> None:
        self.store.block = event.log.block_number
        handler = self._handlers.get((event.contract, event.name))
        if handler is not None:
            handler(event, event.args)
        elif event.contract == POOL_CONTRACT:
            self.pools.apply(event)
        elif event.name in PARAMETER_EVENTS:
            self.store.put(
                Parameter,
                self.store.new(
                    Parameter,
                    contract=event.contract,
                    name=event.name,
                    value=event.args,
                    block_number=event.log.block_number,
                ),
            )

    # ------------------------------------------------------------------ helpers

    def _event_row(self, event: Event, **values: Any) -> Row:
        lg = event.log
        return {
            "chain_id": self.store.chain_id,
            "block_number": lg.block_number,
            "log_index": lg.log_index,
            "block_hash": lg.block_hash,
            "block_time": lg.block_time,
            "tx_hash": lg.tx_hash,
            **values,
        }

    def _add(
        self, model: Any, pk: dict[str, Any], defaults: dict[str, Any] | None = None, **deltas: int
    ) -> Row:
        """Add `deltas` to a row's counters, creating it (with `defaults`) when missing."""
        row = self.store.get(model, **pk) or self.store.new(model, **pk, **(defaults or {}))
        for name, delta in deltas.items():
            row[name] += delta
        self.store.put(model, row)
        return row

    def _update(self, model: Any, pk: dict[str, Any], **values: Any) -> Row | None:
        row = self.store.get(model, **pk)
        if row is None:
            return None
        row.update(values)
        self.store.put(model, row)
        return row

    def _funds(self, capacity_id: int) -> Row:
        return self.store.get(EscrowFunds, capacity_id=capacity_id) or self.store.new(
            EscrowFunds, capacity_id=capacity_id
        )

    # ------------------------------------------------------------------ GpuHours

    def _node_registered(self, ev: Event, a: dict[str, Any]) -> None:
        self.store.put(
            Node,
            self.store.new(
                Node,
                node_id=a["nodeId"],
                owner=a["owner"],
                gpu_model=ascii32(a["gpuModel"]),
                gpu_count=a["gpuCount"],
                vram_gb=a["vramGb"],
                region=ascii32(a["region"]),
                interconnect=ascii32(a["interconnect"]),
                gpu_uuids_hash=a["gpuUuidsHash"],
                registered_block=ev.log.block_number,
                registered_time=ev.log.block_time,
            ),
        )
        self._add(Provider, {"address": a["owner"]}, node_count=1)

    def _node_transferred(self, ev: Event, a: dict[str, Any]) -> None:
        self._update(Node, {"node_id": a["nodeId"]}, owner=a["to"])
        self._add(Provider, {"address": a["from"]}, node_count=-1)
        self._add(Provider, {"address": a["to"]}, node_count=1)

    def _capacity_created(self, ev: Event, a: dict[str, Any]) -> None:
        terms = a["terms"]
        self.store.put(
            Capacity,
            self.store.new(
                Capacity,
                capacity_id=a["capacityId"],
                node_id=a["nodeId"],
                provider=a["provider"],
                start=a["start"],
                end=a["end"],
                supply_cap=a["supplyCap"],
                bond=a["bond"],
                unit_backing=terms["backing"],
                slash_per_gpu_hour=terms["slashPerGpuHour"],
                max_delay=terms["maxDelay"],
                min_uptime_bps=terms["minUptimeBps"],
                min_gflops_per_joule=terms["minGflopsPerJoule"],
                grace_hours=terms["graceHours"],
                created_block=ev.log.block_number,
                created_time=ev.log.block_time,
            ),
        )

    def _capacity_cancelled(self, ev: Event, a: dict[str, Any]) -> None:
        self._update(
            Capacity,
            {"capacity_id": a["capacityId"]},
            status=CapacityStatusName.CANCELLED,
            units_sold_at_cancel=a["unitsSold"],
        )

    def _capacity_closed(self, ev: Event, a: dict[str, Any]) -> None:
        reason = CLOSE_REASONS[a["reason"]]
        status = (
            CapacityStatusName.CANCELLED
            if reason == CloseReasonName.PROVIDER_CANCELLED
            else CapacityStatusName.CLOSED
        )
        self._update(
            Capacity,
            {"capacity_id": a["capacityId"]},
            status=status,
            close_reason=reason,
            closed_block=ev.log.block_number,
        )

    def _hours_activated(self, ev: Event, a: dict[str, Any]) -> None:
        self.store.put(
            Booking,
            self.store.new(
                Booking,
                booking_id=a["bookingId"],
                capacity_id=a["capacityId"],
                holder=a["holder"],
                start=a["start"],
                hours=a["hours_"],
                gpus=a["gpus"],
                activated_block=ev.log.block_number,
            ),
        )
        if self.store.get(Capacity, capacity_id=a["capacityId"]) is not None:
            self._add(Capacity, {"capacity_id": a["capacityId"]}, activated=a["gpus"] * a["hours_"])

    def _hours_redeemed(self, ev: Event, a: dict[str, Any]) -> None:
        if self.store.get(Capacity, capacity_id=a["capacityId"]) is not None:
            self._add(Capacity, {"capacity_id": a["capacityId"]}, redeemed=a["amount"])

    def _hours_expired(self, ev: Event, a: dict[str, Any]) -> None:
        if self.store.get(Capacity, capacity_id=a["capacityId"]) is not None:
            self._add(Capacity, {"capacity_id": a["capacityId"]}, expired=a["amount"])

    def _booking_closed(self, ev: Event, a: dict[str, Any]) -> None:
        self._update(
            Booking,
            {"booking_id": a["bookingId"]},
            close_reason=CLOSE_REASONS[a["reason"]],
            closed_block=ev.log.block_number,
        )

    def _booking_ended(self, ev: Event, a: dict[str, Any]) -> None:
        booking = self.store.get(Booking, booking_id=a["bookingId"])
        if booking is None:
            return
        booking["hours"] -= a["hoursReturned"]
        booking["hours_returned"] += a["hoursReturned"]
        self.store.put(Booking, booking)
        units = a["hoursReturned"] * booking["gpus"]
        capacity = self._add(Capacity, {"capacity_id": a["capacityId"]}, activated=-units)
        node = self.store.get(Node, node_id=capacity["node_id"])
        if node is not None:
            node["early_ends"] += 1
            self.store.put(Node, node)

    def _transfer_single(self, ev: Event, a: dict[str, Any]) -> None:
        self._move(a["from"], a["to"], a["id"], a["value"])

    def _transfer_batch(self, ev: Event, a: dict[str, Any]) -> None:
        for token_id, value in zip(a["ids"], a["values"], strict=True):
            self._move(a["from"], a["to"], token_id, value)

    def _move(self, sender: str, receiver: str, capacity_id: int, value: int) -> None:
        if sender != ZERO_ADDRESS:
            row = self._add(Balance, {"holder": sender, "capacity_id": capacity_id}, amount=-value)
            if row["amount"] == 0:
                self.store.remove(Balance, holder=sender, capacity_id=capacity_id)
        if receiver != ZERO_ADDRESS:
            self._add(Balance, {"holder": receiver, "capacity_id": capacity_id}, amount=value)
        capacity = self.store.get(Capacity, capacity_id=capacity_id)
        if capacity is not None and ZERO_ADDRESS in (sender, receiver):
            if sender == ZERO_ADDRESS:
                capacity["minted"] += value
            if receiver == ZERO_ADDRESS:
                capacity["burned"] += value
            capacity["supply"] = capacity["minted"] - capacity["burned"]
            self.store.put(Capacity, capacity)

    # ------------------------------------------------------------------ Exchange

    def _order_filled(self, ev: Event, a: dict[str, Any]) -> None:
        kind = ORDER_KINDS[a["kind"]] if a["kind"] < len(ORDER_KINDS) else str(a["kind"])
        self.store.append(
            IndexedFill,
            self._event_row(
                ev,
                order_hash=a["orderHash"],
                maker=a["maker"],
                taker=a["taker"],
                capacity_id=a["capacityId"],
                kind=kind,
                amount=a["amount"],
                price=a["price"],
                fee=a["fee"],
            ),
        )
        row = self.store.get(OrderState, order_hash=a["orderHash"]) or self.store.new(
            OrderState, order_hash=a["orderHash"], maker=a["maker"]
        )
        row.update(
            capacity_id=a["capacityId"], kind=kind, price=a["price"], last_fill_block=ev.log.block_number
        )
        row["filled"] += a["amount"]
        row["fees"] += a["fee"]
        row["fills"] += 1
        self.store.put(OrderState, row)

    def _order_cancelled(self, ev: Event, a: dict[str, Any]) -> None:
        row = self.store.get(OrderState, order_hash=a["orderHash"]) or self.store.new(
            OrderState, order_hash=a["orderHash"], maker=a["maker"]
        )
        row.update(cancelled=True, cancelled_block=ev.log.block_number)
        self.store.put(OrderState, row)

    def _counter_incremented(self, ev: Event, a: dict[str, Any]) -> None:
        self.store.put(
            MakerCounter,
            self.store.new(
                MakerCounter, maker=a["maker"], counter=a["counter"], block_number=ev.log.block_number
            ),
        )

    # ------------------------------------------------------------------ Escrow

    def _bond_posted(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowFunds, {"capacity_id": a["capacityId"]}, bond=a["amount"])

    def _bond_returned(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowFunds, {"capacity_id": a["capacityId"]}, bond=-a["amount"])

    def _bond_slashed(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowFunds, {"capacity_id": a["capacityId"]}, bond=-a["amount"], slashed=a["amount"])
        self.store.append(
            Slash, self._event_row(ev, capacity_id=a["capacityId"], to=a["to"], amount=a["amount"])
        )

    def _refunds_opened(self, ev: Event, a: dict[str, Any]) -> None:
        funds = self._funds(a["capacityId"])
        funds.update(refundable_units=a["units"], penalty_per_unit=a["penaltyPerUnit"])
        self.store.put(EscrowFunds, funds)

    def _backing_deposited(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowFunds, {"capacity_id": a["capacityId"]}, backing=a["amount"])

    def _premium_deposited(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowFunds, {"capacity_id": a["capacityId"]}, premium=a["amount"])

    def _premium_settled(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(
            EscrowFunds,
            {"capacity_id": a["capacityId"]},
            premium=-(a["paid"] + a["forfeited"]),
            released=a["paid"] - a["fee"],
        )

    def _released(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(
            EscrowFunds,
            {"capacity_id": a["capacityId"]},
            backing=-a["amount"],
            released=a["amount"] - a["fee"],
        )

    def _refunded(self, ev: Event, a: dict[str, Any]) -> None:
        funds = self._funds(a["capacityId"])
        funds["backing"] -= a["amount"]
        funds["refunded"] += a["amount"]
        capacity = self.store.get(Capacity, capacity_id=a["capacityId"])
        if capacity is not None and capacity["status"] == CapacityStatusName.CANCELLED:
            funds["refundable_units"] -= a["units"]
        self.store.put(EscrowFunds, funds)

    def _credited(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowAccount, {"account": a["account"]}, claimable=a["amount"], credited=a["amount"])

    def _withdrawn(self, ev: Event, a: dict[str, Any]) -> None:
        self._add(EscrowAccount, {"account": a["account"]}, claimable=-a["amount"], withdrawn=a["amount"])

    def _revenue_split(self, ev: Event, a: dict[str, Any]) -> None:
        row = self.store.get(Provider, address=a["provider"]) or self.store.new(
            Provider, address=a["provider"]
        )
        row["revenue_split"] = a["payees"]
        self.store.put(Provider, row)

    # ------------------------------------------------------------------ AttestationOracle

    def _attested(self, ev: Event, a: dict[str, Any]) -> None:
        self.store.append(
            IndexedAttestation,
            self._event_row(
                ev,
                node_id=a["nodeId"],
                epoch=a["epoch"],
                uptime_bps=a["uptimeBps"],
                load_bps=a["loadBps"],
                gpu_seconds=a["gpuSeconds"],
                mflops_per_joule=a["mflopsPerJoule"],
                gflops=a["gflops"],
                samples_root=a["samplesRoot"],
            ),
        )

    def _mark_price(self, ev: Event, a: dict[str, Any]) -> None:
        self.store.append(
            IndexedMarkPrice,
            self._event_row(ev, gpu_class=ascii32(a["gpuClass"]), epoch=a["epoch"], price=a["price"]),
        )

    # ------------------------------------------------------------------ Settlement

    def _unit_backing(self, capacity_id: int) -> int:
        capacity = self.store.get(Capacity, capacity_id=capacity_id)
        return capacity["unit_backing"] if capacity is not None else 0

    def _booking_settled(self, ev: Event, a: dict[str, Any]) -> None:
        # Every unit carries the capacity's fixed backing: the delivered GPU-hours' backing went to
        # the provider (fee included), the rest back to the holder.
        booking = self.store.get(Booking, booking_id=a["bookingId"])
        gpus, hours = (booking["gpus"], booking["hours"]) if booking is not None else (0, 0)
        backing = self._unit_backing(a["capacityId"])
        paid = gpus * a["deliveredHours"] * backing
        refunded = gpus * hours * backing - paid
        self.store.append(
            Settlement,
            self._settlement(
                ev,
                "booking",
                a["capacityId"],
                booking_id=a["bookingId"],
                delivered_hours=a["deliveredHours"],
                failed_hours=a["failedHours"],
                paid=paid,
                refunded=refunded,
                slashed=a["slashed"],
            ),
        )
        self._update(
            Booking,
            {"booking_id": a["bookingId"]},
            delivered_hours=a["deliveredHours"],
            failed_hours=a["failedHours"],
            paid=paid,
            refunded=refunded,
            slashed=a["slashed"],
        )

    def _unused_settled(self, ev: Event, a: dict[str, Any]) -> None:
        backing = self._unit_backing(a["capacityId"])
        self.store.append(
            Settlement,
            self._settlement(
                ev,
                "unused",
                a["capacityId"],
                holder=a["holder"],
                units=a["units"],
                paid=a["paidUnits"] * backing,
                refunded=(a["units"] - a["paidUnits"]) * backing,
                slashed=a["slashed"],
            ),
        )

    def _capacity_settled(self, ev: Event, a: dict[str, Any]) -> None:
        self.store.append(
            Settlement,
            self._settlement(
                ev,
                "capacity",
                a["capacityId"],
                delivered_hours=a["deliveredHours"],
                failed_hours=a["failedHours"],
                bond_returned=a["bondReturned"],
            ),
        )
        self._update(
            Capacity,
            {"capacity_id": a["capacityId"]},
            delivered_hours=a["deliveredHours"],
            failed_hours=a["failedHours"],
        )

    def _settlement(self, ev: Event, kind: str, capacity_id: int, **values: Any) -> Row:
        row = {
            "booking_id": None,
            "holder": None,
            "delivered_hours": None,
            "failed_hours": None,
            "units": None,
            "paid": 0,
            "refunded": 0,
            "slashed": 0,
            "bond_returned": 0,
            **values,
        }
        return self._event_row(ev, kind=kind, capacity_id=capacity_id, **row)
