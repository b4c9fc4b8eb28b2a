"""Mark prices from real fills on the session Anvil: signed orders filled through the Exchange, read
back by oracle/node/fills.py, derived by oracle/node/marks.py, and landed by oracle nodes and the aggregator
over HTTP."""

from __future__ import annotations

import json
from contextlib import ExitStack
from fractions import Fraction
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from backend.chain.client import Market
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from backend.chain.orders import OrderKind
from backend.chain.protocol import EPOCH_SECONDS
from oracle.aggregator.submitter import Submitter
from oracle.node.api import EpochViews, create_node_app
from oracle.node.fills import FillReader
from oracle.node.marks import MarkRules, MarkSource, derive_marks
from oracle.node.service import OracleNode
from oracle.protocol.report import Domain, MarkPrice, Report, gpu_class_id, sign_report
from oracle.settings import NodeSettings
from tests.conftest import USDC, fund, now, warp_to
from tests.oracle.aggregator.test_service import make_aggregator, serve
from tests.oracle.test_cli_oracle import gpuhours

H100, A100 = "H100-SXM5-80GB", "A100-SXM4-80GB"
RULES = MarkRules(min_units=50, min_counterparties=3, outlier_k=Fraction(3), outlier_floor_bps=500)
DAY = 24 * EPOCH_SECONDS


