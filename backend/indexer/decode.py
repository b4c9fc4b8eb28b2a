"""Decode logs with the deployment's contract ABIs into events with JSON-ready arguments.

Events whose indexed and data arguments are all single 32-byte words (uintN, intN, address, bool,
bytesN: every event the projections read but TransferBatch) are decoded straight from the hex with
per-event decoders built once; anything else, and any word a decoder finds malformed (non-zero
padding, an out-of-range value), goes through eth-abi, which decodes it or raises as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import msgspec
from eth_abi import decode as abi_decode
from eth_typing import ABIEvent
from eth_utils import event_abi_to_log_topic, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from backend.chain.deployments import POOL_CONTRACT, Deployment
from backend.indexer.fetch import Log

#: EIP-55 checksums cost a keccak each; the same few addresses recur in almost every log.
checksum = lru_cache(maxsize=1 << 16)(to_checksum_address)

#: The contracts the indexer reads. The stablecoin is left out: in production it is someone else's
#: token (USDC) whose transfers are not the market's business.
INDEXED_CONTRACTS = ("GpuHours", "Exchange", "Escrow", "AttestationOracle", "Settlement")

#: (name, address, ABI): several addresses share a name where one contract is deployed several times
#: (the lending pools, each named LendingPool).
Contract = tuple[str, str, list[dict[str, Any]]]


def indexed_contracts(deployment: Deployment, abis: dict[str, list[dict[str, Any]]]) -> list[Contract]:
    """The contracts the indexer reads: the deployment's of INDEXED_CONTRACTS, then its pools."""
    core: list[Contract] = [
        (n, deployment.address(n), abis[n]) for n in INDEXED_CONTRACTS if n in deployment.contracts
    ]
    pools: list[Contract] = [
        (POOL_CONTRACT, a, abis[POOL_CONTRACT]) for a in deployment.pool_addresses().values()
    ]
    return core + pools


class Event(msgspec.Struct, frozen=True):
    log: Log
    contract: str
    name: str
    args: dict[str, Any]


#: Decodes one word, 64 lowercase hex digits, to its JSON value; raises ValueError when malformed.
WordDecoder = Callable[[str], Any]


def word_decoder(kind: str) -> WordDecoder | None:
    """The decoder of a static one-word ABI type, with eth-abi's checks; None for any other type."""
    if kind.startswith("uint") and kind[4:].isdigit():
        bits = int(kind[4:])

        def uint(word: str) -> int:
            value = int(word, 16)
            if value >> bits:
                raise ValueError(f"{kind} out of range")
            return value

        return uint
    if kind.startswith("int") and kind[3:].isdigit():
        half = 1 << (int(kind[3:]) - 1)

        def sint(word: str) -> int:
            value = int(word, 16)
            if value >= 1 << 255:
                value -= 1 << 256
            if not -half <= value < half:
                raise ValueError(f"{kind} out of range")
            return value

        return sint
    if kind == "address":

        def address(word: str) -> str:
            if word[:24] != "0" * 24:
                raise ValueError("address with non-zero padding")
            return checksum("0x" + word[24:])

        return address
    if kind == "bool":

        def boolean(word: str) -> bool:
            value = int(word, 16)
            if value > 1:
                raise ValueError("bool out of range")
            return value == 1

        return boolean
    if kind.startswith("bytes") and kind[5:].isdigit() and 1 <= int(kind[5:]) <= 32:
        width = 2 * int(kind[5:])

        def fixed_bytes(word: str) -> str:
            if word[width:].strip("0"):
                raise ValueError(f"{kind} with non-zero padding")
            return "0x" + word[:width]

        return fixed_bytes
    return None


@dataclass(frozen=True)
class _EventAbi:
    name: str
    indexed: tuple[dict[str, Any], ...]
    data: tuple[dict[str, Any], ...]
    data_types: tuple[str, ...]
    #: (name, decoder) of the indexed arguments, then of the data words; None: decode with eth-abi.
    words: tuple[tuple[tuple[str, WordDecoder], ...], tuple[tuple[str, WordDecoder], ...]] | None


