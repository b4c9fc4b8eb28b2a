"""What every user command shares: where it acts (RPC, API, the chain expected), as whom (an encrypted
keystore, or an Anvil dev account on a development chain), output for people or one JSON object for
scripts (--json), and every failure as a sentence with an exit code (ExitCode), nothing sent.

Transactions go through the chain layer's one sender (Market.send): it estimates first, so a call
that would revert raises the contract's custom error before anything is signed.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import requests
import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console, RenderableType
from web3.exceptions import TimeExhausted, Web3Exception

from backend.chain.client import MAX_UINT256, Market
from backend.chain.deployments import DeploymentError
from backend.chain.dev_accounts import dev_account
from backend.chain.errors import ContractRevert
from backend.chain.keystore import KeystoreError, load_account, read_password_file
from backend.chain.protocol import DEV_CHAIN_IDS
from backend.cli_api import Api, saved_token
from backend.cli_errors import CliError, ExitCode, from_revert
from backend.cli_units import UnitError, show_usd
from backend.config import CliSettings, SettingsError, cached_settings

T = TypeVar("T")


def _settings() -> CliSettings:
    try:
        return cached_settings(CliSettings)
    except SettingsError as exc:
        raise CliError(f"bad setting: {exc}", ExitCode.USAGE) from None


# ---------------------------------------------------------------------- options every command takes

RpcUrl = Annotated[
    str | None,
    typer.Option("--rpc-url", envvar="GPUHOURS_RPC_URL", help="JSON-RPC endpoint", show_default=False),
]
ApiUrl = Annotated[str | None, typer.Option("--api-url", envvar="GPUHOURS_API_URL", help="the gpuhours API")]
ChainId = Annotated[
    int | None,
    typer.Option("--chain-id", envvar="GPUHOURS_CHAIN_ID", help="act only if the RPC is on this chain"),
]
Keystore = Annotated[
    Path | None,
    typer.Option("--keystore", envvar="GPUHOURS_KEYSTORE", help="encrypted keystore (Web3 Secret Storage)"),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        envvar="GPUHOURS_PASSWORD_FILE",
        help="the keystore's password on its first line; asked for when not given",
    ),
]
DevAccount = Annotated[
    int | None,
    typer.Option("--dev-account", min=0, max=19, help="Anvil's dev account N: development chains only"),
]
AsJson = Annotated[bool, typer.Option("--json", help="print one JSON object (errors too), for scripts")]


@dataclass(frozen=True)
class Wallet:
    """As whom a command signs: a keystore, or a dev account on a development chain."""

    keystore: Path | None = None
    password_file: Path | None = None
    dev_account: int | None = None

    def given(self) -> bool:
        return self.keystore is not None or self.dev_account is not None

    def account(self, chain_id: int) -> LocalAccount:
        if self.keystore is not None and self.dev_account is not None:
            raise CliError("give --keystore or --dev-account, not both", ExitCode.USAGE)
        if self.dev_account is not None:
            if chain_id not in DEV_CHAIN_IDS:
                raise CliError(
                    f"--dev-account signs only on development chains {sorted(DEV_CHAIN_IDS)}; "
                    f"this RPC is on chain {chain_id}: use --keystore",
                    ExitCode.WRONG_NETWORK,
                    chain_id=chain_id,
                )
            return dev_account(self.dev_account, chain_id)
        if self.keystore is None:
            raise CliError(
                "say who signs: --keystore FILE (or --dev-account N on a dev chain)", ExitCode.USAGE
            )
        if self.password_file is not None:
            password = read_password_file(self.password_file)
        else:
            password = typer.prompt(f"password for {self.keystore}", hide_input=True, err=True)
        return load_account(self.keystore, password)


# ---------------------------------------------------------------------- output


class Output:
    """For people: rich text on stdout, progress on stderr. With --json: one JSON object on stdout."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.console = Console(width=None if sys.stdout.isatty() else 120)
        self.progress = Console(stderr=True)

    def step(self, text: str) -> None:
        """A line of progress; on stderr with --json, so stdout stays one object."""
        (self.progress if self.as_json else self.console).print(f"[green]✓[/] {text}")

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        with self.progress.status(f"{what}: waiting for the receipt…"):
            yield

    def result(self, data: dict[str, Any], *human: RenderableType) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(data, default=str) + "\n")
        else:
            for part in human:
                self.console.print(part)

    def error(self, exc: CliError) -> None:
        if self.as_json:
            body = {"code": exc.code.name.lower(), "exit_code": int(exc.code), "message": exc.message}
            sys.stdout.write(json.dumps({"error": {**body, **exc.details}}, default=str) + "\n")
        else:
            Console(stderr=True).print(f"[red]error:[/] {exc.message}", highlight=False)


@contextmanager
def command(as_json: bool) -> Iterator[Output]:
    """Runs a command's body: every failure it meets is told as a sentence and ends with its exit code."""
    out = Output(as_json)
    try:
        yield out
    except CliError as exc:
        out.error(exc)
        raise typer.Exit(exc.code) from None
    except ContractRevert as exc:
        error = from_revert(exc)
        out.error(error)
        raise typer.Exit(error.code) from None
    except (KeystoreError, UnitError) as exc:
        out.error(CliError(str(exc), ExitCode.USAGE))
        raise typer.Exit(ExitCode.USAGE) from None
    except DeploymentError as exc:
        out.error(CliError(str(exc), ExitCode.WRONG_NETWORK))
        raise typer.Exit(ExitCode.WRONG_NETWORK) from None
    except requests.ConnectionError as exc:
        error = CliError(f"the RPC does not answer: {type(exc).__name__}", ExitCode.UNREACHABLE)
        out.error(error)
        raise typer.Exit(error.code) from None
    except TimeExhausted as exc:
        out.error(CliError(f"not mined in time: {exc}", ExitCode.FAILED))
        raise typer.Exit(ExitCode.FAILED) from None
    except Web3Exception as exc:
        out.error(CliError(f"the node refused: {exc}", ExitCode.FAILED))
        raise typer.Exit(ExitCode.FAILED) from None
    except KeyboardInterrupt:
        error = CliError("interrupted: a transaction already sent may still be mined", ExitCode.INTERRUPTED)
        out.error(error)
        raise typer.Exit(error.code) from None


