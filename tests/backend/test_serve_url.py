"""`gpuhours serve` says where the API is only once it is there: the printed address answers at once."""

from __future__ import annotations

import re
import time

import httpx

from tests.backend.serve_process import serve_process


def test_the_printed_address_answers_when_printed(chain, deployments_dir, tmp_path):
    with (
        httpx.Client(timeout=30) as client,  # made first: nothing between reading the line and the request
        serve_process(chain.url, deployments_dir, tmp_path / "store.db", "--tasks", "off") as server,
    ):
        deadline = time.monotonic() + 60
        while not (printed := re.search(r"API at (http://\S+)", server.output)):
            assert server.proc.poll() is None and time.monotonic() < deadline, server.output
            time.sleep(0.001)
        url = printed.group(1)
        try:
            health = client.get(f"{url}/health")  # once: no waiting for it to come up
        except httpx.ConnectError as exc:
            raise AssertionError(f"{url} was printed before it was served: {exc}\n{server.output}") from None
        assert health.status_code == 200, health.text
        server.interrupt()
    assert len(re.findall(r"\bAPI at http://", server.output)) == 1, server.output
