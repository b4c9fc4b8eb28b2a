"""eth_getLogs ranges and RPC failures: unit tests of the range logic, and the whole indexer behind a
real HTTP proxy that injects range limits, timeouts, 429s and 5xx."""

from __future__ import annotations

from itertools import pairwise

import pytest

from backend.indexer.fetch import FetchError, LogFetcher
from backend.indexer.rpc import RangeTooLarge, Rpc, RpcError, RpcUnavailable, _Transient, classify_error
from tests.backend.conftest import assert_same_store, index_all, new_indexer
from tests.backend.market_round import play_round
from tests.backend.rpc_proxy import TRANSIENT_FAULTS, FaultyProxy

# ---------------------------------------------------------------------------- error messages


@pytest.mark.parametrize(
    ("message", "code", "span", "hard"),
    [
        ("query returned more than 10000 results", -32005, None, False),
        (
            "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and "
            "no limit on the response size, or you can request any block range with a cap of 10K logs in the "
            "response. Based on your parameters, this block range should work: [0x1e8480, 0x1e87cf]",
            -32602,
            0x1E87CF - 0x1E8480 + 1,
            False,
        ),
        (
            "query returned more than 10000 results. Try with this block range [0x10, 0x2F].",
            -32005,
            0x20,
            False,
        ),
        ("exceed maximum block range: 5000", -32000, 5000, True),
        ("eth_getLogs block range too large, range: 10001, max: 10000", -32000, 10000, True),
        ("requested too many blocks from 0 to 100000, maximum is set to 2048", -32602, 2048, True),
        ("eth_getLogs is limited to a 10,000 range", -32600, 10000, True),
        ("block range is too wide", -32000, None, False),
        (
            "Please, specify less number of addresses. To resolve this error: logs matched by query exceeds "
            "limit of 10000",
            -32005,
            None,
            False,
        ),
    ],
)
def test_range_refusals_are_recognised(message, code, span, hard):
    error = classify_error("eth_getLogs", code, message)
    assert isinstance(error, RangeTooLarge)
    assert (error.span, error.hard_limit) == (span, hard)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (429, "Too many requests"),
        (-32005, "rate limit exceeded"),
        (-32000, "header not found"),
        (-32603, "request timed out"),
        (-32000, "Your app has exceeded its compute units per second capacity"),
    ],
)
def test_busy_node_errors_are_retried(code, message):
    assert isinstance(classify_error("eth_getLogs", code, message), _Transient)


def test_other_errors_are_not_retried():
    error = classify_error("eth_call", 3, "execution reverted")
    assert isinstance(error, RpcError) and not isinstance(error, RangeTooLarge)
    assert isinstance(classify_error("eth_blockNumber", -32601, "method not found"), RpcError)


# ---------------------------------------------------------------------------- adaptive ranges


class ScriptedRpc:
    """get_logs refuses ranges wider than `limit` with the given message; records every range asked."""

    def __init__(self, limit: int, message: str = "query returned more than 10000 results"):
        self.limit, self.message = limit, message
        self.asked: list[tuple[int, int]] = []

    def get_logs(self, start, end, addresses):
        self.asked.append((start, end))
        if end - start + 1 > self.limit:
            raise classify_error("eth_getLogs", -32005, self.message.format(lo=hex(start), hi=hex(start + 9)))
        return []


def test_ranges_halve_on_refusal_and_grow_after_success():
    rpc = ScriptedRpc(limit=300)
    fetcher = LogFetcher(rpc, ["0x00"], span=1000, max_span=4000)
    assert fetcher.fetch(0, 100_000) == (249, [])  # 1000 → 500 → 250
    assert rpc.asked == [(0, 999), (0, 499), (0, 249)]
    fetcher.fetch(250, 100_000)  # 500 refused → 250 again, then growth
    assert fetcher.span == 500
    widths = [e - s + 1 for s, e in rpc.asked]
    assert all(b < a for a, b in pairwise(widths) if b < a or a == b) and (0, 999) not in rpc.asked[1:]
    consecutive = list(pairwise(rpc.asked))
    assert all(a != b for a, b in consecutive), "a refused range was asked again unchanged"


def test_the_suggested_range_is_used():
    rpc = ScriptedRpc(
        limit=10, message="Log response size exceeded. this block range should work: [{lo}, {hi}]"
    )
    fetcher = LogFetcher(rpc, ["0x00"], span=5000)
    assert fetcher.fetch(100, 10_000)[0] == 109
    assert rpc.asked == [(100, 5099), (100, 109)]


def test_a_fixed_range_limit_caps_growth():
    rpc = ScriptedRpc(limit=64, message="exceed maximum block range: 64")
    fetcher = LogFetcher(rpc, ["0x00"], span=1000, max_span=10_000)
    end = -1
    for _ in range(5):
        end, _ = fetcher.fetch(end + 1, 100_000)
    assert fetcher.span == 64 and len(rpc.asked) == 6  # one refusal, then never above the limit


def test_a_single_block_the_node_refuses_is_an_error_not_a_loop():
    rpc = ScriptedRpc(limit=0)
    fetcher = LogFetcher(rpc, ["0x00"], span=8)
    with pytest.raises(FetchError, match="block 5 alone"):
        fetcher.fetch(5, 100)
    assert [e - s + 1 for s, e in rpc.asked] == [8, 4, 2, 1]


def test_the_range_stops_at_the_target():
    rpc = ScriptedRpc(limit=10_000)
    fetcher = LogFetcher(rpc, ["0x00"], span=100)
    assert fetcher.fetch(10, 15)[0] == 15
    assert fetcher.span == 100  # a range cut by the target says nothing about the node


# ---------------------------------------------------------------------------- retries over HTTP


def test_transient_http_failures_are_retried_then_given_up(chain):
    with FaultyProxy(chain.url, fault_every=1, faults=("http429", "http503", "reset", "timeout")) as proxy:
        rpc = Rpc(proxy.url, timeout=0.3, retries=3, backoff=0.01, max_backoff=0.02)
        with pytest.raises(RpcUnavailable, match="after 4 attempts"):
            rpc.block_number()
        assert proxy.counts == {"http429": 1, "http503": 1, "reset": 1, "timeout": 1}
    with FaultyProxy(chain.url, fault_every=2) as proxy:
        rpc = Rpc(proxy.url, timeout=0.3, retries=3, backoff=0.01, max_backoff=0.02)
        assert [rpc.block_number() for _ in range(6)] == [rpc.block_number()] * 6
        assert rpc.stats.retries >= 6


def test_indexing_through_a_faulty_node_loses_nothing(market, make_store, chain, deployments_dir):
    play_round(market)
    direct = make_store()
    index_all(direct, chain, deployments_dir, indexer_reorg_window=16)
    faulty = make_store()
    with FaultyProxy(chain.url, max_range=4, fault_every=3, delay=0.8) as proxy:
        indexer = new_indexer(
            faulty,
            chain,
            deployments_dir,
            rpc_url=proxy.url,
            indexer_rpc_timeout=0.4,
            indexer_rpc_retries=10,
            indexer_batch_blocks=32,
            indexer_reorg_window=16,
        )
        indexer.initialize()
        summary = indexer.sync()
        retries = indexer.rpc.stats.retries
        indexer.close()
    assert_same_store(direct, faulty)
    assert summary.events > 0
    for fault in (*TRANSIENT_FAULTS, "range_suggested", "range_results", "range_limit"):
        assert proxy.counts[fault] >= 1, f"no {fault} was injected: {proxy.counts}"
    assert retries >= sum(proxy.counts[f] for f in TRANSIENT_FAULTS)