@pytest.fixture
def desk(market: Market, accounts: list[LocalAccount]) -> dict[str, Any]:
    """Early in a fresh epoch: provider 1 sells H100 hours, provider 2 A100 hours, from the next hour
    for two days; everyone is funded."""
    warp_to(market, now(market) - now(market) % EPOCH_SECONDS + EPOCH_SECONDS + 10)
    fund(market, accounts[1:], 1_000_000 * USDC)
    start = now(market) - now(market) % EPOCH_SECONDS + EPOCH_SECONDS
    bond = 8 * 48 * market.min_bond_per_unit()
    caps = {}
    for provider, model, backing in ((accounts[1], H100, 1_000_000), (accounts[2], A100, 500_000)):
        node = market.register_node(provider, model, 8, 80, "eu-west", "NVLink", [model])
        caps[model] = market.create_capacity(provider, node, start, start + 48 * EPOCH_SECONDS, backing, bond)
    return {"caps": caps, "epoch": now(market) // EPOCH_SECONDS}


def trade(
    market: Market, seller: LocalAccount, buyer: LocalAccount, capacity: int, amount: int, price: int
) -> dict[str, Any]:
    """`seller` lists `amount` hours (a primary sale when it is the provider) and `buyer` takes them all;
    the OrderFilled event's own fields."""
    primary = market.hours.functions.providerOf(capacity).call() == seller.address
    kind = OrderKind.PRIMARY_SELL if primary else OrderKind.SELL
    order = market.sign(seller, kind, capacity, amount, price, now(market) + 6 * EPOCH_SECONDS)
    return market.events(market.fill(buyer, order, amount).receipt, market.exchange, "OrderFilled")[0]


def vwap(fills: list[dict[str, Any]]) -> int:
    return sum(f["amount"] * f["price"] for f in fills) // sum(f["amount"] for f in fills)


def marks_of(market: Market, epoch: int, overrides: dict[bytes, int] | None = None) -> list[MarkPrice]:
    return MarkSource(FillReader(market), RULES, DAY, overrides or {}, EPOCH_SECONDS)(epoch)


def liquid_h100(market: Market, accounts: list[LocalAccount], cap: int) -> list[dict[str, Any]]:
    """Four addresses trade 120 H100 hours at 2.00-2.10: the provider's sales, then a resale."""
    provider, a, b, c = accounts[1], accounts[3], accounts[4], accounts[5]
    return [
        trade(market, provider, a, cap, 40, 2_000_000),
        trade(market, provider, b, cap, 50, 2_100_000),
        trade(market, a, c, cap, 30, 2_050_000),
    ]


def test_the_mark_is_the_vwap_of_the_fills(market, accounts, desk):
    fills = liquid_h100(market, accounts, desk["caps"][H100])
    assert [f["kind"] for f in fills] == [OrderKind.PRIMARY_SELL, OrderKind.PRIMARY_SELL, OrderKind.SELL]
    expected = vwap(fills)
    assert expected == (40 * 2_000_000 + 50 * 2_100_000 + 30 * 2_050_000) // 120  # 2,054,166
    assert marks_of(market, desk["epoch"]) == [MarkPrice(gpu_class_id(H100), desk["epoch"], expected)]


def test_a_wash_trade_on_a_thin_market_gives_no_mark(market, accounts, desk):
    """One person, two addresses, 200 hours at ten times the price: no mark rather than a pumped one."""
    trade(market, accounts[1], accounts[5], desk["caps"][H100], 200, 20_000_000)
    assert marks_of(market, desk["epoch"]) == []
    end = (desk["epoch"] + 1) * EPOCH_SECONDS
    derived = derive_marks(FillReader(market).trades(end - DAY, end), RULES)[gpu_class_id(H100)]
    assert derived.price is None
    assert derived.reason == "2 distinct counterparties, under the minimum of 3"


def test_an_outlier_on_a_liquid_market_does_not_move_the_mark(market, accounts, desk):
    cap = desk["caps"][H100]
    honest = liquid_h100(market, accounts, cap)
    pump = trade(market, accounts[1], accounts[4], cap, 40, 6_000_000)  # a third of the honest volume
    end = (desk["epoch"] + 1) * EPOCH_SECONDS
    derived = derive_marks(FillReader(market).trades(end - DAY, end), RULES)[gpu_class_id(H100)]
    assert derived.dropped == 1 and derived.units == sum(f["amount"] for f in honest)
    assert derived.price == vwap(honest) != vwap([*honest, pump])
    assert marks_of(market, desk["epoch"]) == [MarkPrice(gpu_class_id(H100), desk["epoch"], vwap(honest))]


def test_fills_of_another_class_are_not_mixed_in(market, accounts, desk):
    h100 = liquid_h100(market, accounts, desk["caps"][H100])
    cap = desk["caps"][A100]
    a100 = [
        trade(market, accounts[2], buyer, cap, 30, 1_000_000 + 10_000 * i)
        for i, buyer in enumerate(accounts[3:6])
    ]
    epoch = desk["epoch"]
    expected = {gpu_class_id(H100): vwap(h100), gpu_class_id(A100): vwap(a100)}
    assert marks_of(market, epoch) == [MarkPrice(c, epoch, p) for c, p in sorted(expected.items())]


def test_the_override_wins_for_its_class_only(market, accounts, desk):
    liquid_h100(market, accounts, desk["caps"][H100])
    a100 = [trade(market, accounts[2], buyer, desk["caps"][A100], 30, 1_000_000) for buyer in accounts[3:6]]
    epoch = desk["epoch"]
    marks = marks_of(market, epoch, {gpu_class_id(H100): 3_000_000})
    assert marks == sorted(
        [MarkPrice(gpu_class_id(H100), epoch, 3_000_000), MarkPrice(gpu_class_id(A100), epoch, vwap(a100))],
        key=lambda m: m.gpu_class,
    )


def test_fills_older_than_the_window_are_left_out(market, accounts, desk):
    cap = desk["caps"][H100]
    liquid_h100(market, accounts, cap)
    warp_to(market, now(market) + DAY)
    later = [trade(market, accounts[1], buyer, cap, 20, 2_400_000) for buyer in accounts[3:6]]
    epoch = now(market) // EPOCH_SECONDS
    assert marks_of(market, epoch) == [MarkPrice(gpu_class_id(H100), epoch, vwap(later))]
    assert marks_of(market, epoch + 24) == []  # a day on, nothing is left in the window


def land(market: Market, mark: MarkPrice) -> None:
    """A report of `mark` alone, signed by the dev signer set's threshold, landed."""
    signer_set, threshold, _ = market.oracle.functions.signerSet().call()
    report = Report(signer_set, (), (mark,))
    oracles = sorted(
        (dev_account(i, market.chain_id) for i in DEV_ORACLE_ACCOUNTS), key=lambda a: int(a.address, 16)
    )
    domain = Domain(market.chain_id, market.oracle.address)
    sender = dev_account(9, market.chain_id)
    signatures = [sign_report(report, a, domain) for a in oracles[:threshold]]
    Submitter(market.w3, market.oracle, sender, market.errors).submit(report, signatures)


def test_a_mark_past_the_step_is_brought_within_it_and_lands(market, accounts, desk):
    """The last mark is 0.90; the fills say 2.05: the contract would refuse the report, so the node
    proposes 1.80, one step up, and the next epochs go on from there."""
    epoch, h100 = desk["epoch"], gpu_class_id(H100)
    land(market, MarkPrice(h100, epoch - 1, 900_000))
    fills = liquid_h100(market, accounts, desk["caps"][H100])
    assert vwap(fills) > 2 * 900_000
    (mark,) = marks_of(market, epoch)
    assert mark == MarkPrice(h100, epoch, 1_800_000)
    warp_to(market, (epoch + 1) * EPOCH_SECONDS + 60)
    land(market, mark)
    assert tuple(market.oracle.functions.markPrice(h100).call()) == (1_800_000, epoch)
    assert marks_of(market, epoch + 1) == [MarkPrice(h100, epoch + 1, vwap(fills))]
    assert marks_of(market, epoch) == []  # a late report of the same epoch: the contract would refuse it


def test_oracle_nodes_land_the_derived_vwap_on_chain(market, accounts, desk, chain, deployments_dir):
    """Three oracle nodes over HTTP, each reading the fills through its own RPC connection; the first
    overrides H100 by hand and is outvoted by the median, which it signs as derived correctly from the
    three signed observations. The aggregator lands what the fills say."""
    fills = liquid_h100(market, accounts, desk["caps"][H100])
    epoch = desk["epoch"]
    warp_to(market, (epoch + 1) * EPOCH_SECONDS + 60)
    domain = Domain(market.chain_id, market.oracle.address)
    peers = [dev_account(i, market.chain_id).address for i in DEV_ORACLE_ACCOUNTS]
    settings = NodeSettings(peers=peers, quorum=2)
    overrides = ({gpu_class_id(H100): 9_000_000}, {}, {})
    with ExitStack() as stack:
        urls = []
        for index, override in zip(DEV_ORACLE_ACCOUNTS, overrides, strict=True):
            own = Market.connect(chain.url, deployments_dir)
            marks = MarkSource(FillReader(own), RULES, DAY, override, EPOCH_SECONDS)
            clock = lambda own=own: float(now(own))  # noqa: E731  the chain's clock, warped
            views = EpochViews(OracleNode(settings, [], clock=clock), marks, clock=clock, grace=30.0)
            account = dev_account(index, market.chain_id)
            app = create_node_app(views, account, domain, watch=False)
            urls.append(stack.enter_context(serve(app)))
        outcome = make_aggregator(market, urls).run(epoch)
    assert outcome.landed, outcome.summary
    assert outcome.signed is not None
    overriding = dev_account(DEV_ORACLE_ACCOUNTS[0], market.chain_id).address
    assert overriding in outcome.signed.signers and not outcome.signed.refusals
    assert outcome.signed.report.marks == (MarkPrice(gpu_class_id(H100), epoch, vwap(fills)),)
    assert tuple(market.oracle.functions.markPrice(gpu_class_id(H100)).call()) == (vwap(fills), epoch)


def test_the_node_refuses_fills_of_another_chain_than_it_signs_for(chain, deployments_dir):
    result = gpuhours(
        "node",
        "--agent",
        "1=http://127.0.0.1:1",
        "--contract",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--chain-id",
        "1",
        "--rpc-url",
        chain.url,
        env={"GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is chain 31337, but reports are signed for chain 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_node_command_signs_the_marks_of_the_fills(
    market, accounts, desk, chain, deployments_dir, tmp_path
):
    """`gpuhours oracle node --rpc-url`: the fills' VWAP for H100, a --mark override for A100."""
    fills = liquid_h100(market, accounts, desk["caps"][H100])
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    key = tmp_path / "key.json"
    assert gpuhours("keystore", "new", str(key), "--password-file", str(password)).returncode == 0
    result = gpuhours(
        "node",
        "--agent",
        "1=http://127.0.0.1:1",
        "--keystore",
        str(key),
        "--password-file",
        str(password),
        "--epoch",
        str(desk["epoch"]),
        "--rpc-url",
        chain.url,
        "--mark",
        f"{A100}=1500000",
        env={"GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir), "GPUHOURS_ORACLE_MARK_MIN_UNITS": "50"},
    )
    assert result.returncode == 0, result.stderr
    report = Report.from_json(json.loads(result.stdout)["report"])
    epoch = desk["epoch"]
    expected = {gpu_class_id(H100): vwap(fills), gpu_class_id(A100): 1_500_000}
    assert list(report.marks) == [MarkPrice(c, epoch, p) for c, p in sorted(expected.items())]
