"""What the market refuses, by kind: each error has a stable machine-readable `code` and a `reason`
that names the values that made it fail. The API answers each kind with its own HTTP status."""

from __future__ import annotations


class MarketError(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class OrderRejected(MarketError):
    """The order is not fillable as posted: signature, domain, expiry, counter, price, capacity,
    the maker's hours or money."""


class OrderConflict(MarketError):
    """The order is already on this book, or already cancelled or filled on chain."""


class OrderNotFound(MarketError):
    """No such order on this chain."""


class NotMaker(MarketError):
    """Only the order's maker may do this."""
