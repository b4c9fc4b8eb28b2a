"""How a user command fails: a sentence, details for --json, and an exit code that says what kind."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from backend.chain.errors import ContractRevert


class ExitCode(IntEnum):
    """The exit status of a user command that failed; 0 when it did what it said."""

    FAILED = 1
    """refused for another reason: the API's refusals without a code of their own"""
    USAGE = 2
    """a bad option or argument (also typer's own usage errors)"""
    WRONG_NETWORK = 3
    """the RPC or the API is on another chain than expected, no deployment there, dev keys off a dev chain"""
    INSUFFICIENT = 4
    """not enough stablecoin, allowance, or GPU-hours for what was asked"""
    EXPIRED = 5
    """an order's expiry is past, or too soon for the book"""
    REVERTED = 6
    """a contract would revert: its custom error, by name with its numbers"""
    UNREACHABLE = 7
    """the RPC or the API does not answer"""
    NOT_FOUND = 8
    """no such capacity, node or order"""
    INTERRUPTED = 130
    """Ctrl-C, as shells report SIGINT"""


class CliError(Exception):
    """A failure told to the user as `message`, with an exit code and details for --json."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED, **details: Any):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


#: Custom errors that mean something a user can act on, by the exit code they get; the rest: REVERTED.
REVERT_CODES: dict[str, ExitCode] = {
    "ERC20InsufficientBalance": ExitCode.INSUFFICIENT,
    "ERC20InsufficientAllowance": ExitCode.INSUFFICIENT,
    "ERC1155InsufficientBalance": ExitCode.INSUFFICIENT,
    "OrderExpired": ExitCode.EXPIRED,
    "UnknownCapacity": ExitCode.NOT_FOUND,
    "UnknownNode": ExitCode.NOT_FOUND,
}


def from_revert(exc: ContractRevert) -> CliError:
    fields = {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in exc.fields.items()}
    return CliError(
        f"the contract refused: {exc}",
        REVERT_CODES.get(exc.name, ExitCode.REVERTED),
        error=exc.name,
        **fields,
    )


#: The API's error codes that mean something a user can act on, by exit code; the rest: FAILED.
API_CODES: dict[str, ExitCode] = {
    "wrong_chain": ExitCode.WRONG_NETWORK,
    "wrong_verifying_contract": ExitCode.WRONG_NETWORK,
    "order_expired": ExitCode.EXPIRED,
    "expiry_too_soon": ExitCode.EXPIRED,
    "insufficient_funds": ExitCode.INSUFFICIENT,
    "insufficient_hours": ExitCode.INSUFFICIENT,
    "unknown_capacity": ExitCode.NOT_FOUND,
    "unknown_order": ExitCode.NOT_FOUND,
    "not_found": ExitCode.NOT_FOUND,
    "would_revert": ExitCode.REVERTED,
}
