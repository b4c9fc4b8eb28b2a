"""`gpuhours oracle ...`: the agent, the oracle node, the aggregator, and keystores."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.markup import escape

from backend.chain.cli_exit import fail
from backend.chain.protocol import EPOCH_SECONDS
from oracle.settings import ENV_PREFIX, AgentSettings, AggregatorSettings, NodeSettings

if TYPE_CHECKING:  # the commands import what they need when they run, so `--help` stays quick
    from eth_account.signers.local import LocalAccount

    from oracle.aggregator.service import Aggregator, Outcome
    from oracle.node.epoch_attestation import EpochResult
    from oracle.node.fills import FillReader
    from oracle.node.marks import MarkSource
    from oracle.node.service import OracleNode
    from oracle.protocol.report import Domain, SignedReport

app = typer.Typer(
    help="The oracle: telemetry agent, attesting node, aggregator, keystores.", no_args_is_help=True
)
keystore_app = typer.Typer(help="Encrypted signing keys of oracle nodes.", no_args_is_help=True)
app.add_typer(keystore_app, name="keystore")
err = Console(stderr=True, soft_wrap=True)  # one sentence per line, however narrow the terminal
BAD_INPUT = 2  # exit status for a bad setting, and for any bad input of `aggregate` (1: nothing landed)
S = TypeVar("S", AgentSettings, NodeSettings, AggregatorSettings)


def _settings(cls: type[S]) -> S:
    """The process's settings from the environment; a bad value ends the command with one line, exit 2."""
    try:
        return cls()
    except ValidationError as exc:
        problems: dict[str, str] = {}  # one sentence per variable: a JSON map may fail in key and value
        for error in exc.errors():
            variable, sentence = _problem(cls, error["loc"], error["msg"])
            problems.setdefault(variable, sentence)
        raise fail(err, "bad setting: " + "; ".join(problems.values()), BAD_INPUT) from None
    except SettingsError as exc:  # a JSON-valued variable that is not JSON, before validation
        field = re.search(r'field "(\w+)"', str(exc))
        loc: tuple[int | str, ...] = (field[1],) if field else ()
        raise fail(err, "bad setting: " + _problem(cls, loc, "not valid JSON")[1], BAD_INPUT) from None


def _problem(cls: type[S], loc: tuple[int | str, ...], msg: str) -> tuple[str, str]:
    """The variable behind a settings error, and a sentence naming it and the form it wants."""
    msg = msg.removeprefix("Value error, ")  # a validator's own sentence names its variables
    if not loc:
        return "", msg
    field = next((f for name, f in cls.model_fields.items() if loc[0] in (name, f.validation_alias)), None)
    name = str(loc[0]).upper()
    variable = name if name.startswith("GPUHOURS_") else ENV_PREFIX + name
    wants = f" (wants {field.description})" if field is not None and field.description else ""
    return variable, f"{variable}: {msg}{wants}"


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the node's own


