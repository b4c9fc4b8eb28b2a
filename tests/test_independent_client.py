"""A client with none of this project's code: Foundry's `cast` for keys and transactions, HTTP for the
rest. A provider signs in (EIP-4361 signed by `cast wallet sign`), signs an order as EIP-712 typed data
written by hand (`cast wallet sign --data`) and posts it; a renter approves, fills and activates with
transactions the API built, each sent by `cast send`. The provider's node and capacity are set up on
chain beforehand (that side is not the client under test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from backend.chain.protocol import HOUR
from tests.backend.serve_process import serve_process
from tests.conftest import USDC, now

PRICE = 2_200_000  # $2.20 per GPU-hour, in the stablecoin's 6-decimal units (GET /market says so)
NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"


def cast_binary() -> str:
    found = sorted(NODE_MODULES.glob("@foundry-rs/cast-*/bin/cast")) or [shutil.which("cast")]
    assert found[0], "cast not found: run `npm ci`"
    return str(found[0])


def cast(*args: str) -> str:
    done = subprocess.run([cast_binary(), *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"cast {' '.join(args[:3])}: {done.stderr}"
    return done.stdout.strip()


def send(rpc: str, key: str, tx: dict[str, Any]) -> dict[str, Any]:
    """The API's unsigned transaction, signed and sent by cast; its receipt."""
    receipt = cast(
        "send",
        "--rpc-url",
        rpc,
        "--private-key",
        key,
        "--gas-limit",
        str(tx["gas"]),
        "--json",
        tx["to"],
        tx["data"],
    )
    return json.loads(receipt)


def test_sign_in_sign_post_fill_and_activate_with_cast_and_http(
    market, chain, deployments_dir, accounts, tmp_path
):
    provider, renter = accounts[1], accounts[3]
    market.faucet(provider, 1_000 * USDC)
    market.approve(provider, market.escrow.address)
    node = market.register_node(provider, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-independent"])
    start = now(market) - now(market) % HOUR + HOUR
    capacity = market.create_capacity(
        provider, node, start, start + 4 * HOUR, 1_000_000, market.min_bond_per_unit() * 16
    )
    market.faucet(renter, 100 * USDC)
    p_key, r_key = "0x" + provider.key.hex(), "0x" + renter.key.hex()

    with serve_process(chain.url, deployments_dir, tmp_path / "store.db", "--tasks", "inprocess") as server:
        api = httpx.Client(base_url=server.printed_url(), timeout=30)
        info = api.get("/market").json()
        assert info["stablecoin"]["decimals"] == 6

        # Sign in: the API writes the EIP-4361 text for the address; cast signs it (personal_sign).
        nonce = api.post("/auth/nonce", json={"address": provider.address}).json()
        signature = cast("wallet", "sign", "--private-key", p_key, nonce["message"])
        session = api.post("/auth/verify", json={"message": nonce["message"], "signature": signature})
        assert session.status_code == 200, session.text
        token = session.json()["token"]

        # The order as EIP-712 typed data, written from the documented domain and fields.
        order = {
            "maker": provider.address,
            "kind": 0,  # a primary sell
            "capacityId": capacity,
            "amount": 4,
            "price": PRICE,
            "expiry": now(market) + 2 * HOUR,
            "salt": 20261204,
            "counter": 0,
        }
        typed = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Order": [
                    {"name": "maker", "type": "address"},
                    {"name": "kind", "type": "uint8"},
                    {"name": "capacityId", "type": "uint256"},
                    {"name": "amount", "type": "uint256"},
                    {"name": "price", "type": "uint256"},
                    {"name": "expiry", "type": "uint256"},
                    {"name": "salt", "type": "uint256"},
                    {"name": "counter", "type": "uint256"},
                ],
            },
            "primaryType": "Order",
            "domain": {
                "name": "gpuhours Exchange",
                "version": "1",
                "chainId": info["chain_id"],
                "verifyingContract": info["contracts"]["Exchange"],
            },
            "message": order,
        }
        typed_file = tmp_path / "order.json"
        typed_file.write_text(json.dumps(typed))
        order_signature = cast(
            "wallet", "sign", "--private-key", p_key, "--data", "--from-file", str(typed_file)
        )
        posted = api.post(
            "/orders",
            json={**order, "signature": order_signature},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert posted.status_code == 201, posted.text
        order_hash = posted.json()["hash"]
        on_chain = cast(
            "call",
            "--rpc-url",
            chain.url,
            info["contracts"]["Exchange"],
            "hashOrder((address,uint8,uint256,uint256,uint256,uint256,uint256,uint256))(bytes32)",
            f"({provider.address},0,{capacity},4,{PRICE},{order['expiry']},{order['salt']},0)",
        )
        assert on_chain == order_hash  # the API's hash is the Exchange's

        # The renter: approve, fill, activate, each a transaction the API built, sent by cast.
        cost = 4 * PRICE
        approve = api.post(
            "/tx/approve", json={"owner": renter.address, "spender": "exchange", "amount": cost}
        )
        assert send(chain.url, r_key, approve.json())["status"] == "0x1"
        fill = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 4})
        assert fill.status_code == 200, fill.text
        assert send(chain.url, r_key, fill.json())["status"] == "0x1"
        activate = api.post(
            "/tx/activate",
            json={"holder": renter.address, "capacity_id": capacity, "start": start, "hours": 2, "gpus": 2},
        )
        assert activate.status_code == 200, activate.text
        assert send(chain.url, r_key, activate.json())["status"] == "0x1"

        # The index follows: the order filled, the renter's booking listed.
        deadline = time.monotonic() + 60
        while True:
            state = api.get(f"/orders/{order_hash}").json()["state"]
            bookings = api.get(f"/accounts/{renter.address}/bookings").json()["items"]
            if state == "filled" and bookings:
                break
            assert time.monotonic() < deadline, (state, bookings, server.output)
            time.sleep(0.1)
        assert [(b["capacity_id"], b["hours"], b["gpus"]) for b in bookings] == [(capacity, 2, 2)]
