"""The provider's and the renter's commands against a real Anvil and a real `gpuhours serve` over HTTP:
a provider lists capacity, renters buy, activate and resell, money is withdrawn; every bad input gets
its sentence and exit code and changes nothing on chain or on the book."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from rich.console import Console
from typer.testing import CliRunner

from backend.chain.client import Market
from backend.chain.deployments import REPO_ROOT
from backend.chain.dev_accounts import dev_account
from backend.chain.orders import OrderKind
from backend.chain.protocol import HOUR
from backend.cli import app
from backend.cli_common import Wallet
from backend.cli_errors import CliError, ExitCode
from backend.config import cached_settings
from backend.demo import post_open_orders
from tests.backend.serve_process import serve_process
from tests.conftest import USDC, now

PROVIDER, RENTER, BUYER, STRANGER = 1, 3, 4, 5


class Cli:
    """`gpuhours ...` in this process (typer's runner), against this module's chain and API."""

    def __init__(self, rpc_url: str, api_url: str, env: dict[str, str]):
        self.rpc_url, self.api_url, self.env = rpc_url, api_url, env
        self.runner = CliRunner()

    def __call__(self, *args: str | int, account: int | None = None, as_json: bool = True) -> Any:
        argv = [str(a) for a in args] + (["--json"] if as_json else [])
        if account is not None:
            argv += ["--dev-account", str(account)]
        result = self.runner.invoke(app, argv, env=self.env, catch_exceptions=False)
        text = result.stdout.strip()
        result.data = json.loads(text.splitlines()[-1]) if as_json and text else None
        return result

    def ok(self, *args: str | int, account: int | None = None) -> dict[str, Any]:
        result = self(*args, account=account)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result.data

    def api(self, path: str, **params: Any) -> Any:
        return httpx.get(f"{self.api_url}{path}", params=params, timeout=10).json()

    def indexed(self, timeout: float = 30) -> None:
        """Wait until the API's indexer has caught up with the chain's head."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(f"{self.api_url}/ready", timeout=5).json()["checks"].get("lag_blocks") == 0:
                return
            time.sleep(0.1)
        raise AssertionError("the indexer did not catch up")


@pytest.fixture(scope="module")
def served(chain, deployments_dir, tmp_path_factory) -> Iterator[tuple[Market, str]]:
    """The session's chain (put back as it was afterwards) served by `gpuhours serve` on SQLite."""
    market = Market.connect(chain.url, deployments_dir)
    snapshot = market.w3.provider.make_request("evm_snapshot", [])["result"]
    tmp = tmp_path_factory.mktemp("cli-users")
    with serve_process(chain.url, deployments_dir, tmp / "store.db", "--tasks", "inprocess") as server:
        url = server.printed_url()
        server.wait_ready(url)
        yield market, url
        server.interrupt()
    market.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def cli(served, chain, deployments_dir, tmp_path, monkeypatch) -> Cli:
    env = {
        "GPUHOURS_RPC_URL": chain.url,
        "GPUHOURS_API_URL": served[1],
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
        "GPUHOURS_CLI_CONFIG": str(tmp_path / "config" / "sessions.json"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cached_settings.cache_clear()
    yield Cli(chain.url, served[1], env)
    cached_settings.cache_clear()


@pytest.fixture
def m(served) -> Market:
    return served[0]


def addr(m: Market, index: int) -> str:
    return dev_account(index, m.chain_id).address


def nonce(m: Market, index: int) -> int:
    return m.w3.eth.get_transaction_count(addr(m, index))


def test_provider_lists_renters_buy_activate_resell_and_money_is_withdrawn(cli, m):
    m.faucet(dev_account(PROVIDER, m.chain_id), 1_000 * USDC)
    m.faucet(dev_account(RENTER, m.chain_id), 100 * USDC)
    m.faucet(dev_account(BUYER, m.chain_id), 100 * USDC)

    signed_in = cli.ok("login", account=PROVIDER)
    config = Path(signed_in["config"])
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())[cli.api_url][addr(m, PROVIDER).lower()]["chain_id"] == 31337

    node = cli.ok(
        "provider", "node", "register", "--gpu-model", "H100-SXM5-80GB", "--gpus", 2, "--vram-gb", 80,
        "--region", "eu-west", "--gpu-uuid", "GPU-cli-0", "--gpu-uuid", "GPU-cli-1", account=PROVIDER,
    )["node_id"]  # fmt: skip
    opened = cli.ok(
        "provider", "capacity", "open", "--node", node, "--hours", 24, "--backing", "2", account=PROVIDER
    )
    capacity = opened["capacity_id"]
    assert m.capacity(capacity)["nodeId"] == node and opened["units"] == 48
    assert opened["bond"] == 48 * m.min_bond_per_unit()
    ask = cli.ok("provider", "sell", capacity, "--hours", 20, "--price", "2.10", account=PROVIDER)
    assert (ask["kind"], ask["price"], ask["price_usd"], ask["state"]) == (
        "primary_sell",
        2_100_000,
        "2.10",
        "open",
    )
    cli.indexed()
    assert [n["node_id"] for n in cli.ok("provider", "node", "list", account=PROVIDER)["items"]] == [node]

    # One ask, no allowance: paid with a permit in the fill itself, no approval transaction.
    renter_nonce = nonce(m, RENTER)
    bought = cli.ok("buy", capacity, "--hours", 10, account=RENTER)
    assert (bought["cost"], bought["held"], len(bought["fills"])) == (21 * USDC, 10, 1)
    assert nonce(m, RENTER) == renter_nonce + 1
    assert m.usdc_balance(addr(m, RENTER)) == 79 * USDC

    booking = cli.ok("activate", capacity, "--hours", 2, "--gpus", 2, account=RENTER)
    assert m.booking(int(booking["booking_id"]))["holder"] == addr(m, RENTER)
    assert m.hours_of(addr(m, RENTER), capacity) == 6
    resale = cli.ok("sell", capacity, "--hours", 4, "--price", "2.50", account=RENTER)
    assert (resale["kind"], resale["amount"]) == ("sell", 4)

    # The buyer takes the cheapest first: the 10 hours left at $2.10, then the resale at $2.50, in one batch.
    cli.indexed()
    book = cli.ok("market", capacity)
    assert [(a["price_usd"], a["remaining"]) for a in book["asks"]] == [("2.10", 10), ("2.50", 4)]
    bought = cli.ok("buy", capacity, "--hours", 14, "--max-price", "2.50", account=BUYER)
    assert bought["cost_usd"] == "31.00" and len(bought["fills"]) == 2
    assert m.hours_of(addr(m, BUYER), capacity) == 14
    fee = 10 * USDC * m.exchange.functions.feeBps().call() // 10_000
    assert m.usdc_balance(addr(m, RENTER)) == 79 * USDC + 10 * USDC - fee  # the resale, less the fee

    bid = cli.ok("bid", capacity, "--hours", 2, "--price", "1.90", account=BUYER)
    assert bid["kind"] == "buy"
    exchange = m.exchange.address
    assert m.usdc.functions.allowance(addr(m, BUYER), exchange).call() == 3_800_000

    cli.indexed()
    mine = cli.ok("portfolio", account=RENTER)
    assert [(p["capacity_id"], p["amount"]) for p in mine["positions"]] == [(capacity, 2)]
    assert [b["booking_id"] for b in mine["bookings"]] == [int(booking["booking_id"])]
    listed = cli.ok("market", "--gpu-model", "H100-SXM5-80GB")
    assert [(c["capacity_id"], c["best_ask"], c["best_bid"]) for c in listed["items"]] == [
        (capacity, None, 1_900_000)
    ]

    # A later window of the same node, sold, then cancelled: the holder claims a refund, the provider
    # withdraws the bond it gets back.
    later = opened["end"]
    second = cli.ok(
        "provider", "capacity", "open", "--node", node, "--hours", 2, "--backing", "1.50", "--start", later,
        account=PROVIDER,
    )["capacity_id"]  # fmt: skip
    cli.ok("provider", "sell", second, "--hours", 3, "--price", "1.50", account=PROVIDER)
    cli.ok("buy", second, "--hours", 3, account=BUYER)  # a permit for the allowance plus the cost
    assert m.usdc.functions.allowance(addr(m, BUYER), exchange).call() == 3_800_000  # the bid's, kept
    cancelled = cli.ok("provider", "capacity", "cancel", second, account=PROVIDER)
    assert cancelled["claimable"] > 0
    cli.indexed()
    before = m.usdc_balance(addr(m, BUYER))
    claimed = cli.ok("claim", account=BUYER)
    assert claimed["redeemed"] == [{"capacity_id": second, "amount": 3}]
    assert (
        m.usdc_balance(addr(m, BUYER)) == before + claimed["withdrawn"]
        and claimed["withdrawn"] >= 3 * 1_500_000
    )
    earned = cli.ok("provider", "earnings", account=PROVIDER)
    first = next(c for c in earned["capacities"] if c["capacity_id"] == capacity)
    funds = m.escrow.functions.funds(capacity).call()  # backing, bond, ..., premium
    assert (first["sold"], first["held"], first["bond"]) == (20, funds[0] + funds[3], funds[1])
    assert earned["claimable"] == m.claimable(addr(m, PROVIDER)) > 0
    before, owed = m.usdc_balance(addr(m, PROVIDER)), m.claimable(addr(m, PROVIDER))
    withdrawn = cli.ok("provider", "withdraw", account=PROVIDER)["withdrawn"]
    assert (
        withdrawn == owed >= cancelled["claimable"]
        and m.usdc_balance(addr(m, PROVIDER)) == before + withdrawn
    )
    # The bid is cancelled on chain by its maker; another account's cancel of it is refused, nothing sent.
    sent = nonce(m, RENTER)
    error = refused(cli, ExitCode.FAILED, "cancel", bid["hash"], account=RENTER)
    assert error["message"] == f"order {bid['hash']} is {addr(m, BUYER)}'s, not {addr(m, RENTER)}'s"
    assert nonce(m, RENTER) == sent
    assert cli.ok("cancel", bid["hash"], account=BUYER)["cancelled"] == [bid["hash"]]
    assert m.exchange.functions.status(bytes.fromhex(bid["hash"][2:])).call()[1] is True
    sent = nonce(m, BUYER)
    error = refused(cli, ExitCode.FAILED, "cancel", bid["hash"], account=BUYER)
    assert error["message"] == f"order {bid['hash']} is already cancelled on chain; nothing to cancel"
    assert nonce(m, BUYER) == sent
    orders = cli.ok("provider", "orders", account=PROVIDER)["items"]
    assert {o["state"] for o in orders} <= {"filled", "partially_filled", "open", "cancelled"} and len(
        orders
    ) == 2


# ---------------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def listed(served) -> int:
    """A capacity of dev account 2 (4 GPU-hours backed by $1.00) with an ask for 2 of them at $1.20."""
    market, api_url = served
    provider = dev_account(2, market.chain_id)
    market.faucet(provider, 100 * USDC)
    market.approve(provider, market.escrow.address)
    node = market.register_node(provider, "A100-SXM4-80GB", 1, 80, "us-east", "PCIe", ["GPU-bad-0"])
    start = now(market) - now(market) % HOUR + HOUR
    bond = 4 * market.min_bond_per_unit()
    capacity = market.create_capacity(provider, node, start, start + 4 * HOUR, USDC, bond)
    ask = market.sign(provider, OrderKind.PRIMARY_SELL, capacity, 2, 1_200_000, now(market) + 24 * HOUR)
    post_open_orders([ask], api_url, Console(file=io.StringIO()))
    return capacity


def refused(cli: Cli, code: ExitCode, *args: str | int, account: int | None = None) -> dict[str, Any]:
    """Run a command that must fail: its exit code and the --json error object (code, message)."""
    result = cli(*args, account=account)
    assert result.exit_code == code, result.stdout + result.stderr
    error = result.data["error"]
    assert (error["code"], error["exit_code"]) == (code.name.lower(), code)
    return error


def book_total(cli: Cli) -> int:
    return int(cli.api("/orders")["total"])


def test_wrong_network_is_refused_before_anything_is_signed(cli, m, listed):
    sent, posted = nonce(m, 2), book_total(cli)
    error = refused(
        cli, ExitCode.WRONG_NETWORK, "provider", "sell", listed, "--hours", 1, "--price", "1.20",
        "--chain-id", 1, account=2,
    )  # fmt: skip
    assert error["message"] == "wrong network: the RPC is on chain 31337, not 1 as asked"
    error = refused(cli, ExitCode.WRONG_NETWORK, "provider", "withdraw", "--chain-id", 5, account=2)
    assert (error["chain_id"], error["expected"]) == (31337, 5)
    assert (nonce(m, 2), book_total(cli)) == (sent, posted)


def test_dev_keys_sign_on_development_chains_only():
    with pytest.raises(CliError) as refusal:
        Wallet(dev_account=1).account(1)
    assert refusal.value.code == ExitCode.WRONG_NETWORK
    assert "--dev-account signs only on development chains [1337, 31337]; this RPC is on chain 1" in str(
        refusal.value
    )


def test_insufficient_balance_sends_nothing(cli, m, listed):
    assert m.usdc_balance(addr(m, STRANGER)) == 0
    sent, posted = nonce(m, STRANGER), book_total(cli)
    error = refused(cli, ExitCode.INSUFFICIENT, "buy", listed, "--hours", 2, account=STRANGER)
    assert error["message"] == (
        f"insufficient balance: 2 GPU-hours needs $2.40; {addr(m, STRANGER)} holds $0.00"
    )
    refused(cli, ExitCode.INSUFFICIENT, "bid", listed, "--hours", 1, "--price", "0.90", account=STRANGER)
    error = refused(cli, ExitCode.INSUFFICIENT, "activate", listed, "--hours", 1, account=STRANGER)
    assert error["message"] == f"insufficient GPU-hours: 1 GPUs × 1 h need 1 of capacity {listed}; you hold 0"
    refused(cli, ExitCode.INSUFFICIENT, "sell", listed, "--hours", 1, "--price", "2", account=STRANGER)
    error = refused(cli, ExitCode.INSUFFICIENT, "buy", listed, "--hours", 3, account=STRANGER)
    assert error["message"] == f"only 2 GPU-hours of capacity {listed} are for sale; you asked for 3"
    assert (nonce(m, STRANGER), book_total(cli), m.hours_of(addr(m, STRANGER), listed)) == (sent, posted, 0)


def test_expired_expiry_is_refused_and_nothing_posted(cli, m, listed):
    posted = book_total(cli)
    past = now(m) - 1
    error = refused(
        cli, ExitCode.EXPIRED, "provider", "sell", listed, "--hours", 1, "--price", "1.20", "--expiry", past,
        account=2,
    )  # fmt: skip
    assert (
        error["message"].startswith("expired: the expiry ")
        and f"({past}) is not after the chain's time" in (error["message"])
    )
    # Alive, but for less than the book's minimum: the API's refusal, with its code.
    error = refused(
        cli, ExitCode.EXPIRED, "provider", "sell", listed, "--hours", 1, "--price", "1.20",
        "--expires-in", "5s", account=2,
    )  # fmt: skip
    assert error["api_code"] in ("expiry_too_soon", "order_expired") and error["status"] == 400
    assert book_total(cli) == posted


def test_unknown_capacity_and_contract_errors_by_name(cli, m, listed):
    sent = (nonce(m, 2), nonce(m, STRANGER))
    error = refused(cli, ExitCode.NOT_FOUND, "provider", "capacity", "cancel", 999_999, account=2)
    assert error["message"] == "unknown capacity 999999 on chain 31337"
    refused(cli, ExitCode.NOT_FOUND, "activate", 999_999, "--hours", 1, account=STRANGER)
    refused(cli, ExitCode.NOT_FOUND, "provider", "sell", 999_999, "--hours", 1, "--price", "1", account=2)
    # Someone else's capacity: the contract's custom error, by name with its numbers; nothing sent.
    error = refused(cli, ExitCode.REVERTED, "provider", "capacity", "cancel", listed, account=STRANGER)
    assert error["message"].startswith("the contract refused: ")
    assert error["error"] in error["message"] and str(listed) in error["message"]
    assert (nonce(m, 2), nonce(m, STRANGER)) == sent
    assert m.capacity(listed)["status"] == 1  # still active


def test_bad_amounts_are_usage_errors(cli, m, listed):
    posted = book_total(cli)
    for price in ("2.1234567", "0", "-1", "two"):
        error = refused(
            cli, ExitCode.USAGE, "provider", "sell", listed, "--hours", 1, "--price", price, account=2
        )
        assert repr(price) in error["message"]
    refused(cli, ExitCode.USAGE, "provider", "withdraw")  # nobody to sign
    assert book_total(cli) == posted


def test_people_read_tables_and_sentences(cli, m, listed):
    cli.indexed()
    shown = cli("market", "--max-price", "1.20", as_json=False)
    assert shown.exit_code == 0 and "$1.20" in shown.stdout and "A100-SXM4-80GB" in shown.stdout
    book = cli("market", listed, as_json=False)
    assert book.exit_code == 0 and "Asks, best first" in book.stdout and "$1.20" in book.stdout
    mine = cli("provider", "orders", account=2, as_json=False)
    assert mine.exit_code == 0 and "primary_sell" in mine.stdout
    assert cli("portfolio", account=2, as_json=False).exit_code == 0
    earned = cli("provider", "earnings", account=2, as_json=False)
    assert earned.exit_code == 0 and "the escrow owes you $0.00 now" in earned.stdout
    assert cli("provider", "node", "list", account=2, as_json=False).exit_code == 0
    failed = cli("provider", "capacity", "cancel", 999_999, account=2, as_json=False)
    assert failed.exit_code == ExitCode.NOT_FOUND and "error: unknown capacity 999999" in failed.stderr


def test_the_installed_command_exits_with_the_code(cli, listed):
    """`gpuhours` as a process: the human error on stderr, no traceback, the exit code."""
    gpuhours = Path(sys.executable).with_name("gpuhours")
    done = subprocess.run(
        [str(gpuhours), "provider", "sell", str(listed), "--hours", "1", "--price", "1", "--chain-id", "1",
         "--dev-account", "2"],
        env={**os.environ, **cli.env}, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == ExitCode.WRONG_NETWORK, done.stdout + done.stderr
    assert "error: wrong network: the RPC is on chain 31337, not 1" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# ---------------------------------------------------------------------- keys and a lying API


def test_keystore_signs_and_a_wrong_password_is_refused(cli, m, listed, tmp_path):
    key = dev_account(STRANGER, m.chain_id)
    keystore = tmp_path / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(key.key, "right horse")))
    (tmp_path / "right").write_text("right horse\n")
    (tmp_path / "wrong").write_text("battery staple\n")
    signed_in = cli.ok("login", "--keystore", keystore, "--password-file", tmp_path / "right")
    assert signed_in["address"] == key.address
    error = refused(
        cli, ExitCode.USAGE, "login", "--keystore", keystore, "--password-file", tmp_path / "wrong"
    )
    assert error["message"] == f"the password does not open {keystore}"
    error = refused(cli, ExitCode.USAGE, "login", "--keystore", keystore, "--dev-account", 1)
    assert error["message"] == "give --keystore or --dev-account, not both"


class LyingApi(ThreadingHTTPServer):
    """An API that answers every GET and POST with `answers[path]`: what a hostile server could say."""

    def __init__(self, answers: dict[str, Any]):
        answers_ = answers

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = json.dumps(answers_[self.path.split("?")[0]]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_a_lying_api_gets_no_signature_and_no_money(cli, m, served, listed):
    # The real book's ask on `listed`, handed out as if it were for sale on another capacity.
    real = httpx.get(f"{served[1]}/orders", params={"capacity_id": listed}, timeout=10).json()
    m.faucet(dev_account(RENTER, m.chain_id), 10 * USDC)
    sent, balance = nonce(m, RENTER), m.usdc_balance(addr(m, RENTER))
    other = listed + 1_000
    foreign = {
        "nonce": "0" * 32,
        "chain_id": m.chain_id,
        "message": f"evil.example wants you to sign in with your Ethereum account:\n{addr(m, RENTER)}\n\n"
        "Sign in.\n\nURI: https://evil.example\nVersion: 1\nChain ID: 31337\nNonce: 00000000\n"
        "Issued At: 2026-01-01T00:00:00.000Z",
    }
    lying = LyingApi({"/orders": real, "/auth/nonce": foreign})
    try:
        liar = Cli(cli.rpc_url, lying.url, {**cli.env, "GPUHOURS_API_URL": lying.url})
        error = refused(liar, ExitCode.INSUFFICIENT, "buy", other, "--hours", 1, account=RENTER)
        assert error["message"] == f"only 0 GPU-hours of capacity {other} are for sale; you asked for 1"
        error = refused(liar, ExitCode.FAILED, "login", account=RENTER)
        assert error["message"].startswith(f"refused to sign: the API at {lying.url} asked to sign in")
        assert "'evil.example wants you" in error["message"]
    finally:
        lying.shutdown()
    assert (nonce(m, RENTER), m.usdc_balance(addr(m, RENTER))) == (sent, balance)
