"""GET /events/stream over HTTP: a fill made on chain, indexed, arrives as a Server-Sent Event; a
client resumes with Last-Event-ID; filters; the stream stops when the client goes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from backend.api.routes import stream as stream_route
from backend.chain.orders import OrderKind
from tests.backend.market_round import HOUR
from tests.conftest import USDC, now

HEARTBEAT = ("comment", "heartbeat")


def sse(lines: Iterator[str]) -> Iterator[Any]:
    """Parses text/event-stream lines: yields HEARTBEAT for a comment, else (id, event, data)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                yield int(fields["id"]), fields["event"], json.loads(fields["data"])
            fields = {}
        elif line.startswith(":"):
            yield HEARTBEAT
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def events_until_quiet(messages: Iterator[Any], deadline: float = 20.0, *, expect: bool = False) -> list[Any]:
    """Events up to the first heartbeat that follows them (the stream has caught up). With `expect`,
    heartbeats before the first event are skipped: they were sent while the events were being made."""
    out: list[Any] = []
    end = time.monotonic() + deadline
    for message in messages:
        assert time.monotonic() < end, "the stream did not catch up"
        if message == HEARTBEAT:
            if out or not expect:
                return out
            continue
        out.append(message)
    raise AssertionError("the stream ended")


class Looks:
    n = 0


def count_looks(monkeypatch) -> Looks:
    """Counts the stream's reads of the store from here on."""
    looks, look = Looks(), stream_route._look

    def counted(*args: Any) -> Any:
        looks.n += 1
        return look(*args)

    monkeypatch.setattr(stream_route, "_look", counted)
    return looks


@pytest.fixture
def fast_heartbeat(monkeypatch):
    monkeypatch.setattr(stream_route, "HEARTBEAT_SECONDS", 0.2)


def test_fill_arrives_live_and_resumes(market, accounts, serve, index, fast_heartbeat, monkeypatch):
    provider, renter = accounts[1], accounts[3]
    for who in (provider, renter):
        market.faucet(who, 10_000 * USDC)
        market.approve(who, market.exchange.address)
        market.approve(who, market.escrow.address)
    node = market.register_node(provider, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-1"])
    start = now(market) - now(market) % HOUR + 2 * HOUR
    min_bond = market.min_bond_per_unit()
    capacity = market.create_capacity(provider, node, start, start + 2 * HOUR, 1_000_000, 8 * min_bond)
    ask = market.sign(provider, OrderKind.PRIMARY_SELL, capacity, 8, 2_100_000, start)
    index()
    api = serve()

    looks = count_looks(monkeypatch)

    # Live: the stream starts at the newest event; the fill is indexed while it is open.
    with api.stream("GET", "/events/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        messages = sse(response.iter_lines())
        assert events_until_quiet(messages) == []
        fill = market.fill(renter, ask, 5)
        index()
        live = events_until_quiet(messages, expect=True)
    tx = "0x" + bytes(fill.receipt["transactionHash"]).hex()
    block = fill.receipt["blockNumber"]
    assert live and all(data["tx"] == tx and data["block"] == block for _, _, data in live)
    ids = [i for i, _, _ in live]
    assert ids == sorted(ids) and [data["id"] for _, _, data in live] == ids
    filled = [data for _, name, data in live if name == "Exchange.OrderFilled"]
    assert len(filled) == 1
    assert filled[0]["args"]["orderHash"] == "0x" + ask.hash.hex()
    assert (filled[0]["args"]["amount"], filled[0]["args"]["price"], filled[0]["args"]["capacityId"]) == (
        5,
        2_100_000,
        capacity,
    )
    assert (filled[0]["contract"], filled[0]["event"]) == ("Exchange", "OrderFilled")
    assert {name for _, name, _ in live} >= {"GpuHours.TransferSingle", "Escrow.BackingDeposited"}

    # The client went away: the server stops looking.
    time.sleep(0.5)
    seen = looks.n
    time.sleep(0.5)
    assert looks.n == seen

    # Resume after the first event: the rest, nothing seen twice; Last-Event-ID wins over since.
    with api.stream(
        "GET", "/events/stream", params={"since": 0}, headers={"Last-Event-ID": str(ids[0])}
    ) as response:
        resumed = events_until_quiet(sse(response.iter_lines()))
    assert resumed == live[1:]

    # Filters, from the first event on.
    def replay(**params: Any) -> list[Any]:
        with api.stream("GET", "/events/stream", params={"since": 0, **params}) as response:
            assert response.status_code == 200
            return events_until_quiet(sse(response.iter_lines()))

    assert [name for _, name, _ in replay(event="OrderFilled")] == ["Exchange.OrderFilled"]
    assert {name.split(".")[0] for _, name, _ in replay(contract="Escrow,Exchange")} == {"Escrow", "Exchange"}
    about = replay(capacity_id=capacity)
    names = [name for _, name, _ in about]
    assert names[0] == "GpuHours.CapacityCreated" and "Exchange.OrderFilled" in names
    assert "GpuHours.TransferSingle" in names and "GpuHours.NodeRegistered" not in names
    assert replay(capacity_id=capacity + 1) == []
    everything = replay()
    assert everything[-len(live) :] == live and len(everything) > len(live)


def test_open_streams_share_one_reader_of_the_store(
    market, accounts, serve, index, fast_heartbeat, monkeypatch
):
    """Twenty idle streams cost the store one look per poll interval, not twenty; a new event reaches
    every one of them."""
    index()
    api = serve()
    poll = 0.02  # api_settings' api_stream_poll
    looks = count_looks(monkeypatch)
    with ExitStack() as open_streams:
        streams = [
            sse(open_streams.enter_context(api.stream("GET", "/events/stream")).iter_lines())
            for _ in range(20)
        ]
        for messages in streams:
            assert events_until_quiet(messages) == []
        seen = looks.n
        time.sleep(1.0)
        assert looks.n - seen <= 1.5 / poll, f"{looks.n - seen} looks in a second for 20 idle streams"
        node = market.register_node(accounts[2], "L40S-48GB", 2, 48, "us-east", "PCIe", ["GPU-7"])
        index()
        for messages in streams:
            got = events_until_quiet(messages, expect=True)
            assert [(name, data["args"]["nodeId"]) for _, name, data in got] == [
                ("GpuHours.NodeRegistered", node)
            ]


def test_bad_resume_points_are_json_422(serve):
    api = serve()
    response = api.get("/events/stream", params={"since": -1})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    response = api.get("/events/stream", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422 and "last-event-id" in response.json()["error"]["reason"]
