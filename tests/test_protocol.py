"""backend/chain/protocol.py against the Solidity sources and the committed ABIs: drift on either side
fails here."""

from __future__ import annotations

import json
import re
from enum import IntEnum

import pytest

from backend.chain import protocol
from backend.chain.deployments import REPO_ROOT

SOURCES = REPO_ROOT / "contracts" / "src"
ENUMS: dict[str, type[IntEnum]] = {
    "OrderKind": protocol.OrderKind,
    "CloseReason": protocol.CloseReason,
    "CapacityStatus": protocol.CapacityStatus,
}
SOLIDITY_UNITS = {"seconds": 1, "minutes": 60, "hours": 3_600, "days": 86_400}


def solidity() -> str:
    text = "\n".join(p.read_text() for p in sorted(SOURCES.rglob("*.sol")))
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL)


def solidity_enums() -> dict[str, list[str]]:
    return {
        name: [m.strip() for m in body.split(",") if m.strip()]
        for name, body in re.findall(r"\benum\s+(\w+)\s*\{([^}]*)\}", solidity())
    }


def upper_snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).upper()


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_enum_members_match_the_contracts_in_order(name: str) -> None:
    members = solidity_enums()[name]
    assert [(m.name, m.value) for m in ENUMS[name]] == [(upper_snake(m), i) for i, m in enumerate(members)]


def test_every_enum_the_abis_use_is_mirrored() -> None:
    used: set[str] = set()

    def walk(item: object) -> None:
        if isinstance(item, dict):
            kind = str(item.get("internalType", ""))
            if kind.startswith("enum "):
                used.add(kind.removeprefix("enum ").rsplit(".", 1)[-1])
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    for path in (REPO_ROOT / "deployments" / "abi").glob("*.json"):
        walk(json.loads(path.read_text()))
    assert used == set(ENUMS)


def test_the_store_names_follow_the_enums() -> None:
    assert protocol.CLOSE_REASONS[protocol.CloseReason.PROVIDER_FAILED] == "provider_failed"
    assert protocol.ORDER_KINDS == ("primary_sell", "sell", "buy")
    assert protocol.CAPACITY_STATUSES[protocol.CapacityStatus.ACTIVE] == "active"
    # The string enums the backend compares stored rows with spell each member as the store does.
    assert tuple(protocol.CloseReasonName) == protocol.CLOSE_REASONS
    assert tuple(protocol.CapacityStatusName) == protocol.CAPACITY_STATUSES
    assert [m.name for m in protocol.CloseReasonName] == [m.name for m in sorted(protocol.CloseReason)]
    assert [m.name for m in protocol.CapacityStatusName] == [m.name for m in sorted(protocol.CapacityStatus)]


def test_hour_and_epoch_match_the_contracts() -> None:
    constants = re.findall(r"constant\s+(HOUR|EPOCH)\s*=\s*(\d+)\s*(\w+)?\s*;", solidity())
    assert {name for name, _, _ in constants} == {"HOUR", "EPOCH"}
    for name, number, unit in constants:
        seconds = int(number) * SOLIDITY_UNITS.get(unit, 1)
        assert seconds == (protocol.HOUR if name == "HOUR" else protocol.EPOCH_SECONDS), name


def test_dev_chain_ids_match_mock_usdc() -> None:
    mock = (SOURCES / "MockUSDC.sol").read_text()
    assert {int(i) for i in re.findall(r"block\.chainid\s*!=\s*(\d+)", mock)} == protocol.DEV_CHAIN_IDS
