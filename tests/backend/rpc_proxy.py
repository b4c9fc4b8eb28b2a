"""A real HTTP JSON-RPC proxy on 127.0.0.1 in front of Anvil that misbehaves like public nodes do:
eth_getLogs range limits (in three providers' wordings), HTTP 429 and 5xx, rate-limit errors, answers
that never come (timeouts) and dropped connections; `intercept` lets a test answer a call itself
(swallow a transaction, act on the chain before passing one on)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import requests

TRANSIENT_FAULTS = ("http429", "http503", "timeout", "rate_limit", "http502_html", "reset")


class FaultyProxy:
    def __init__(
        self,
        upstream: str,
        *,
        max_range: int | None = None,
        fault_every: int = 0,
        faults: tuple[str, ...] = TRANSIENT_FAULTS,
        delay: float = 0.8,
        intercept: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    ):
        self.upstream = upstream
        self.max_range = max_range
        self.fault_every = fault_every
        self.faults = faults
        self.delay = delay
        self.intercept = intercept  # a call -> its JSON-RPC response, or None to pass it on
        self.counts: Counter[str] = Counter()
        self._n = 0
        self._range_n = 0
        self._lock = threading.Lock()
        self._http = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy._handle(self, json.loads(body), body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()

    # ------------------------------------------------------------------ behaviour

    def _next_fault(self) -> str | None:
        with self._lock:
            self._n += 1
            if self.fault_every and self._n % self.fault_every == 0:
                return self.faults[(self._n // self.fault_every - 1) % len(self.faults)]
        return None

    def _range_error(self, call: dict[str, Any]) -> dict[str, Any] | None:
        if self.max_range is None or call.get("method") != "eth_getLogs":
            return None
        flt = call["params"][0]
        lo, hi = int(flt["fromBlock"], 16), int(flt["toBlock"], 16)
        if hi - lo + 1 <= self.max_range:
            return None
        with self._lock:
            self._range_n += 1
            style = self._range_n % 3
        if style == 1:  # Alchemy: says which range would work
            self.counts["range_suggested"] += 1
            message = (
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K "
                "block range and no limit on the response size, or you can request any block range "
                "with a cap of 10K logs in the response. Based on your parameters, this block range "
                "should work: "
                f"[{hex(lo)}, {hex(lo + self.max_range - 1)}]"
            )
            return {"code": -32602, "message": message}
        if style == 2:  # geth / Infura: too many results, no hint
            self.counts["range_results"] += 1
            return {"code": -32005, "message": "query returned more than 10000 results"}
        self.counts["range_limit"] += 1  # a fixed range limit (QuickNode, BSC style): caps growth for good
        return {"code": -32600, "message": f"exceed maximum block range: {self.max_range}"}

    def _handle(self, handler: BaseHTTPRequestHandler, payload: Any, raw: bytes) -> None:
        fault = self._next_fault()
        if fault is not None:
            self.counts[fault] += 1
            if fault == "http429":
                self._send(handler, 429, b"Too Many Requests", "text/plain", {"Retry-After": "0"})
                return
            if fault == "http503":
                self._send(handler, 503, b'{"error": "upstream unavailable"}', "application/json")
                return
            if fault == "http502_html":
                self._send(handler, 502, b"<html><body>Bad Gateway</body></html>", "text/html")
                return
            if fault == "timeout":
                time.sleep(self.delay)  # the client has given up by now
                self._send(handler, 504, b"late", "text/plain")
                return
            if fault == "reset":
                handler.close_connection = True
                return
            if fault == "rate_limit":
                calls = payload if isinstance(payload, list) else [payload]
                errors = [
                    {
                        "jsonrpc": "2.0",
                        "id": c.get("id"),
                        "error": {
                            "code": 429,
                            "message": "Your app has exceeded its compute units per second capacity",
                        },
                    }
                    for c in calls
                ]
                body = errors if isinstance(payload, list) else errors[0]
                self._send(handler, 200, json.dumps(body).encode(), "application/json")
                return
        if isinstance(payload, dict) and self.intercept is not None:
            answer = self.intercept(payload)
            if answer is not None:
                self._send(handler, 200, json.dumps(answer).encode(), "application/json")
                return
        if isinstance(payload, dict):
            error = self._range_error(payload)
            if error is not None:
                body = json.dumps({"jsonrpc": "2.0", "id": payload.get("id"), "error": error}).encode()
                self._send(handler, 200, body, "application/json")
                return
        upstream = self._http.post(
            self.upstream, data=raw, timeout=30, headers={"Content-Type": "application/json"}
        )
        self._send(handler, upstream.status_code, upstream.content, "application/json")

    def upstream_call(self, method: str, params: list[Any], call_id: Any = 1) -> dict[str, Any]:
        """Call the node behind the proxy directly (from an intercept); its JSON-RPC response."""
        body = {"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}
        return requests.post(self.upstream, json=body, timeout=30).json()

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