@app.command()
def agent(
    source: str = typer.Option(None, help="nvml, dcgm or simulated; defaults to GPUHOURS_ORACLE_SOURCE"),
    host: str = typer.Option(None, help="defaults to GPUHOURS_ORACLE_AGENT_HOST"),
    port: int = typer.Option(None, help="defaults to GPUHOURS_ORACLE_AGENT_PORT"),
    backend: str = typer.Option("auto", help="matrix backend for challenges: auto, torch, cupy or numpy"),
    backfill: int = typer.Option(None, help="simulated only: seconds of history to pre-fill"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Serve this machine's GPU telemetry and answer proof-of-compute challenges."""
    _logging(verbose)
    settings = _settings(AgentSettings)
    kind = source or settings.source
    host = host or settings.agent_host
    port = port or settings.agent_port
    backfill = settings.sim_backfill if backfill is None else backfill
    if backfill and kind != "simulated":
        raise fail(err, "--backfill works only with the simulated source")
    _check_port(host, port)

    import uvicorn

    from oracle.agent.api import create_agent_app
    from oracle.agent.prover import Prover, select_backend
    from oracle.agent.telemetry import TelemetryError, open_source
    from oracle.protocol.freivalds import ChallengeError

    try:
        telemetry = open_source(kind, settings)
        gpus = telemetry.gpus()
        prover = Prover(select_backend(backend), telemetry, max_n=settings.max_challenge_n)
    except (TelemetryError, ChallengeError, ValueError) as exc:
        raise fail(err, str(exc)) from None
    err.print(
        f"[bold]agent[/] {kind} source, {len(gpus)} GPUs, challenges on {prover.backend.name} "
        f"({prover.backend.device}); http://{host}:{port}"
    )
    app_ = create_agent_app(
        telemetry,
        prover,
        interval=settings.sample_interval,
        buffer_seconds=settings.buffer_seconds,
        backfill=backfill,
    )
    uvicorn.run(app_, host=host, port=port, log_level="info" if verbose else "warning")


def _check_port(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise fail(err, f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _parse_agents(values: list[str] | None, settings: NodeSettings) -> dict[int, str]:
    if not values:
        return dict(settings.agents)
    agents = {}
    for value in values:
        node, sep, url = value.partition("=")
        if not sep or not node.strip().isdigit() or not url.startswith(("http://", "https://")):
            raise fail(err, f"--agent takes NODE_ID=URL (like 1=http://10.0.0.5:9410), not {value!r}")
        agents[int(node)] = url
    return agents


def _contract(settings: NodeSettings, chain_id: int, contract: str | None) -> str:
    from eth_utils import is_address

    from backend.chain import deployments

    address = contract or settings.contract
    if address is None:
        try:
            address = deployments.read(settings.deployments_dir, chain_id).address("AttestationOracle")
        except (deployments.DeploymentError, OSError, ValueError, KeyError):
            raise fail(
                err,
                f"no AttestationOracle address: pass --contract, set GPUHOURS_ORACLE_CONTRACT, "
                f"or deploy it to chain {chain_id} ({settings.deployments_dir / f'{chain_id}.json'})",
            ) from None
    if not is_address(address):
        raise fail(err, f"{address!r} is not an address")
    return address


def _parse_marks(values: list[str] | None) -> dict[bytes, int]:
    """--mark CLASS=PRICE overrides, by class."""
    from oracle.protocol.report import MarkPrice, gpu_class_id

    marks = {}
    for value in values or []:
        name, sep, price = value.partition("=")
        if not sep or not name or not price.isdigit() or int(price) == 0:
            raise fail(
                err,
                f"--mark takes CLASS=PRICE, a price above 0 in base units (like H100-SXM-80GB=2100000), "
                f"not {value!r}",
            )
        try:
            mark = MarkPrice(gpu_class_id(name), 0, int(price))
        except ValueError as exc:  # a name over 32 bytes, a price over 128 bits
            raise fail(err, f"--mark {value!r}: {exc}") from None
        marks[mark.gpu_class] = mark.price
    return marks


def _mark_source(
    settings: NodeSettings, mark: list[str] | None, rpc_url: str | None, chain_id: int
) -> MarkSource:
    """Marks from the fills on the chain at `rpc_url` (when there is one), overridden by --mark."""
    from oracle.node.marks import MarkRules, MarkSource

    overrides = _parse_marks(mark)
    url = rpc_url or settings.rpc_url
    reader = None if url is None else _fill_reader(url, settings, chain_id)
    return MarkSource(
        reader, MarkRules.from_settings(settings), settings.mark_window, overrides, EPOCH_SECONDS
    )


def _check_clock(settings: NodeSettings, rpc_url: str | None) -> None:
    """Refuse to run on a clock the chain is ahead of (oracle/node/clock.py); unchecked without a chain."""
    url = rpc_url or settings.rpc_url
    if url is None:
        return
    from web3 import Web3

    from oracle.node.clock import clock_skew_error
    from oracle.protocol.rpc import RPC_ERRORS

    try:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": settings.http_timeout}))
        latest = int(w3.eth.get_block("latest")["timestamp"])
    except RPC_ERRORS as exc:
        raise fail(
            err, f"the chain at {url} cannot be reached to compare clocks ({type(exc).__name__})"
        ) from None
    reason = clock_skew_error(latest, time.time(), settings.max_clock_skew)
    if reason:
        raise fail(err, reason)


def _fill_reader(url: str, settings: NodeSettings, chain_id: int) -> FillReader:
    from backend.chain.client import Market
    from backend.chain.deployments import DeploymentError
    from oracle.node.fills import FillReader
    from oracle.protocol.rpc import RPC_ERRORS

    try:
        market = Market.connect(url, settings.deployments_dir, timeout=settings.http_timeout)
    except RPC_ERRORS as exc:
        raise fail(
            err, f"the chain at {url} cannot be reached to read fills ({type(exc).__name__})"
        ) from None
    except DeploymentError as exc:
        raise fail(err, str(exc)) from None
    except KeyError as exc:
        raise fail(err, f"the deployment in {settings.deployments_dir} has no {exc.args[0]}") from None
    if market.chain_id != chain_id:
        raise fail(
            err, f"the chain at {url} is chain {market.chain_id}, but reports are signed for chain {chain_id}"
        )
    return FillReader(market)


@app.command()
def node(
    agent_urls: list[str] = typer.Option(
        None, "--agent", help="NODE_ID=URL; repeat; defaults to GPUHOURS_ORACLE_AGENTS"
    ),
    epoch: int = typer.Option(None, help="unix hour to attest; defaults to the last complete one"),
    gpus: int = typer.Option(None, help="GPUs each node is registered with; asked of the agent when unset"),
    challenges: int = typer.Option(1, min=0, help="challenges per agent before attesting (once mode)"),
    mark: list[str] = typer.Option(
        None, help="CLASS=PRICE mark price to sign with the report, in place of the fills'; repeat"
    ),
    rpc_url: str = typer.Option(
        None,
        help="JSON-RPC URL to derive marks from the Exchange's fills; defaults to GPUHOURS_RPC_URL",
    ),
    keystore: Path = typer.Option(None, help="encrypted keystore; defaults to GPUHOURS_ORACLE_KEYSTORE"),
    password_file: Path = typer.Option(None, help="defaults to GPUHOURS_ORACLE_PASSWORD_FILE"),
    chain_id: int = typer.Option(None, help="defaults to GPUHOURS_ORACLE_CHAIN_ID"),
    contract: str = typer.Option(None, help="AttestationOracle address; defaults to settings or deployments"),
    out: Path = typer.Option(None, help="write the signed report JSON here (watch mode: one file per epoch)"),
    watch: bool = typer.Option(False, help="keep polling and sign every epoch as it ends"),
    serve: bool = typer.Option(False, help="keep polling; serve observations and signatures to aggregators"),
    host: str = typer.Option(None, help="--serve: defaults to GPUHOURS_ORACLE_NODE_HOST"),
    port: int = typer.Option(None, help="--serve: defaults to GPUHOURS_ORACLE_NODE_PORT"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Poll agents, challenge them, aggregate an epoch and sign it; prints the signed report as JSON.

    With --serve it runs as a service instead: aggregators fetch its observations of each ended epoch
    and ask it to sign their proposals (`gpuhours oracle aggregate`)."""
    _logging(verbose)
    settings = _settings(NodeSettings)
    agents = _parse_agents(agent_urls, settings)
    if not agents:
        raise fail(err, "no agents: pass --agent NODE_ID=URL or set GPUHOURS_ORACLE_AGENTS")
    if serve and (watch or out is not None or epoch is not None):
        raise fail(err, "--serve answers aggregators for every epoch; it takes no --watch, --out or --epoch")
    host = host or settings.node_host
    port = port or settings.node_port
    if serve:
        _check_port(host, port)
    chain = chain_id or settings.chain_id
    address = _contract(settings, chain, contract)
    marks = _mark_source(settings, mark, rpc_url, chain)
    if epoch is None:  # the node cuts epochs by its clock
        _check_clock(settings, rpc_url)

    from oracle.node.keystore import KeystoreError, load_oracle_account
    from oracle.node.service import AgentTarget, OracleNode
    from oracle.protocol.report import Domain, ReportError

    try:
        account = load_oracle_account(settings, keystore, password_file)
    except KeystoreError as exc:
        raise fail(err, str(exc)) from None
    domain = Domain(chain, address)
    targets = [AgentTarget(node_id, url, gpus) for node_id, url in sorted(agents.items())]
    oracle = OracleNode(settings, targets)
    if serve:
        _serve(oracle, account, domain, marks, host, port, verbose)
        return
    try:
        if watch:
            _watch(oracle, account, domain, out, marks)
            return
        target_epoch = int(time.time() // EPOCH_SECONDS) - 1 if epoch is None else epoch
        signed, results = oracle.run_once(target_epoch, account, domain, marks(target_epoch), challenges)
    except ReportError as exc:
        raise fail(err, f"the report cannot be signed: {exc}") from None
    finally:
        oracle.close()
    _emit(signed, results, out)


def _serve(
    oracle: OracleNode,
    account: LocalAccount,
    domain: Domain,
    marks: MarkSource,
    host: str,
    port: int,
    verbose: bool,
) -> None:
    import uvicorn

    from oracle.node.api import EpochViews, create_node_app

    settings = oracle.settings
    views = EpochViews(
        oracle,
        marks,
        grace=settings.epoch_grace,
        max_age=settings.max_delay,
    )
    app_ = create_node_app(views, account, domain)
    err.print(
        f"[bold]oracle node[/] signer {account.address}, {len(oracle.targets)} agents; http://{host}:{port}"
    )
    uvicorn.run(app_, host=host, port=port, log_level="info" if verbose else "warning")


def _emit(signed: SignedReport, results: list[EpochResult], out: Path | None) -> None:
    body = signed.to_json() | {
        "notes": {str(r.attestation.node_id): r.reasons for r in results},
    }
    text = json.dumps(body, indent=2)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n")
        err.print(
            f"signed report for epoch(s) {sorted({a.epoch for a in signed.report.attestations})} -> {out}"
        )


def _watch(
    oracle: OracleNode, account: LocalAccount, domain: Domain, out: Path | None, marks: MarkSource
) -> None:
    import threading

    stop = threading.Event()

    def emit(signed: SignedReport, results: list[EpochResult]) -> None:
        epoch = signed.report.attestations[0].epoch if signed.report.attestations else 0
        _emit(signed, results, None if out is None else out.with_name(f"{out.stem}-{epoch}{out.suffix}"))

    err.print("watching; Ctrl-C stops")
    try:
        oracle.watch(
            account,
            domain,
            emit,
            stop,
            marks=marks,
            grace=oracle.settings.epoch_grace,
        )
    except KeyboardInterrupt:
        stop.set()


def _parse_nodes(value: str | None, settings: AggregatorSettings) -> list[str]:
    urls = [u.strip() for u in value.split(",") if u.strip()] if value else list(settings.nodes)
    if not urls:
        raise fail(err, "no oracle nodes: pass --nodes URL,URL,... or set GPUHOURS_ORACLE_NODES", BAD_INPUT)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise fail(
                err, f"--nodes takes oracle node URLs like http://10.0.1.1:9420, not {url!r}", BAD_INPUT
            )
    if len(set(urls)) != len(urls):
        raise fail(err, "--nodes lists a node twice", BAD_INPUT)
    return urls


@app.command()
def aggregate(
    nodes: str = typer.Option(None, help="oracle node URLs, comma-separated; default GPUHOURS_ORACLE_NODES"),
    epoch: int = typer.Option(None, min=0, help="unix hour to land; defaults to the last complete one"),
    watch: bool = typer.Option(False, help="keep going: land every epoch as it ends"),
    rpc_url: str = typer.Option(None, help="JSON-RPC URL; defaults to GPUHOURS_RPC_URL"),
    keystore: Path = typer.Option(
        None, help="the sending account's keystore; defaults to GPUHOURS_ORACLE_SENDER_KEYSTORE"
    ),
    password_file: Path = typer.Option(None, help="defaults to GPUHOURS_ORACLE_SENDER_PASSWORD_FILE"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Collect the oracle nodes' observations, get the median report signed and land it on chain.

    Exit status: 0 landed, 1 nothing landed (the sentence says why), 2 bad input."""
    _logging(verbose)
    settings = _settings(AggregatorSettings)
    urls = _parse_nodes(nodes, settings)
    if watch and epoch is not None:
        raise fail(err, "--watch lands every epoch as it ends; it takes no --epoch", BAD_INPUT)

    from backend.chain.client import Market
    from backend.chain.deployments import DeploymentError
    from oracle.aggregator.node_client import OracleNodeClient
    from oracle.aggregator.sender_account import KeystoreError, load_sender_account
    from oracle.aggregator.service import Aggregator
    from oracle.aggregator.submitter import Submitter
    from oracle.protocol.rpc import RPC_ERRORS

    url = rpc_url or settings.rpc_url
    try:
        market = Market.connect(url, settings.deployments_dir, timeout=settings.tx_timeout)
    except RPC_ERRORS as exc:
        raise fail(
            err, f"nothing landed: the chain at {url} cannot be reached ({type(exc).__name__})"
        ) from None
    except DeploymentError as exc:
        raise fail(err, str(exc), BAD_INPUT) from None
    except KeyError as exc:
        raise fail(
            err, f"the deployment in {settings.deployments_dir} has no {exc.args[0]}", BAD_INPUT
        ) from None
    try:
        sender, where = load_sender_account(settings, market.chain_id, keystore, password_file)
    except KeystoreError as exc:
        raise fail(err, str(exc), BAD_INPUT) from None
    err.print(f"sending from {sender.address} ({where})")
    submitter = Submitter(market.w3, market.oracle, sender, market.errors)
    clients = [OracleNodeClient(u, timeout=settings.http_timeout) for u in urls]
    aggregator = Aggregator(market, submitter, clients)
    try:
        if watch:
            _aggregate_watch(aggregator, settings)
            return
        try:
            target = aggregator.last_complete_epoch() if epoch is None else epoch
        except RPC_ERRORS as exc:
            raise fail(
                err, f"nothing landed: the chain at {url} cannot be read ({type(exc).__name__})"
            ) from None
        outcome = aggregator.run(target)
    finally:
        aggregator.close()
    if not outcome.landed:
        raise fail(err, outcome.summary)
    print(outcome.summary)


def _aggregate_watch(aggregator: Aggregator, settings: AggregatorSettings) -> None:
    import threading

    def report(outcome: Outcome) -> None:
        if outcome.landed:
            print(outcome.summary, flush=True)
        else:
            err.print(f"[yellow]{escape(outcome.summary)}[/]")

    err.print("watching; Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt):
        # Oracle nodes observe an epoch `grace` seconds after it ends; ask them a while after that.
        aggregator.watch(
            threading.Event(),
            report,
            interval=settings.aggregate_interval,
            delay=2 * settings.epoch_grace,
        )


@keystore_app.command("new")
def keystore_new(
    path: Path = typer.Argument(..., help="where to write the encrypted keystore (JSON)"),
    password_file: Path = typer.Option(None, help="read the password from this file instead of asking"),
) -> None:
    """Create a fresh signing key, encrypted with a password; prints only its address."""
    from oracle.node.keystore import KeystoreError, create_keystore

    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except OSError as exc:
            raise fail(err, f"cannot read {password_file}: {exc.strerror}") from None
        password = lines[0] if lines else ""
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        address = create_keystore(path, password)
    except KeystoreError as exc:
        raise fail(err, str(exc)) from None
    except OSError as exc:
        raise fail(err, f"cannot write {path}: {exc.strerror}") from None
    print(address)
