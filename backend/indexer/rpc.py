"""A small JSON-RPC client for the indexer: plain JSON over HTTP, retries with backoff, errors sorted.

web3.py's provider is made for transactions; the indexer needs to know exactly why a request failed:
a node that is busy (timeouts, HTTP 429 and 5xx, "rate limit" errors) is asked again after a growing
pause, a node that refuses an `eth_getLogs` range says so with `RangeTooLarge` (and the range it would
accept, when its message carries one), and anything else is an `RpcError` at once.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec
import requests

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error that asking again will not fix."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None):
        self.method, self.code, self.rpc_message, self.data = method, code, message, data
        super().__init__(f"{method}: {message}" + (f" (code {code})" if code is not None else ""))


class RangeTooLarge(RpcError):
    """eth_getLogs refused the block range (too many results, or a range limit).

    `span` is the number of blocks the node says it accepts, when it says; `hard_limit` is true when
    that is a fixed block-range limit rather than a result-count limit for these particular blocks."""

    def __init__(self, method: str, code: int | None, message: str, span: int | None, hard_limit: bool):
        super().__init__(method, code, message)
        self.span, self.hard_limit = span, hard_limit


class RpcUnavailable(RuntimeError):
    """The node did not answer usefully within the retries."""


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


# Messages of eth_getLogs range refusals, as geth, Erigon, Infura, Alchemy, QuickNode, Ankr,
# BlockPI, Chainstack and others word them.
_RANGE_PATTERNS = re.compile(
    r"query returned more than|log response size exceeded|response size|too many (?:results|logs|blocks)"
    r"|more than \d[\d,]* (?:results|logs)|results? exceed"
    r"|exceeds? (?:the )?(?:max(?:imum)? )?(?:block )?range"
    r"|block range|range (?:limit|too large|is too)|max(?:imum)? (?:block )?range|requested too many blocks"
    r"|logs matched by query exceeds|limited to (?:a )?\d[\d,]*|range of blocks",
    re.IGNORECASE,
)
_RATE_PATTERNS = re.compile(
    r"rate limit|too many requests|request limit|exceeded .*capacity|compute units|throughput|try again later"
    r"|header not found|unknown block|service unavailable|timeout|timed out",
    re.IGNORECASE,
)
# "this block range should work: [0x0, 0x3e7]", "Try with this block range [0x1, 0x2]".
_SUGGESTED = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")
# "exceed maximum block range: 5000", "max: 10000", "maximum is set to 2048", "limited to a 10,000 range",
# "up to a 2K block range".
_LIMIT = re.compile(
    r"(?:max(?:imum)?(?: block)?(?: range)?(?: is(?: set to)?| of)?\s*[:=]?\s*"
    r"|limited to (?:a )?|up to (?:a )?|range limit(?: of)?\s*[:=]?\s*)"
    r"(\d[\d,]*)\s*([kK])?(?=\s*(?:block|range|$|[^\w]))",
)


def classify_error(method: str, code: int | None, message: str, data: Any = None) -> Exception:
    """The exception a JSON-RPC error object means (RangeTooLarge, _Transient or RpcError)."""
    text = f"{message} {data if isinstance(data, str) else ''}"
    if method == "eth_getLogs" and _RANGE_PATTERNS.search(text):
        span, hard = _suggested_span(text)
        return RangeTooLarge(method, code, message, span, hard)
    if code in (429, -32005, -32029, -32090) or _RATE_PATTERNS.search(text):
        return _Transient(f"{method}: {message}")
    return RpcError(method, code, message, data)


def _suggested_span(text: str) -> tuple[int | None, bool]:
    match = _SUGGESTED.search(text)
    if match:
        lo, hi = int(match.group(1), 16), int(match.group(2), 16)
        if hi >= lo:
            return hi - lo + 1, False
    if re.search(r"\b(?:results|logs)\b|response size", text, re.IGNORECASE) and not re.search(
        r"block range|range limit|max(?:imum)? (?:block )?range", text, re.IGNORECASE
    ):
        return None, False  # a count of results, not of blocks
    match = _LIMIT.search(text)
    if match:
        value = int(match.group(1).replace(",", "")) * (1000 if match.group(2) else 1)
        if value > 0:
            return value, True
    return None, False


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


@dataclass
class RpcStats:
    requests: int = 0
    retries: int = 0


class Rpc:
    """JSON-RPC over HTTP with retries: `retries` more attempts after the first, waiting `backoff`
    seconds doubled each time (with jitter, at most `max_backoff`, or what Retry-After asks).

    Once `stop` is set, a wait between retries ends at once and the request gives up (RpcUnavailable),
    so a process shutting down does not sit out the backoff of a node that is gone."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 20.0,
        retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
    ):
        self.url = url
        self.stop = stop
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.sleep = sleep
        self.stats = RpcStats()
        self._session = requests.Session()
        self._id = 0

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ transport

    def call(self, method: str, params: Sequence[Any]) -> Any:
        return self._with_retries(method, lambda: self._once(method, params))

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request; results in the order of `calls`."""
        if not calls:
            return []
        name = calls[0][0] if len({m for m, _ in calls}) == 1 else "batch"
        return self._with_retries(name, lambda: self._batch_once(calls))

    def _with_retries(self, method: str, attempt: Callable[[], Any]) -> Any:
        delay = self.backoff
        for n in range(self.retries + 1):
            if self.stop is not None and self.stop.is_set():
                raise RpcUnavailable(f"{method} to {self.url} not sent: stopping")
            try:
                return attempt()
            except _Transient as exc:
                if n == self.retries:
                    raise RpcUnavailable(
                        f"{self.url} did not answer {method} after {self.retries + 1} attempts: {exc.reason}"
                    ) from None
                wait = exc.retry_after if exc.retry_after is not None else delay * (0.5 + random.random())  # noqa: S311 — jitter
                wait = min(wait, self.max_backoff)
                log.warning(
                    "%s failed (%s); retry %d/%d in %.2f s", method, exc.reason, n + 1, self.retries, wait
                )
                self.stats.retries += 1
                self._pause(wait)
                delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def _pause(self, seconds: float) -> None:
        if self.stop is None:
            self.sleep(seconds)
        else:
            self.stop.wait(seconds)  # the next attempt sees the stop and gives up

    def _post(self, payload: Any) -> Any:
        self.stats.requests += 1
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout)
        except requests.Timeout:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise _Transient(f"connection failed: {exc.__class__.__name__}") from None
        if response.status_code in RETRY_STATUS:
            raise _Transient(f"HTTP {response.status_code}", _retry_after(response))
        try:
            # msgspec parses the large eth_getLogs answers faster than the json module.
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            if response.status_code >= 400:
                raise RpcError(
                    "http", response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
                ) from None
            raise _Transient(f"HTTP {response.status_code} with a body that is not JSON") from None
        return body

    def _next_id(self) -> int:
        self._id += 1
        return self._id

    def _once(self, method: str, params: Sequence[Any]) -> Any:
        body = self._post({"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)})
        if isinstance(body, list):  # some proxies answer a single call as a batch of one
            body = body[0] if body else {}
        return self._result(method, body)

    def _batch_once(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        ids = [self._next_id() for _ in calls]
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        body = self._post(payload)
        if isinstance(body, dict):  # the whole batch refused, e.g. a rate limit
            return [self._result(calls[0][0], body)]
        by_id = {item.get("id"): item for item in body}
        out = []
        for i, (method, _) in zip(ids, calls, strict=True):
            if i not in by_id:
                raise _Transient(f"{method}: the batch answer lacks request {i}")
            out.append(self._result(method, by_id[i]))
        return out

    @staticmethod
    def _result(method: str, body: dict[str, Any]) -> Any:
        error = body.get("error")
        if error is not None:
            if not isinstance(error, dict):
                error = {"message": str(error)}
            raise classify_error(method, error.get("code"), str(error.get("message", "")), error.get("data"))
        if "result" not in body:
            raise _Transient(f"{method}: an answer without result or error")
        return body["result"]

    # ------------------------------------------------------------------ methods

    def chain_id(self) -> int:
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def get_block(self, number: int) -> Header | None:
        raw = self.call("eth_getBlockByNumber", [hex(number), False])
        return Header.from_json(raw) if raw else None

    def get_blocks(self, numbers: Sequence[int], chunk: int = 100) -> dict[int, Header | None]:
        out: dict[int, Header | None] = {}
        numbers = list(numbers)
        for i in range(0, len(numbers), chunk):
            part = numbers[i : i + chunk]
            results = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for n, raw in zip(part, results, strict=True):
                out[n] = Header.from_json(raw) if raw else None
        return out

    def get_logs(self, start: int, end: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        flt = {"fromBlock": hex(start), "toBlock": hex(end), "address": list(addresses)}
        return self.call("eth_getLogs", [flt])


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Header:
        return cls(
            int(raw["number"], 16), raw["hash"].lower(), raw["parentHash"].lower(), int(raw["timestamp"], 16)
        )
