"""Each oracle process reads its own settings, from the same GPUHOURS_* variables as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from oracle.settings import AgentSettings, AggregatorSettings, NodeSettings


def test_variable_names_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_ORACLE_CHALLENGE_N", "256")
    monkeypatch.setenv("GPUHOURS_ORACLE_AGENTS", '{"1": "http://10.0.0.5:9410"}')
    monkeypatch.setenv("GPUHOURS_ORACLE_SIM_GPUS", "2")
    monkeypatch.setenv("GPUHOURS_ORACLE_NODES", '["http://10.0.1.1:9420"]')
    monkeypatch.setenv("GPUHOURS_RPC_URL", "http://chain:8545")
    monkeypatch.setenv("GPUHOURS_DEPLOYMENTS_DIR", "/srv/deployments")
    monkeypatch.setenv("GPUHOURS_TX_TIMEOUT", "5")
    node, agent, aggregator = NodeSettings(), AgentSettings(), AggregatorSettings()
    assert (node.challenge_n, node.agents, node.deployments_dir) == (
        256,
        {1: "http://10.0.0.5:9410"},
        Path("/srv/deployments"),
    )
    assert agent.sim_gpus == 2
    assert (aggregator.nodes, aggregator.rpc_url, aggregator.tx_timeout) == (
        ["http://10.0.1.1:9420"],
        "http://chain:8545",
        5.0,
    )


def test_shared_variables_keep_the_backend_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_ORACLE_RPC_URL", "http://not-read:1")
    monkeypatch.setenv("RPC_URL", "http://not-read:2")
    monkeypatch.delenv("GPUHOURS_RPC_URL", raising=False)
    assert AggregatorSettings().rpc_url == "http://127.0.0.1:8545"
    assert AggregatorSettings(GPUHOURS_RPC_URL="http://given").rpc_url == "http://given"


def test_a_process_ignores_the_others_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUHOURS_ORACLE_CHALLENGE_N", "not even a number")
    assert AgentSettings().max_challenge_n == 16384  # the agent has no challenge_n to misread


def test_backfill_needs_the_simulated_source() -> None:
    with pytest.raises(ValidationError, match="simulated source only"):
        AgentSettings(source="dcgm", sim_backfill=60)
    assert AgentSettings(source="simulated", sim_backfill=60).sim_backfill == 60


def test_grace_must_end_before_the_chain_stops_accepting_reports() -> None:
    with pytest.raises(ValidationError, match="EPOCH_GRACE"):
        NodeSettings(epoch_grace=3600, max_delay=600)


def test_mark_settings_and_the_chain_they_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUHOURS_RPC_URL", raising=False)
    assert NodeSettings().rpc_url is None  # no chain: only --mark prices
    monkeypatch.setenv("GPUHOURS_RPC_URL", "http://chain:8545")
    monkeypatch.setenv("GPUHOURS_ORACLE_MARK_WINDOW", "7200")
    monkeypatch.setenv("GPUHOURS_ORACLE_MARK_MIN_UNITS", "40")
    monkeypatch.setenv("GPUHOURS_ORACLE_MARK_MIN_COUNTERPARTIES", "4")
    monkeypatch.setenv("GPUHOURS_ORACLE_MARK_OUTLIER_K", "2.5")
    monkeypatch.setenv("GPUHOURS_ORACLE_MARK_OUTLIER_FLOOR_BPS", "200")
    node = NodeSettings()
    assert (node.rpc_url, node.mark_window, node.mark_min_units, node.mark_min_counterparties) == (
        "http://chain:8545",
        7200,
        40,
        4,
    )
    assert (node.mark_outlier_k, node.mark_outlier_floor_bps) == (2.5, 200)


@pytest.mark.parametrize(
    "bad",
    [
        {"mark_min_counterparties": 1},  # one address trading with itself would be a market
        {"mark_min_units": 0},
        {"mark_window": 60},
        {"mark_outlier_k": -1},
        {"mark_outlier_floor_bps": 10_001},
    ],
)
def test_mark_settings_out_of_range_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match=next(iter(bad))):
        NodeSettings(**bad)
