"""Reorgs on a real Anvil (anvil_reorg, evm_revert): the store after the rollback and re-index equals
a fresh index of the same chain, table by table."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from backend.chain.client import to_bytes32
from backend.chain.dev_accounts import dev_account
from backend.db.models import IndexedFill, RawEvent
from backend.indexer.reorg import DeepReorg
from tests.backend.conftest import assert_same_store, index_all, new_indexer
from tests.backend.market_round import check_against_chain, play_round


def _rpc(market, method, params):
    answer = market.w3.provider.make_request(method, params)
    assert "error" not in answer, answer
    return answer.get("result")


def _register_node_tx(market, sender: str, name: str) -> dict:
    fn = market.hours.functions.registerNode(
        to_bytes32(name), 1, 48, to_bytes32("ap-south"), to_bytes32("PCIe"), keccak(text=name)
    )
    data = fn._encode_transaction_data()
    return {"from": sender, "to": market.hours.address, "data": data}


def _events_above(engine, block: int) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(RawEvent).where(RawEvent.block_number > block)
        return conn.execute(query).scalar()


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_reorg_rolls_back_to_the_fork_and_matches_a_fresh_index(
    depth, market, make_store, chain, deployments_dir
):
    rnd = play_round(market)
    engine = make_store()
    index_all(engine, chain, deployments_dir)
    head = market.w3.eth.block_number
    old_hashes = [market.w3.eth.get_block(n)["hash"] for n in range(head - depth + 1, head + 1)]
    assert _events_above(engine, head - depth) > 0  # the blocks to be replaced carry indexed events

    # The last `depth` blocks (settlements, withdrawals) are replaced: a new node is registered in the
    # first new block and, when there is room, renter 3's withdrawal is mined again in another block.
    renter3 = dev_account(3, market.chain_id).address
    provider2 = dev_account(2, market.chain_id).address
    replacement = [[_register_node_tx(market, provider2, f"L40S-reorg-{depth}"), 0]]
    if depth >= 2:
        withdraw = market.escrow.functions.withdraw(renter3)._encode_transaction_data()
        replacement.append([{"from": renter3, "to": market.escrow.address, "data": withdraw}, depth - 1])
    _rpc(market, "anvil_reorg", [depth, replacement])
    assert market.w3.eth.block_number == head
    assert all(market.w3.eth.get_block(head - depth + 1 + i)["hash"] != h for i, h in enumerate(old_hashes))

    indexer = new_indexer(engine, chain, deployments_dir)
    indexer.initialize()
    summary = indexer.sync()
    indexer.close()
    assert [r.fork_block for r in summary.rollbacks] == [head - depth]
    assert summary.rollbacks[0].raw_events > 0

    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)
    check_against_chain(engine, market, rnd)
    with engine.connect() as conn:
        query = select(RawEvent.event).where(RawEvent.block_number > head - depth)
        names = conn.execute(query).scalars().all()
    assert "NodeRegistered" in names


def test_reorg_to_a_shorter_chain(market, make_store, chain, deployments_dir, accounts):
    """The chain drops back below the checkpoint (evm_revert) and grows again with other blocks."""
    rnd = play_round(market)
    snapshot = _rpc(market, "evm_snapshot", [])
    fork = market.w3.eth.block_number
    market.register_node(accounts[1], "B200", 8, 192, "eu-north", "NVLink5", ["GPU-x"])
    market.register_node(accounts[2], "GB200", 4, 192, "eu-north", "NVLink5", ["GPU-y"])
    market.send(accounts[1], market.hours.functions.transferNode(rnd.nodes[0], accounts[2].address))
    engine = make_store()
    index_all(engine, chain, deployments_dir)
    checkpoint = market.w3.eth.block_number

    _rpc(market, "evm_revert", [snapshot])
    market.register_node(accounts[2], "MI300X", 8, 192, "us-west", "IF", ["GPU-z"])
    assert market.w3.eth.block_number < checkpoint

    indexer = new_indexer(engine, chain, deployments_dir)
    indexer.initialize()
    summary = indexer.sync()
    indexer.close()
    assert [r.fork_block for r in summary.rollbacks] == [fork]
    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)


def test_reorg_while_fetching_is_caught_before_anything_is_written(
    market, make_store, chain, deployments_dir, accounts
):
    play_round(market)
    engine = make_store()
    index_all(engine, chain, deployments_dir)
    for i in range(3):
        market.register_node(accounts[1], f"H200-{i}", 8, 141, "eu-west", "NVLink", [f"GPU-{i}"])

    indexer = new_indexer(engine, chain, deployments_dir)
    indexer.initialize()
    fetch = indexer.fetcher.fetch
    reorged = []

    def fetch_after_a_reorg(start, stop):
        if not reorged:  # the headers of this range were read; now the chain changes under it
            reorged.append(True)
            late = _register_node_tx(market, accounts[2].address, "late-fork")
            _rpc(market, "anvil_reorg", [2, [[late, 1]]])
        return fetch(start, stop)

    indexer.fetcher.fetch = fetch_after_a_reorg
    results = [indexer.tick() for _ in range(6)]
    indexer.close()
    assert results[0].action == "retry"
    assert results[-1].action == "idle"
    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)


def test_reorg_deeper_than_the_window_stops_with_a_clear_error(market, make_store, chain, deployments_dir):
    play_round(market)
    engine = make_store()
    index_all(engine, chain, deployments_dir, indexer_reorg_window=2)
    _rpc(market, "anvil_reorg", [5, []])
    indexer = new_indexer(engine, chain, deployments_dir, indexer_reorg_window=2)
    indexer.initialize()
    with pytest.raises(DeepReorg, match="REORG_WINDOW"):
        indexer.sync()
    indexer.close()
    with engine.connect() as conn:  # nothing was rolled back on a guess
        assert conn.execute(select(func.count()).select_from(IndexedFill)).scalar() == 5
