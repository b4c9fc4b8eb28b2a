"""Custom-error reverts as Python exceptions named after them.

    try:
        market.fill(buyer, signed, 10)
    except errors.InsufficientRemaining as e:
        e.fields["remaining"]

Every custom error in the deployed ABIs (the protocol's and OpenZeppelin's) decodes to a subclass of
ContractRevert with the error's name; `errors.<Name>` gives that class for `except` clauses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_bytes

_classes: dict[str, type[ContractRevert]] = {}


class ContractRevert(Exception):
    """A call or transaction reverted; the class name and `fields` say with which error and arguments."""

    def __init__(self, fields: dict[str, Any]):
        self.name = type(self).__name__
        self.fields = fields
        shown = ", ".join(f"{k}={_show(v)}" for k, v in fields.items())
        super().__init__(f"{self.name}({shown})")


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


def error_class(name: str) -> type[ContractRevert]:
    """The exception class for custom error `name` (one class per name)."""
    if name not in _classes:
        _classes[name] = type(name, (ContractRevert,), {"__module__": __name__})
    return _classes[name]


def __getattr__(name: str) -> type[ContractRevert]:
    if name[:1].isupper():
        return error_class(name)
    raise AttributeError(name)


def _canonical_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


class ErrorDecoder:
    """Decodes revert data against the custom errors of a set of ABIs."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]):
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {
            function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"], ["message"]),
            function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"], ["code"]),
        }
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in item["inputs"]]
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
                self._by_selector[selector] = (item["name"], types, names)

    def decode(self, data: bytes | str | dict[str, str] | None) -> ContractRevert:
        """The custom error in revert `data` (web3's ContractLogicError.data: hex, or a dict for an
        off-chain lookup, which carries no error of ours)."""
        raw = to_bytes(hexstr=data) if isinstance(data, str) else data if isinstance(data, bytes) else b""
        if len(raw) < 4 or raw[:4] not in self._by_selector:
            return error_class("UnknownRevert")({"data": raw})
        name, types, names = self._by_selector[raw[:4]]
        values = decode(types, raw[4:])
        return error_class(name)(dict(zip(names, values, strict=True)))
