"""A client that leaves /events/stream mid-stream, against a real `gpuhours serve`: its stream ends
quietly (no traceback, no "Exception in ASGI application"), and the process's one reader of new events
keeps serving the streams still open and those opened after."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from tests.backend.api.test_stream import HEARTBEAT, sse
from tests.backend.serve_process import serve_process


def first_event(lines: Iterator[str]) -> Any:
    return next(message for message in sse(lines) if message != HEARTBEAT)


def until(messages: Iterator[Any], name: str, deadline: float = 30.0) -> Any:
    """The first event called `name` (heartbeats and other events skipped)."""
    end = time.monotonic() + deadline
    for message in messages:
        assert time.monotonic() < end, f"no {name} within {deadline} s"
        if message != HEARTBEAT and message[1] == name:
            return message
    raise AssertionError("the stream ended")


def test_a_client_leaving_mid_stream_ends_it_quietly(chain, deployments_dir, market, accounts, tmp_path):
    with serve_process(chain.url, deployments_dir, tmp_path / "store.db", "--tasks", "inprocess") as server:
        url = server.printed_url()
        server.wait_ready(url)
        head, deadline = market.w3.eth.block_number, time.monotonic() + 60
        while httpx.get(f"{url}/ready", timeout=30).json()["checks"].get("indexed") != head:
            assert time.monotonic() < deadline, server.output
            time.sleep(0.1)
        timeout = httpx.Timeout(30, read=60)
        with httpx.Client(base_url=url, timeout=timeout) as staying:
            # A stream that stays: live from the newest event on.
            with staying.stream("GET", "/events/stream") as kept:
                assert kept.status_code == 200
                kept_messages = sse(kept.iter_lines())
                # Clients that leave after the first event of the chain's whole history: the server is still
                # sending them the rest.
                for _ in range(10):
                    leaving = httpx.Client(base_url=url, timeout=timeout)
                    response = leaving.send(
                        leaving.build_request("GET", "/events/stream", params={"since": 0}), stream=True
                    )
                    assert response.status_code == 200
                    first_event(response.iter_lines())
                    leaving.close()  # the connection dropped, the response unread
                # A new event reaches the stream that stayed, and one opened after the others left.
                node = market.register_node(accounts[2], "L40S-48GB", 2, 48, "us-east", "PCIe", ["GPU-q1"])
                _, _, got = until(kept_messages, "GpuHours.NodeRegistered")
                assert got["args"]["nodeId"] == node
            with staying.stream(
                "GET", "/events/stream", params={"since": 0, "event": "NodeRegistered"}
            ) as new:
                assert new.status_code == 200
                seen = []
                for message in sse(new.iter_lines()):
                    if message != HEARTBEAT:
                        seen.append(message[2]["args"]["nodeId"])
                        if seen[-1] == node:
                            break
        time.sleep(1.0)  # what the server logs of the streams that went
        server.interrupt()
    output = server.output
    assert "Traceback" not in output and "BrokenResourceError" not in output, output
    assert "Exception in ASGI application" not in output, output
    assert "socket.send() raised exception" not in output, output  # nothing written to a closed socket
