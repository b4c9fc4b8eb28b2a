"""`gpuhours serve` under many concurrent clients: no request waits on a database connection another
request holds while it waits for a thread (the deadlock that stopped the API at 64 connections), and
the in-process indexer keeps following the chain meanwhile."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.backend.conftest import index_all, store_url
from tests.backend.serve_process import serve_process

CLIENTS = 64
REQUESTS_EACH = 6


def _paths() -> list[str]:
    """Reads that each run SQL: distinct queries, so the response cache answers none of them."""
    return [
        *(f"/capacities?limit={n}" for n in range(1, 41)),
        *(f"/nodes?limit={n}" for n in range(1, 11)),
        "/prices",
        "/orders",
    ]


def test_64_clients_are_all_answered_while_the_indexer_follows_the_chain(
    market, make_store, chain, deployments_dir, accounts, tmp_path
):
    engine = make_store()
    index_all(engine, chain, deployments_dir)
    paths = _paths()
    with serve_process(
        chain.url,
        deployments_dir,
        tmp_path / "unused.db",
        db_url=store_url(engine),
        indexer_poll_interval="0.05",
    ) as server:
        url = server.printed_url()
        server.wait_ready(url)

        def client(n: int) -> list[int | str]:
            answers: list[int | str] = []
            with httpx.Client(base_url=url, timeout=20) as http:
                for i in range(REQUESTS_EACH):
                    try:
                        answers.append(http.get(paths[(n * REQUESTS_EACH + i) % len(paths)]).status_code)
                    except httpx.TransportError as exc:
                        answers.append(exc.__class__.__name__)
            return answers

        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            load = pool.map(client, range(CLIENTS))
            market.faucet(accounts[3], 1)  # a block while the load runs
            head = market.w3.eth.block_number
            answers = [a for each in load for a in each]
        took = time.monotonic() - started
        indexed = httpx.get(f"{url}/ready", timeout=10).json()["checks"].get("indexed")
    failed = [a for a in answers if a != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed in {took:.1f} s: {failed[:10]}"
    assert indexed == head
