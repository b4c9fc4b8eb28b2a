"""Sign-In with Ethereum over HTTP: nonces are single-use, messages are checked field by field, and
contract wallets sign in through ERC-1271."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from backend.api.siwe_verify import SiweMessage
from backend.chain.client import Market
from backend.chain.deployments import REPO_ROOT
from tests.backend.api.conftest import API_DOMAIN
from tests.backend.serve_process import serve_process

WALLET_SOURCE = "test/utils/ERC1271Wallet.sol"


def siwe_text(
    address: str,
    nonce: str,
    *,
    domain: str = API_DOMAIN,
    chain_id: int = 31337,
    uri: str = f"https://{API_DOMAIN}",
    expires: float | None = None,
) -> str:
    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    fields: dict[str, Any] = {
        "domain": domain,
        "address": address,
        "uri": uri,
        "version": "1",
        "chain_id": chain_id,
        "nonce": nonce,
        "issued_at": iso(time.time()),
        "statement": "Sign in to the gpuhours market.",
    }
    if expires is not None:
        fields["expiration_time"] = iso(expires)
    return SiweMessage(**fields).prepare_message()


def personal_sign(account: LocalAccount, text: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def new_nonce(api: httpx.Client) -> str:
    response = api.post("/auth/nonce")
    assert response.status_code == 200, response.text
    return response.json()["nonce"]


def sign_in(api: httpx.Client, account: LocalAccount, address: str | None = None) -> str:
    """A bearer token for `address` (the account's own by default), the message signed by `account`."""
    text = siwe_text(address or account.address, new_nonce(api))
    response = api.post("/auth/verify", json={"message": text, "signature": personal_sign(account, text)})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture(scope="session")
def wallet_artifact() -> dict[str, Any]:
    """ABI and bytecode of the test ERC-1271 wallet, compiled with the repository's pinned solc."""
    contracts = REPO_ROOT / "contracts"
    job = {
        "language": "Solidity",
        "sources": {WALLET_SOURCE: {"content": (contracts / WALLET_SOURCE).read_text()}},
        "settings": {
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": "cancun",
            "remappings": ["@openzeppelin/contracts/=lib/openzeppelin-contracts/"],
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    result = subprocess.run(
        [str(contracts / "bin" / "solc-v0.8.30"), "--standard-json", "--base-path", "."],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=contracts,
        check=True,
    )
    out = json.loads(result.stdout)
    problems = [e["formattedMessage"] for e in out.get("errors", []) if e["severity"] == "error"]
    assert not problems, problems
    contract = out["contracts"][WALLET_SOURCE]["ERC1271Wallet"]
    return {"abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}


def deploy_wallet(market: Market, artifact: dict[str, Any], deployer: LocalAccount, signer: str) -> str:
    """A contract wallet whose signatures are `signer`'s (ERC-1271)."""
    factory = market.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = market.send(deployer, factory.constructor(signer))
    return receipt["contractAddress"]


def test_sign_in_me_and_logout(serve, accounts):
    api = serve()
    provider = accounts[1]
    issued = api.post("/auth/nonce", json={"address": provider.address}).json()
    assert issued["domain"] == API_DOMAIN and issued["chain_id"] == 31337
    assert len(issued["nonce"]) >= 8 and issued["nonce"].isalnum()
    assert issued["expires_at"] > time.time()
    # The message the server prepares names this server, chain and nonce.
    assert f"Nonce: {issued['nonce']}" in issued["message"] and issued["message"].startswith(API_DOMAIN)

    signature = personal_sign(provider, issued["message"])
    session = api.post("/auth/verify", json={"message": issued["message"], "signature": signature})
    assert session.status_code == 200, session.text
    body = session.json()
    assert body["address"] == provider.address and body["chain_id"] == 31337
    assert body["expires_at"] > time.time() + 3600

    me = api.get("/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json() == {"address": provider.address, "chain_id": 31337}
    assert error(api.get("/auth/me")) == (401, "unauthorized")
    assert error(api.get("/auth/me", headers=bearer("not-a-token"))) == (401, "unauthorized")

    assert api.post("/auth/logout", headers=bearer(body["token"])).status_code == 204
    assert error(api.get("/auth/me", headers=bearer(body["token"]))) == (401, "unauthorized")


def test_a_nonce_signs_in_once(serve, accounts):
    api = serve()
    nonce = new_nonce(api)
    text = siwe_text(accounts[1].address, nonce)
    signed = {"message": text, "signature": personal_sign(accounts[1], text)}
    assert api.post("/auth/verify", json=signed).status_code == 200
    replay = api.post("/auth/verify", json=signed)
    assert error(replay) == (401, "nonce_used")
    assert nonce in replay.json()["error"]["reason"]
    # Another account's message with the same nonce is refused just the same.
    other = siwe_text(accounts[2].address, nonce)
    signed = {"message": other, "signature": personal_sign(accounts[2], other)}
    assert error(api.post("/auth/verify", json=signed)) == (401, "nonce_used")


def test_racing_sign_ins_with_one_nonce_get_one_token(serve, accounts):
    api = serve()
    nonce = new_nonce(api)
    bodies = []
    for account in accounts[1:6]:
        text = siwe_text(account.address, nonce)
        bodies.append({"message": text, "signature": personal_sign(account, text)})
    with ThreadPoolExecutor(len(bodies)) as pool:
        url = f"{api.base_url}/auth/verify"
        responses = list(pool.map(lambda b: httpx.post(url, json=b, timeout=30), bodies))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 401, 401, 401, 401], [r.text for r in responses]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 401} == {"nonce_used"}


def test_messages_for_another_server_chain_or_nonce_are_refused(serve, accounts):
    api = serve()
    signer = accounts[1]

    def verify(text: str, account: LocalAccount = signer) -> tuple[int, str]:
        signed = {"message": text, "signature": personal_sign(account, text)}
        return error(api.post("/auth/verify", json=signed))

    assert verify(siwe_text(signer.address, new_nonce(api), domain="evil.example")) == (401, "wrong_domain")
    assert verify(siwe_text(signer.address, new_nonce(api), chain_id=1)) == (401, "wrong_chain")
    assert verify(siwe_text(signer.address, "neverissued0001")) == (401, "nonce_unknown")
    # Signed by another key than the address in the message.
    assert verify(siwe_text(signer.address, new_nonce(api)), accounts[2]) == (401, "bad_signature")
    expired = siwe_text(signer.address, new_nonce(api), expires=time.time() - 5)
    assert verify(expired) == (401, "message_expired")
    malformed = api.post("/auth/verify", json={"message": "sign me in please", "signature": "0x" + "11" * 65})
    assert error(malformed) == (400, "malformed_message")
    assert error(api.post("/auth/verify", json={"message": "x"})) == (422, "invalid_request")
    # A refused attempt does not use the nonce up: the real signer still signs in with it.
    nonce = new_nonce(api)
    assert verify(siwe_text(signer.address, nonce), accounts[3]) == (401, "bad_signature")
    text = siwe_text(signer.address, nonce)
    signed = {"message": text, "signature": personal_sign(signer, text)}
    assert api.post("/auth/verify", json=signed).status_code == 200


def test_an_expired_nonce_is_refused(serve, accounts):
    api = serve(api_nonce_ttl=0.5)
    nonce = new_nonce(api)
    time.sleep(0.8)
    text = siwe_text(accounts[1].address, nonce)
    response = api.post("/auth/verify", json={"message": text, "signature": personal_sign(accounts[1], text)})
    assert error(response) == (401, "nonce_expired")


def test_a_contract_wallet_signs_in_through_erc1271(serve, market, accounts, wallet_artifact):
    api = serve()
    owner = accounts[1]
    wallet = deploy_wallet(market, wallet_artifact, accounts[0], owner.address)
    text = siwe_text(wallet, new_nonce(api))
    session = api.post("/auth/verify", json={"message": text, "signature": personal_sign(owner, text)})
    assert session.status_code == 200, session.text
    assert session.json()["address"] == wallet
    assert api.get("/auth/me", headers=bearer(session.json()["token"])).json()["address"] == wallet
    # The wallet refuses a key that is not its owner's.
    text = siwe_text(wallet, new_nonce(api))
    stranger = Account.create()
    signed = {"message": text, "signature": personal_sign(stranger, text)}
    assert error(api.post("/auth/verify", json=signed)) == (401, "bad_signature")


def test_sign_in_at_the_address_the_server_prints(chain, deployments_dir, accounts, tmp_path):
    """`gpuhours serve` with no GPUHOURS_API_DOMAIN: a wallet at the printed address signs in, and so does
    one that reached it as localhost on the same port; another port is another site."""
    signer = accounts[3]
    with serve_process(chain.url, deployments_dir, tmp_path / "store.db", "--tasks", "off") as server:
        url = server.printed_url()
        server.wait_ready(url)
        port = int(url.rsplit(":", 1)[1])
        with httpx.Client(base_url=url, timeout=30) as api:
            offered = api.post("/auth/nonce", json={"address": signer.address}).json()
            assert offered["domain"] == url.removeprefix("http://") == f"127.0.0.1:{port}"
            assert offered["uri"] == url
            text = offered["message"]
            verified = api.post(
                "/auth/verify", json={"message": text, "signature": personal_sign(signer, text)}
            )
            assert verified.status_code == 200, verified.text

            def verify(domain: str) -> httpx.Response:
                text = siwe_text(signer.address, new_nonce(api), domain=domain, uri=f"http://{domain}")
                return api.post(
                    "/auth/verify", json={"message": text, "signature": personal_sign(signer, text)}
                )

            assert verify(f"localhost:{port}").status_code == 200
            assert error(verify("localhost:8000" if port != 8000 else "localhost:8001")) == (
                401,
                "wrong_domain",
            )
        with httpx.Client(base_url=f"http://localhost:{port}", timeout=30) as api:
            assert api.post("/auth/nonce").json()["domain"] == f"localhost:{port}"
    assert f"Sign-In with Ethereum for 127.0.0.1:{port}, localhost:{port}" in server.output
