"""Typed helpers over the deployed contracts: send signed transactions, read state, decode reverts.

The client signs with LocalAccounts handed to it (dev accounts, keystores); `build_tx` returns the
unsigned transaction for wallets, so nothing here needs to hold a user's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from eth_utils.abi import collapse_if_tuple
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import RPCEndpoint, TxParams, TxReceipt

from backend.chain import deployments
from backend.chain.errors import ErrorDecoder
from backend.chain.orders import Order, OrderKind, SignedOrder, sign_order
from backend.chain.sender import Sender

MAX_UINT256 = 2**256 - 1
#: Attempts at each transaction Market.send makes within its timeout, each with higher fees.
SEND_ATTEMPTS = 3
#: eth_calls per JSON-RPC batch in Market.call_all: well under nodes' usual batch limits (1,000).
CALL_BATCH = 500


def to_bytes32(text: str) -> bytes:
    """ASCII packed into bytes32, as the node registry stores names."""
    raw = text.encode("ascii")
    if len(raw) > 32:
        raise ValueError(f"{text!r} is longer than 32 bytes")
    return raw.ljust(32, b"\0")


def from_bytes32(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("ascii", errors="replace")


@dataclass(frozen=True)
class FillResult:
    order_hash: bytes
    amount: int
    fee: int
    receipt: TxReceipt


class Market:
    """The gpuhours contracts on one chain."""

    def __init__(
        self,
        w3: Web3,
        deployment: deployments.Deployment,
        abis: dict[str, list[dict[str, Any]]],
        timeout: float = 60.0,
    ):
        self.w3 = w3
        self.deployment = deployment
        self.chain_id = deployment.chain_id
        self.timeout = timeout
        self.errors = ErrorDecoder(abis.values())
        self.sender = Sender(
            w3, self.errors, self.chain_id, receipt_timeout=timeout / SEND_ATTEMPTS, attempts=SEND_ATTEMPTS
        )
        self.usdc = self._contract("MockUSDC", abis)
        self.escrow = self._contract("Escrow", abis)
        self.hours = self._contract("GpuHours", abis)
        self.exchange = self._contract("Exchange", abis)
        self.oracle = self._contract("AttestationOracle", abis)
        self.settlement = self._contract("Settlement", abis)
        #: The LendingPool of each GPU class, by the class's name.
        self.pools: dict[str, Contract] = {
            gpu_class: w3.eth.contract(address=address, abi=abis[deployments.POOL_CONTRACT])
            for gpu_class, address in deployment.pool_addresses().items()
        }
        #: The BidLiquidator beside each pool, by the pool's GPU class.
        self.liquidators: dict[str, Contract] = {
            gpu_class: w3.eth.contract(address=address, abi=abis[deployments.LIQUIDATOR_CONTRACT])
            for gpu_class, address in deployment.liquidator_addresses().items()
        }

    @classmethod
    def connect(cls, rpc_url: str, deployments_dir: Path, timeout: float = 60.0) -> Market:
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        deployment, abis = deployments.load(deployments_dir, w3.eth.chain_id)
        return cls(w3, deployment, abis, timeout)

    def _contract(self, name: str, abis: dict[str, list[dict[str, Any]]]) -> Contract:
        return self.w3.eth.contract(address=self.deployment.address(name), abi=abis[name])

    # ------------------------------------------------------------------ transactions

    def build_tx(self, sender: str, fn: ContractFunction) -> TxParams:
        """The unsigned transaction {to, data, value, gas, chainId, ...} for `sender` to sign; its gas
        is the estimate with a margin (backend/chain/gas.py), since the state may change before it
        is mined."""
        return self.sender.build(sender, fn)

    def call_all(self, fns: Sequence[ContractFunction]) -> list[Any]:
        """What each of `fns` returns, read in JSON-RPC batches (one round trip per CALL_BATCH calls)
        and all at one block: a single output as itself, several as a tuple, decoded by eth-abi
        (addresses in lower case, arrays as tuples). A call that reverts raises its decoded custom error."""
        block = hex(self.w3.eth.block_number)
        out: list[Any] = []
        for at in range(0, len(fns), CALL_BATCH):
            chunk = fns[at : at + CALL_BATCH]
            requests = [
                (RPCEndpoint("eth_call"), [{"to": fn.address, "data": fn._encode_transaction_data()}, block])
                for fn in chunk
            ]
            answers = self.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
            if not isinstance(answers, list):
                raise RuntimeError(f"the node refused a batch of {len(chunk)} calls: {answers}")
            for fn, answer in zip(chunk, answers, strict=True):
                if "error" in answer:
                    raise self.errors.decode(answer["error"].get("data"))
                types = [collapse_if_tuple(o) for o in fn.abi["outputs"]]
                values = abi_decode(types, bytes.fromhex(answer["result"][2:]))
                out.append(values[0] if len(values) == 1 else values)
        return out

    def send(self, account: LocalAccount, fn: ContractFunction) -> TxReceipt:
        """Sign and send; raise the decoded custom error if it would revert or did. A transaction not
        mined within a third of the timeout is replaced with higher fees (backend/chain/sender.py)."""
        return self.sender.send(account, fn)

    def events(self, receipt: TxReceipt, contract: Contract, name: str) -> list[dict[str, Any]]:
        event = getattr(contract.events, name)()
        logs = [log for log in receipt["logs"] if log["address"] == contract.address]
        return [dict(e["args"]) for e in event.process_receipt({**receipt, "logs": logs}, errors=DISCARD)]

    # ------------------------------------------------------------------ stablecoin

    def faucet(self, account: LocalAccount, amount: int) -> TxReceipt:
        return self.send(account, self.usdc.functions.mint(account.address, amount))

    def approve(self, account: LocalAccount, spender: str, amount: int = MAX_UINT256) -> TxReceipt:
        return self.send(account, self.usdc.functions.approve(spender, amount))

    def usdc_balance(self, who: str) -> int:
        return self.usdc.functions.balanceOf(who).call()

    # ------------------------------------------------------------------ provider

    def register_node(
        self,
        account: LocalAccount,
        gpu_model: str,
        gpu_count: int,
        vram_gb: int,
        region: str,
        interconnect: str,
        gpu_uuids: Sequence[str],
    ) -> int:
        uuids_hash = Web3.keccak(text=",".join(sorted(gpu_uuids)))
        receipt = self.send(
            account,
            self.hours.functions.registerNode(
                to_bytes32(gpu_model),
                gpu_count,
                vram_gb,
                to_bytes32(region),
                to_bytes32(interconnect),
                uuids_hash,
            ),
        )
        return self.events(receipt, self.hours, "NodeRegistered")[0]["nodeId"]

    def create_capacity(
        self, account: LocalAccount, node_id: int, start: int, end: int, backing: int, bond: int
    ) -> int:
        """Opens a window whose every unit is backed by `backing` in escrow; returns its id."""
        receipt = self.send(account, self.hours.functions.createCapacity(node_id, start, end, backing, bond))
        return self.events(receipt, self.hours, "CapacityCreated")[0]["capacityId"]

    def min_bond_per_unit(self) -> int:
        """Bond a new capacity needs per unit of its cap: enough for a full slash of every unit."""
        return max(self.hours.functions.minBondPerUnit().call(), self.settlement.functions.sla().call()[3])

    def cancel_capacity(self, account: LocalAccount, capacity_id: int) -> TxReceipt:
        return self.send(account, self.hours.functions.cancelCapacity(capacity_id))

    # ------------------------------------------------------------------ orders

    def sign(
        self, account: LocalAccount, kind: OrderKind, capacity_id: int, amount: int, price: int, expiry: int
    ) -> SignedOrder:
        counter = self.exchange.functions.counter(account.address).call()
        order = Order.new(account.address, kind, capacity_id, amount, price, expiry, counter)
        return sign_order(order, account, self.chain_id, self.exchange.address)

    def fill(self, account: LocalAccount, signed: SignedOrder, amount: int) -> FillResult:
        receipt = self.send(
            account, self.exchange.functions.fill(signed.order.as_tuple(), signed.signature, amount)
        )
        return self._fills(receipt)[0]

    def fill_batch(self, account: LocalAccount, fills: Sequence[tuple[SignedOrder, int]]) -> list[FillResult]:
        arg = [(s.order.as_tuple(), s.signature, amount) for s, amount in fills]
        return self._fills(self.send(account, self.exchange.functions.fillBatch(arg)))

    def _fills(self, receipt: TxReceipt) -> list[FillResult]:
        return [
            FillResult(e["orderHash"], e["amount"], e["fee"], receipt)
            for e in self.events(receipt, self.exchange, "OrderFilled")
        ]

    def cancel_orders(self, account: LocalAccount, orders: Sequence[Order]) -> TxReceipt:
        return self.send(account, self.exchange.functions.cancel([o.as_tuple() for o in orders]))

    def increment_counter(self, account: LocalAccount) -> TxReceipt:
        return self.send(account, self.exchange.functions.incrementCounter())

    def filled(self, order_hash: bytes) -> int:
        return self.exchange.functions.status(order_hash).call()[0]

    # ------------------------------------------------------------------ holders

    def activate(self, account: LocalAccount, capacity_id: int, start: int, hours: int, gpus: int) -> int:
        receipt = self.send(account, self.hours.functions.activate(capacity_id, start, hours, gpus))
        return self.events(receipt, self.hours, "HoursActivated")[0]["bookingId"]

    def redeem_cancelled(self, account: LocalAccount, capacity_id: int, amount: int) -> TxReceipt:
        return self.send(account, self.hours.functions.redeemCancelled(capacity_id, amount))

    def refund_booking(self, account: LocalAccount, booking_id: int) -> TxReceipt:
        return self.send(account, self.hours.functions.refundBooking(booking_id))

    def withdraw(self, account: LocalAccount) -> int:
        receipt = self.send(account, self.escrow.functions.withdraw(account.address))
        return self.events(receipt, self.escrow, "Withdrawn")[0]["amount"]

    def hours_of(self, who: str, capacity_id: int) -> int:
        return self.hours.functions.balanceOf(who, capacity_id).call()

    def claimable(self, who: str) -> int:
        return self.escrow.functions.claimable(who).call()

    def capacity(self, capacity_id: int) -> dict[str, Any]:
        fields = ("nodeId", "start", "end", "gpuCount", "status", "closeReason", "minted", "retired")
        return dict(zip(fields, self.hours.functions.capacity(capacity_id).call(), strict=True))

    def node(self, node_id: int) -> dict[str, Any]:
        fields = (
            "owner",
            "gpuCount",
            "vramGb",
            "lastWindowEnd",
            "earlyEnds",
            "gpuModel",
            "region",
            "interconnect",
            "gpuUuidsHash",
        )
        return dict(zip(fields, self.hours.functions.node(node_id).call(), strict=True))

    def booking(self, booking_id: int) -> dict[str, Any]:
        fields = ("holder", "start", "hours", "gpus", "closeReason")
        return dict(zip(fields, self.hours.functions.booking(booking_id).call(), strict=True))

    # ------------------------------------------------------------------ settlement (anyone may call)

    def settle_booking(self, account: LocalAccount, booking_id: int) -> TxReceipt:
        """Settle a booking once its last hour can no longer be attested (BookingSettled)."""
        return self.send(account, self.settlement.functions.settleBooking(booking_id))

    def end_booking(self, account: LocalAccount, booking_id: int) -> TxReceipt:
        """End the caller's running booking early: the hours not yet started are refunded (BookingEnded)."""
        return self.send(account, self.settlement.functions.endBooking(booking_id))

    def settle_unused(self, account: LocalAccount, capacity_id: int, holders: Sequence[str]) -> TxReceipt:
        """Expire and settle the hours `holders` left unused after the window (UnusedSettled each)."""
        holders = [to_checksum_address(h) for h in holders]
        return self.send(account, self.settlement.functions.settleUnused(capacity_id, holders))

    def settle_capacity(self, account: LocalAccount, capacity_id: int) -> TxReceipt:
        """Close a capacity whose every sold unit is settled; the rest of the bond goes home."""
        return self.send(account, self.settlement.functions.settleCapacity(capacity_id))