def _word_decoders(inputs: tuple[dict[str, Any], ...]) -> tuple[tuple[str, WordDecoder], ...] | None:
    decoders = []
    for i in inputs:
        decoder = word_decoder(i["type"])
        if decoder is None:
            return None
        decoders.append((i["name"], decoder))
    return tuple(decoders)


class EventDecoder:
    """Maps (address, topic0) to the contract and event ABI, and decodes logs with eth-abi."""

    def __init__(self, contracts: Iterable[Contract]):
        self._names: dict[str, str] = {}
        self._events: dict[tuple[str, str], _EventAbi] = {}
        for name, checksummed, abi in contracts:
            address = checksummed.lower()
            self._names[address] = name
            for entry in abi:
                if entry.get("type") != "event" or entry.get("anonymous"):
                    continue
                topic = "0x" + event_abi_to_log_topic(cast(ABIEvent, entry)).hex()  # checked just above
                inputs = entry["inputs"]
                indexed = tuple(i for i in inputs if i.get("indexed"))
                data = tuple(i for i in inputs if not i.get("indexed"))
                topic_words, data_words = _word_decoders(indexed), _word_decoders(data)
                self._events[(address, topic)] = _EventAbi(
                    entry["name"],
                    indexed,
                    data,
                    tuple(collapse_if_tuple(i) for i in data),
                    (topic_words, data_words) if topic_words is not None and data_words is not None else None,
                )

    @property
    def addresses(self) -> list[str]:
        return sorted(self._names)

    def decode(self, log: Log) -> Event:
        contract = self._names.get(log.address, "unknown")
        spec = self._events.get((log.address, log.topics[0])) if log.topics else None
        if spec is None or len(log.topics) != len(spec.indexed) + 1:
            return Event(log, contract, "unknown", {"topics": list(log.topics), "data": log.data})
        if spec.words is not None:
            try:
                return Event(log, contract, spec.name, _decode_words(spec.words, log))
            except ValueError:
                pass  # malformed: eth-abi below says how
        args: dict[str, Any] = {}
        for item, topic in zip(spec.indexed, log.topics[1:], strict=True):
            kind = item["type"]
            if kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("tuple"):
                args[item["name"]] = topic  # a dynamic indexed value is only its hash
            else:
                (value,) = abi_decode([kind], bytes.fromhex(topic[2:]))
                args[item["name"]] = _jsonable(item, value)
        values = abi_decode(list(spec.data_types), bytes.fromhex(log.data[2:])) if spec.data_types else ()
        for item, value in zip(spec.data, values, strict=True):
            args[item["name"]] = _jsonable(item, value)
        return Event(log, contract, spec.name, args)


def _decode_words(
    words: tuple[tuple[tuple[str, WordDecoder], ...], tuple[tuple[str, WordDecoder], ...]], log: Log
) -> dict[str, Any]:
    topic_words, data_words = words
    data = log.data.lower()
    if len(data) != 2 + 64 * len(data_words):
        raise ValueError("not one word per argument")
    # Plain loops: a million logs make comprehension and generator frames a visible cost.
    args = {}
    for (name, decode), topic in zip(topic_words, log.topics[1:], strict=True):
        if len(topic) != 66:
            raise ValueError("not one word per argument")
        args[name] = decode(topic[2:])
    at = 2
    for name, decode in data_words:
        args[name] = decode(data[at : at + 64])
        at += 64
    return args


def _jsonable(item: dict[str, Any], value: Any) -> Any:
    """An ABI value as JSON: addresses checksummed, bytes as 0x hex, tuples as objects, ints as ints."""
    kind: str = item["type"]
    if kind.endswith("]"):
        inner = {**item, "type": kind[: kind.rindex("[")]}
        return [_jsonable(inner, v) for v in value]
    if kind.startswith("tuple"):
        return {c["name"]: _jsonable(c, v) for c, v in zip(item["components"], value, strict=True)}
    if kind == "address":
        return checksum(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
