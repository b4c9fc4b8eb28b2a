"""GET /nodes, /nodes/{id} and /nodes/{id}/attestations over HTTP, on a market round made on chain."""

from __future__ import annotations

from sqlalchemy import insert, select

from backend.chain.dev_accounts import dev_account
from backend.chain.orders import OrderKind
from backend.config import DeploySettings
from backend.db.models import NodeHealth, NodeMetadata, Slash, table_of
from tests.backend.market_round import HOUR, PRICE, play_round, submit_report
from tests.conftest import USDC, fund, now, warp_to

UPTIMES = (10_000, 5_000, 4_000)  # what play_round's oracle attests for node 1, epoch by epoch
STEP = 2 ** (-1 / 168)  # the oracle's reliability weight per epoch of age
# The exponentially weighted mean the oracle computes at the last of the three epochs: 6,325.08...
RELIABILITY = int(sum(u * STEP ** (2 - i) for i, u in enumerate(UPTIMES)) / sum(STEP**k for k in range(3)))


def test_nodes_reliability_and_attestations(market, store, serve, index):
    rnd = play_round(market)
    p1, p2 = rnd.accounts[1], rnd.accounts[2]
    node3 = market.register_node(p2, "A100-SXM4-80GB", 8, 80, "us-east", "InfiniBand", ["GPU-7"])
    index()
    node1, node2 = rnd.nodes
    chain_id = market.chain_id
    with store.begin() as conn:
        conn.execute(
            insert(table_of(NodeMetadata)).values(
                chain_id=chain_id,
                node_id=node1,
                owner=p1.address,
                name="fra-h100-01",
                description="4x H100",
                endpoint="https://fra.example/agent",
                tags=["nvlink"],
                updated_at=1_000.0,
            )
        )
        conn.execute(
            insert(table_of(NodeHealth)).values(
                chain_id=chain_id,
                node_id=node1,
                last_epoch=rnd.epochs[-1][1],
                stale=True,
                flagged_at=2_000.0,
                checked_at=2_000.0,
            )
        )
        slashed = sum(
            conn.execute(select(Slash.amount).where(Slash.capacity_id == rnd.capacities[0])).scalars()
        )
    # The SLA comes from the indexed SlaSet event, not from these settings.
    api = serve(api_page_max=20, sla_min_uptime_bps=3_000)

    listing = api.get("/nodes")
    assert listing.status_code == 200, listing.text
    assert [n["node_id"] for n in listing.json()["items"]] == [node1, node2, node3]
    assert listing.json()["total"] == 3
    first = listing.json()["items"][0]
    on_chain = market.oracle.functions.reliabilityBps(node1).call()
    # The node's last attested hour is the latest closed one, so the API's float SQL and the chain's
    # fixed point agree, to the basis point (both round down from 6,325.08).
    assert first["reliability_bps"] == RELIABILITY == on_chain == 6_325
    assert (first["epochs_attested"], first["gpu_model"], first["owner"]) == (3, "H100-SXM5-80GB", p1.address)

    # Node 2 was transferred from provider 2 to provider 1 during the round.
    def node_ids(**params) -> list[int]:
        return [n["node_id"] for n in api.get("/nodes", params=params).json()["items"]]

    assert node_ids(owner=p1.address) == [node1, node2]
    assert node_ids(owner=p2.address.lower()) == [node3]
    assert node_ids(gpu_model="A100-SXM4-80GB") == [node2, node3]
    assert node_ids(region="eu-west") == [node1]
    page = api.get("/nodes", params={"limit": 1, "offset": 1}).json()
    assert [n["node_id"] for n in page["items"]] == [node2] and page["total"] == 3
    assert api.get("/nodes", params={"limit": 21}).status_code == 422
    assert api.get("/nodes", params={"owner": "nobody"}).json()["error"]["code"] == "invalid_address"

    detail = api.get(f"/nodes/{node1}")
    assert detail.status_code == 200, detail.text
    d = detail.json()
    assert d["metadata"] == {
        "name": "fra-h100-01",
        "description": "4x H100",
        "endpoint": "https://fra.example/agent",
        "tags": ["nvlink"],
        "updated_at": 1_000.0,
    }
    sla_uptime, sla_per_joule = market.settlement.functions.sla().call()[:2]
    assert sla_uptime == DeploySettings().sla_min_uptime_bps != 3_000
    met = sum(u >= sla_uptime for u in UPTIMES)
    assert d["reliability"] == {
        "epochs": 3,
        "reliability_bps": RELIABILITY,
        "mean_load_bps": 6_000,
        "gpu_seconds": sum(4 * 3600 * u // 10_000 for u in UPTIMES),
        "mean_mflops_per_joule": 250_000,
        "mean_gflops": 600_000,
        "last_epoch": rnd.epochs[-1][1],
        "stale": True,
        "sla_min_uptime_bps": sla_uptime,
        "sla_min_gflops_per_joule": sla_per_joule,
        "sla_epochs_met": met,
        "sla_share_bps": met * 10_000 // 3,
    }
    assert met == 1
    assert d["slashed_total"] == slashed > 0 and d["capacities"] == 1

    quiet = api.get(f"/nodes/{node3}").json()
    assert quiet["metadata"] is None and quiet["slashed_total"] == 0 and quiet["capacities"] == 0
    assert quiet["reliability"]["epochs"] == 0 and quiet["reliability"]["reliability_bps"] == 0
    assert quiet["reliability"]["stale"] is None and quiet["reliability"]["sla_share_bps"] is None
    missing = api.get("/nodes/999")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "reason": "no node 999"}

    attestations = api.get(f"/nodes/{node1}/attestations", params={"limit": 2})
    assert attestations.status_code == 200, attestations.text
    body = attestations.json()
    assert body["total"] == 3 and [a["epoch"] for a in body["items"]] == [e for _, e in rnd.epochs[::-1][:2]]
    assert [a["uptime_bps"] for a in body["items"]] == [UPTIMES[2], UPTIMES[1]]
    assert [a["meets_sla"] for a in body["items"]] == [False, False]
    rest = api.get(f"/nodes/{node1}/attestations", params={"limit": 2, "offset": 2}).json()["items"]
    assert [(a["epoch"], a["uptime_bps"], a["meets_sla"]) for a in rest] == [(rnd.epochs[0][1], 10_000, True)]
    assert rest[0]["gpu_seconds"] == 14_400 and rest[0]["samples_root"].startswith("0x")
    assert api.get("/nodes/999/attestations").status_code == 404


