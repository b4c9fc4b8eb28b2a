"""`gpuhours oracle ...`: the agent, the oracle node, and keystores."""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from backend.config import Settings, get_settings

app = typer.Typer(help="The oracle: telemetry agent, attesting node, keystores.", no_args_is_help=True)
keystore_app = typer.Typer(help="Encrypted signing keys of oracle nodes.", no_args_is_help=True)
app.add_typer(keystore_app, name="keystore")
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/] {message}")
    return typer.Exit(code)


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
    settings = get_settings()
    kind = source or settings.oracle_source
    host = host or settings.oracle_agent_host
    port = port or settings.oracle_agent_port
    backfill = settings.oracle_sim_backfill if backfill is None else backfill
    if backfill and kind != "simulated":
        raise _fail("--backfill works only with the simulated source")
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None

    import uvicorn

    from oracle.agent import create_app
    from oracle.freivalds import ChallengeError
    from oracle.prover import Prover, select_backend
    from oracle.telemetry import TelemetryError, open_source

    try:
        telemetry = open_source(kind, settings)
        gpus = telemetry.gpus()
        prover = Prover(select_backend(backend), telemetry, max_n=settings.oracle_max_challenge_n)
    except (TelemetryError, ChallengeError, ValueError) as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"[bold]agent[/] {kind} source, {len(gpus)} GPUs, challenges on {prover.backend.name} "
        f"({prover.backend.device}); http://{host}:{port}"
    )
    app_ = create_app(
        telemetry,
        prover,
        interval=settings.oracle_sample_interval,
        buffer_seconds=settings.oracle_buffer_seconds,
        backfill=backfill,
    )
    uvicorn.run(app_, host=host, port=port, log_level="info" if verbose else "warning")


def _parse_agents(values: list[str] | None, settings: Settings) -> dict[int, str]:
    if not values:
        return dict(settings.oracle_agents)
    agents = {}
    for value in values:
        node, sep, url = value.partition("=")
        if not sep or not node.strip().isdigit() or not url.startswith(("http://", "https://")):
            raise _fail(f"--agent takes NODE_ID=URL (like 1=http://10.0.0.5:9410), not {value!r}")
        agents[int(node)] = url
    return agents


def _contract(settings: Settings, chain_id: int, contract: str | None) -> str:
    from eth_utils import is_address

    address = contract or settings.oracle_contract
    if address is None:
        path = settings.deployments_dir / f"{chain_id}.json"
        try:
            address = json.loads(path.read_text())["contracts"]["AttestationOracle"]["address"]
        except (OSError, ValueError, KeyError, TypeError):
            raise _fail(
                f"no AttestationOracle address: pass --contract, set GPUHOURS_ORACLE_CONTRACT, "
                f"or deploy it to chain {chain_id} ({path})"
            ) from None
    if not is_address(address):
        raise _fail(f"{address!r} is not an address")
    return address


def _parse_marks(values: list[str] | None, epoch: int) -> list:
    from oracle.report import MarkPrice, gpu_class_id

    marks = []
    for value in values or []:
        name, sep, price = value.partition("=")
        if not sep or not name or not price.isdigit():
            raise _fail(f"--mark takes CLASS=PRICE in base units (like H100-SXM-80GB=2100000), not {value!r}")
        marks.append(MarkPrice(gpu_class_id(name), epoch, int(price)))
    return sorted(marks, key=lambda m: m.gpu_class)


@app.command()
def node(
    agent_urls: list[str] = typer.Option(
        None, "--agent", help="NODE_ID=URL; repeat; defaults to GPUHOURS_ORACLE_AGENTS"
    ),
    epoch: int = typer.Option(None, help="unix hour to attest; defaults to the last complete one"),
    gpus: int = typer.Option(None, help="GPUs each node is registered with; asked of the agent when unset"),
    challenges: int = typer.Option(1, min=0, help="challenges per agent before attesting (once mode)"),
    mark: list[str] = typer.Option(None, help="CLASS=PRICE mark price to sign with the report; repeat"),
    keystore: Path = typer.Option(None, help="encrypted keystore; defaults to GPUHOURS_ORACLE_KEYSTORE"),
    password_file: Path = typer.Option(None, help="defaults to GPUHOURS_ORACLE_PASSWORD_FILE"),
    chain_id: int = typer.Option(None, help="defaults to GPUHOURS_ORACLE_CHAIN_ID"),
    contract: str = typer.Option(None, help="AttestationOracle address; defaults to settings or deployments"),
    out: Path = typer.Option(None, help="write the signed report JSON here (watch mode: one file per epoch)"),
    watch: bool = typer.Option(False, help="keep polling and sign every epoch as it ends"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Poll agents, challenge them, aggregate an epoch and sign it; prints the signed report as JSON."""
    _logging(verbose)
    settings = get_settings()
    agents = _parse_agents(agent_urls, settings)
    if not agents:
        raise _fail("no agents: pass --agent NODE_ID=URL or set GPUHOURS_ORACLE_AGENTS")
    chain = chain_id or settings.oracle_chain_id
    address = _contract(settings, chain, contract)

    from oracle.keystore import KeystoreError, load_oracle_account
    from oracle.node import AgentTarget, OracleNode
    from oracle.report import Domain, ReportError

    try:
        account = load_oracle_account(settings, keystore, password_file)
    except KeystoreError as exc:
        raise _fail(str(exc)) from None
    domain = Domain(chain, address)
    targets = [AgentTarget(node_id, url, gpus) for node_id, url in sorted(agents.items())]
    oracle = OracleNode(settings, targets)
    try:
        if watch:
            _watch(oracle, account, domain, out, mark)
            return
        target_epoch = int(time.time() // 3600) - 1 if epoch is None else epoch
        signed, results = oracle.run_once(
            target_epoch, account, domain, _parse_marks(mark, target_epoch), challenges
        )
    except ReportError as exc:
        raise _fail(f"the report cannot be signed: {exc}") from None
    finally:
        oracle.close()
    _emit(signed, results, out)


def _emit(signed, results, out: Path | None) -> None:
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


def _watch(oracle, account, domain, out: Path | None, mark: list[str] | None) -> None:
    import threading

    stop = threading.Event()

    def emit(signed, results) -> None:
        epoch = signed.report.attestations[0].epoch if signed.report.attestations else 0
        _emit(signed, results, None if out is None else out.with_name(f"{out.stem}-{epoch}{out.suffix}"))

    err.print("watching; Ctrl-C stops")
    try:
        oracle.watch(account, domain, emit, stop, marks=lambda e: _parse_marks(mark, e))
    except KeyboardInterrupt:
        stop.set()


@keystore_app.command("new")
def keystore_new(
    path: Path = typer.Argument(..., help="where to write the encrypted keystore (JSON)"),
    password_file: Path = typer.Option(None, help="read the password from this file instead of asking"),
) -> None:
    """Create a fresh signing key, encrypted with a password; prints only its address."""
    from oracle.keystore import KeystoreError, create_keystore

    if password_file is not None:
        try:
            lines = password_file.read_text().splitlines()
        except OSError as exc:
            raise _fail(f"cannot read {password_file}: {exc.strerror}") from None
        password = lines[0] if lines else ""
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        address = create_keystore(path, password)
    except KeystoreError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror}") from None
    print(address)
