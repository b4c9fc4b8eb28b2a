"""The values requests carry, typed once: bounded integers, addresses and hashes.

Each states in the OpenAPI document exactly what the server enforces, so a client (or a fuzzer) that
follows the document is never refused, and one that does not gets a 422 instead of a 500:

- integers in JSON bodies are JSON integers (`false` is not 0, `"5"` is not 5) and bounded by the
  Solidity type they end up in; ids in paths and queries are bounded by the store's BIGINT (ids
  are issued in sequence, so no real one comes near it);
- an address is `0x` and 40 hex digits, with a valid EIP-55 checksum when mixed case (format
  `ethereum-address`, since a pattern cannot say that); it comes back checksummed;
- a page size is at most the server's `api_page_max`, written into the document by the app
  (PAGE_MAX, main.py), since it is a setting.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from eth_utils import is_address, to_checksum_address
from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field

INT64_MAX = 2**63 - 1  # the store's BIGINT
UINT256_MAX = 2**256 - 1

#: The upper bounds above 2^53 declared here: FastAPI's OpenAPI model reads bounds as floats, and the
#: app puts these back exactly (main.py), since a float of 2^256 - 1 is above 2^256 - 1.
EXACT_BOUNDS = (INT64_MAX, 2**128 - 1, UINT256_MAX)


def json_integer(value: Any) -> Any:
    """A JSON integer as JSON Schema reads one: a number with no fraction (12 or 12.0), never a
    boolean or a string (pydantic's lax int takes both, so `false` would be 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        # ValueError: pydantic reports it as a validation error (422); a TypeError it does not.
        raise ValueError("must be an integer (a JSON number, not a boolean or a string)")
    return value  # pydantic's int then refuses a fraction


# JSON integers that fit the Solidity type they go to. The bounds come before the validator, or
# pydantic leaves them out of the JSON schema.
_JSON_INT = BeforeValidator(json_integer)
Uint8 = Annotated[int, Ge(0), Le(2**8 - 1), _JSON_INT]
Uint16 = Annotated[int, Ge(0), Le(2**16 - 1), _JSON_INT]
Uint40 = Annotated[int, Ge(0), Le(2**40 - 1), _JSON_INT]
Uint256 = Annotated[int, Ge(0), Le(UINT256_MAX), _JSON_INT]
#: A GPU-hour amount the Exchange takes: uint128, at least one.
Amount = Annotated[int, Ge(1), Le(2**128 - 1), _JSON_INT]
#: An id the store holds (a capacity, a node): from 1, within its BIGINT.
StoreId = Annotated[int, Ge(1), Le(INT64_MAX), _JSON_INT]
#: An id that goes to a contract as uint256 (bookings, capacities): from 1.
Id256 = Annotated[int, Ge(1), Le(UINT256_MAX), _JSON_INT]

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
ADDRESS_FORMAT = "ethereum-address"
ADDRESS_SCHEMA = {
    "pattern": ADDRESS_PATTERN,
    "format": ADDRESS_FORMAT,
    "description": "0x and 40 hex digits; mixed case must carry a valid EIP-55 checksum",
}
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"


def _address(value: str) -> str:
    if not is_address(value):
        raise ValueError(f"{value!r} is not an address (0x and 40 hex digits, EIP-55 checksum if mixed case)")
    return to_checksum_address(value)


#: An address in a JSON body, returned checksummed; _address checks the pattern too, naming the field.
Address = Annotated[
    str,
    Field(
        json_schema_extra={"pattern": ADDRESS_PATTERN, "format": ADDRESS_FORMAT},
        examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
    ),
    AfterValidator(_address),
]
Hash = Annotated[str, Field(pattern=HASH_PATTERN)]

#: An address in a query or a path, checked by reads.checked_address (a 422 `invalid_address`).
AddressQuery = Annotated[str | None, Query(json_schema_extra=ADDRESS_SCHEMA)]
AddressPath = Annotated[
    str, Path(json_schema_extra=ADDRESS_SCHEMA, examples=["0x90F79bf6EB2c4f870365E785982E1f101E93b906"])
]

#: An id in a path (capacities, nodes): issued from 1, held in a BIGINT.
IdPath = Annotated[int, Path(ge=1, le=INT64_MAX)]
#: An id or a time in a query, held in a BIGINT.
BigIntQuery = Annotated[int | None, Query(ge=0, le=INT64_MAX)]

#: Marks a page size; the app states the server's api_page_max as its maximum (main.py).
PAGE_MAX = "x-page-max"
Limit = Annotated[
    int | None,
    Query(
        ge=1, description="default 50; at most the server's page maximum", json_schema_extra={PAGE_MAX: True}
    ),
]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]