# ---------------------------------------------------------------------- the market, as one user


@dataclass
class Session:
    """One command's view of the market: the chain through the RPC, the book through the API."""

    out: Output
    rpc_url: str | None = None
    api_url: str | None = None
    chain_id: int | None = None
    wallet: Wallet = field(default_factory=Wallet)
    _market: Market | None = None
    _account: LocalAccount | None = None
    _decimals: int | None = None
    _api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            settings = _settings()
            self._api = Api(self.api_url or f"http://{settings.api_host}:{settings.api_port}")
        return self._api

    def token(self) -> str | None:
        """The signer's sign-in token for this API (`gpuhours login`), if one is kept and unexpired."""
        return saved_token(self.api.url, self.account.address)

    @property
    def market(self) -> Market:
        if self._market is None:
            settings = _settings()
            market = Market.connect(
                self.rpc_url or settings.rpc_url, settings.deployments_dir, settings.tx_timeout
            )
            if self.chain_id is not None and market.chain_id != self.chain_id:
                raise CliError(
                    f"wrong network: the RPC is on chain {market.chain_id}, not {self.chain_id} as asked",
                    ExitCode.WRONG_NETWORK,
                    chain_id=market.chain_id,
                    expected=self.chain_id,
                )
            self._market = market
        return self._market

    @property
    def account(self) -> LocalAccount:
        if self._account is None:
            self._account = self.wallet.account(self.market.chain_id)
        return self._account

    def address(self, given: str | None = None) -> str:
        """`given`, else the signer's address."""
        return given or self.account.address

    @property
    def decimals(self) -> int:
        if self._decimals is None:
            self._decimals = self.market.usdc.functions.decimals().call()
        return self._decimals

    def usd(self, amount: int) -> str:
        return show_usd(amount, self.decimals)

    def now(self) -> int:
        """The chain's clock: the latest block's timestamp (a dev chain's may run ahead of the wall's)."""
        return self.market.w3.eth.get_block("latest")["timestamp"]

    def send(self, what: str, action: Callable[[], T]) -> T:
        """Run `action` (which sends and waits) under a progress display; one line once it is mined."""
        with self.out.waiting(what):
            result = action()
        self.out.step(what)
        return result

    def need_balance(self, amount: int, what: str) -> None:
        balance = self.market.usdc_balance(self.account.address)
        if balance < amount:
            raise CliError(
                f"insufficient balance: {what} needs {self.usd(amount)}; {self.account.address} holds "
                f"{self.usd(balance)}",
                ExitCode.INSUFFICIENT,
                needed=amount,
                balance=balance,
            )

    def allowance(self, spender: str) -> int:
        return int(self.market.usdc.functions.allowance(self.account.address, spender).call())

    def add_allowance(self, spender: str, amount: int, name: str) -> None:
        """Let `spender` take `amount` more than it may now: what it may take for other orders (open
        bids) stays theirs. An unlimited allowance is left as it is."""
        m, current = self.market, self.allowance(spender)
        if current > MAX_UINT256 - amount:
            return
        self.send(
            f"approved the {name} to spend {self.usd(amount)} more",
            lambda: m.approve(self.account, spender, current + amount),
        )


# ---------------------------------------------------------------------- the commands' shape

#: The options every user command may take, in the order help lists them, with their defaults.
_COMMON_OPTIONS: dict[str, tuple[Any, Any]] = {
    "rpc_url": (RpcUrl, None),
    "api_url": (ApiUrl, None),
    "chain_id": (ChainId, None),
    "keystore": (Keystore, None),
    "password_file": (PasswordFile, None),
    "dev_account": (DevAccount, None),
    "as_json": (AsJson, False),
}


def user_command(*, api: bool, wallet: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Makes `body(s: Session, own parameters...)` a command: its own parameters, then the options
    every command takes (where it acts: --rpc-url, --chain-id, and --api-url when `api`; as whom:
    --keystore, --password-file, --dev-account when `wallet`; --json), its body run under `command`
    with the Session they describe."""
    names = [
        n
        for n in _COMMON_OPTIONS
        if (api or n != "api_url") and (wallet or n not in ("keystore", "password_file", "dev_account"))
    ]

    def decorate(body: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(body, eval_str=True).parameters.values())[1:]  # all but the Session
        common = [
            inspect.Parameter(
                n,
                inspect.Parameter.KEYWORD_ONLY,
                default=_COMMON_OPTIONS[n][1],
                annotation=_COMMON_OPTIONS[n][0],
            )
            for n in names
        ]

        @functools.wraps(body)
        def run(**kwargs: Any) -> None:
            given = {n: kwargs.pop(n) for n in names}
            w = Wallet(given.get("keystore"), given.get("password_file"), given.get("dev_account"))
            with command(given["as_json"]) as out:
                body(Session(out, given["rpc_url"], given.get("api_url"), given["chain_id"], w), **kwargs)

        # What typer reads: the parameters and their annotations, resolved.
        run.__signature__ = inspect.Signature([*own, *common], return_annotation=None)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in (*own, *common)}
        return run

    return decorate