def test_an_hour_meets_the_sla_only_with_the_booked_gpu_seconds(market, serve, index):
    """The API judges each attested hour as Settlement does: full uptime without the GPU-seconds the
    bookings need fails, as the chain's settlement of the booking says."""
    provider, renter, keeper = (dev_account(i, market.chain_id) for i in (1, 3, 9))
    fund(market, (provider, renter), 10_000 * USDC)
    node = market.register_node(provider, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-9"])
    start = now(market) - now(market) % HOUR + HOUR
    capacity = market.create_capacity(
        provider, node, start, start + 3 * HOUR, 1_000_000, 12 * market.min_bond_per_unit() * 100
    )
    market.fill(renter, market.sign(provider, OrderKind.PRIMARY_SELL, capacity, 9, PRICE, start), 9)
    booking = market.activate(renter, capacity, start, 3, 3)  # 3 of the 4 GPUs, all three hours
    min_uptime = market.hours.functions.terms(capacity).call()[3]  # Terms.minUptimeBps
    needed = -(-3 * HOUR * min_uptime // 10_000)  # booked GPUs x 3,600 x min uptime, rounded up
    # Full uptime each hour; GPU-seconds: enough, one short, and none at all.
    for i, seconds in enumerate((needed, needed - 1, 0)):
        warp_to(market, start + (i + 1) * HOUR + 60)
        submit_report(market, node, start // HOUR + i, 10_000, PRICE, gpu_seconds=seconds)
    warp_to(market, start + 3 * HOUR + market.oracle.functions.maxDelay().call() + 1)
    receipt = market.send(keeper, market.settlement.functions.settleBooking(booking))
    settled = market.events(receipt, market.settlement, "BookingSettled")[0]
    assert (settled["deliveredHours"], settled["failedHours"]) == (1, 2)

    index()
    api = serve()
    items = api.get(f"/nodes/{node}/attestations").json()["items"]
    assert [(a["gpu_seconds"], a["meets_sla"]) for a in reversed(items)] == [
        (needed, True),
        (needed - 1, False),
        (0, False),
    ]
    reliability = api.get(f"/nodes/{node}").json()["reliability"]
    assert reliability["sla_epochs_met"] == settled["deliveredHours"] == 1
