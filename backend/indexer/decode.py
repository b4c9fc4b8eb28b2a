"""Decode logs with the deployment's contract ABIs into events with JSON-ready arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from backend.indexer.fetch import Log

#: EIP-55 checksums cost a keccak each; the same few addresses recur in almost every log.
checksum = lru_cache(maxsize=1 << 16)(to_checksum_address)

#: The contracts the indexer reads. The stablecoin is left out: in production it is someone else's
#: token (USDC) whose transfers are not the market's business.
INDEXED_CONTRACTS = ("GpuHours", "Exchange", "Escrow", "AttestationOracle", "Settlement")


@dataclass(frozen=True)
class Event:
    log: Log
    contract: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class _EventAbi:
    name: str
    indexed: tuple[dict[str, Any], ...]
    data: tuple[dict[str, Any], ...]
    data_types: tuple[str, ...]


class EventDecoder:
    """Maps (address, topic0) to the contract and event ABI, and decodes logs with eth-abi."""

    def __init__(self, contracts: Mapping[str, tuple[str, list[dict[str, Any]]]]):
        """`contracts`: name -> (address, ABI)."""
        self._names: dict[str, str] = {}
        self._events: dict[tuple[str, str], _EventAbi] = {}
        for name, (address, abi) in contracts.items():
            address = address.lower()
            self._names[address] = name
            for entry in abi:
                if entry.get("type") != "event" or entry.get("anonymous"):
                    continue
                topic = "0x" + event_abi_to_log_topic(entry).hex()
                inputs = entry["inputs"]
                data = tuple(i for i in inputs if not i.get("indexed"))
                self._events[(address, topic)] = _EventAbi(
                    entry["name"],
                    tuple(i for i in inputs if i.get("indexed")),
                    data,
                    tuple(collapse_if_tuple(i) for i in data),
                )

    @property
    def addresses(self) -> list[str]:
        return sorted(self._names)

    def decode(self, log: Log) -> Event:
        contract = self._names.get(log.address, "unknown")
        spec = self._events.get((log.address, log.topics[0])) if log.topics else None
        if spec is None or len(log.topics) != len(spec.indexed) + 1:
            return Event(log, contract, "unknown", {"topics": list(log.topics), "data": log.data})
        args: dict[str, Any] = {}
        for item, topic in zip(spec.indexed, log.topics[1:]):
            kind = item["type"]
            if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("tuple"):
                args[item["name"]] = topic  # a dynamic indexed value is only its hash
            else:
                (value,) = abi_decode([kind], bytes.fromhex(topic[2:]))
                args[item["name"]] = _jsonable(item, value)
        values = abi_decode(list(spec.data_types), bytes.fromhex(log.data[2:])) if spec.data_types else ()
        for item, value in zip(spec.data, values):
            args[item["name"]] = _jsonable(item, value)
        return Event(log, contract, spec.name, args)


def _jsonable(item: dict[str, Any], value: Any) -> Any:
    """An ABI value as JSON: addresses checksummed, bytes as 0x hex, tuples as objects, ints as ints."""
    kind: str = item["type"]
    if kind.endswith("]"):
        inner = {**item, "type": kind[: kind.rindex("[")]}
        return [_jsonable(inner, v) for v in value]
    if kind.startswith("tuple"):
        return {c["name"]: _jsonable(c, v) for c, v in zip(item["components"], value)}
    if kind == "address":
        return checksum(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
