"""An unsigned transaction as JSON, for a wallet to sign and send itself."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3.types import TxParams

#: The fields a wallet needs, in the order they are written; fee fields appear as the node priced them.
_FIELDS = (
    "from",
    "to",
    "data",
    "value",
    "gas",
    "chainId",
    "nonce",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "gasPrice",
)


def tx_json(tx: TxParams) -> dict[str, Any]:
    """`tx` (as `Market.build_tx` returns it) with integers as JSON numbers and `data` as 0x hex."""
    out: dict[str, Any] = {}
    for key in _FIELDS:
        if key not in tx:
            continue
        value: Any = tx[key]  # type: ignore[literal-required]
        if key == "data":
            value = HexBytes(value).to_0x_hex()
        elif key in ("from", "to"):
            value = str(value)
        else:
            value = int(value)
        out[key] = value
    out.setdefault("value", 0)
    out.setdefault("data", "0x")
    return out
