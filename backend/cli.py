"""The `gpuhours` command."""

from __future__ import annotations

import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from backend.chain.anvil import AnvilError, start_anvil
from backend.chain.cli_exit import fail
from backend.chain.client import Market
from backend.chain.deploy import DeployError, deploy
from backend.chain.errors import ContractRevert
from backend.cli_lending import COMMANDS as LENDING_COMMANDS
from backend.cli_login import login
from backend.cli_market import COMMANDS as MARKET_COMMANDS
from backend.cli_provider import app as provider_app
from backend.cli_renter import COMMANDS as RENTER_COMMANDS
from backend.config import (
    AnySettings,
    ApiSettings,
    DeploySettings,
    DevChainSettings,
    IndexerSettings,
    SettingsError,
    TaskSettings,
    load_settings,
)
from oracle.cli import app as oracle_app

if TYPE_CHECKING:
    from backend.tasks.inprocess import InProcessTasks

app = typer.Typer(help="gpuhours: an on-chain market for GPU compute capacity.", no_args_is_help=True)
app.add_typer(oracle_app, name="oracle")
app.command()(login)
app.add_typer(provider_app, name="provider")
for user_command in (*MARKET_COMMANDS, *RENTER_COMMANDS, *LENDING_COMMANDS):
    app.command()(user_command)
# Wide enough for the summary tables when the output is a log rather than a terminal.
console = Console(width=None if sys.stdout.isatty() else 120)


def _settings(cls: type[AnySettings]) -> AnySettings:
    """This process's settings; a bad GPUHOURS_* value is a usage error told in one line."""
    try:
        return load_settings(cls)
    except SettingsError as exc:
        raise fail(console, f"bad setting: {exc}", 2) from None


@app.command()
def demo(
    rpc_url: str = typer.Option(None, help="use this running dev chain instead of starting Anvil"),
    serve_api: bool = typer.Option(
        False,
        "--serve",
        help="then index the round and serve the API on it (SQLite, in-process tasks) until Ctrl-C",
    ),
) -> None:
    """Start Anvil, deploy, and run a scripted market round with 2 providers and 3 renters."""
    dev_chain = _settings(DevChainSettings)
    try:
        if rpc_url:
            _demo(rpc_url, serve_api)
        else:
            with start_anvil(dev_chain.node_modules, dev_chain.anvil_host, dev_chain.anvil_port) as anvil:
                console.print(f"[bold]Anvil[/] listening at {anvil.url} (chain 31337)")
                _demo(anvil.url, serve_api)
    except (AnvilError, DeployError) as exc:
        raise fail(console, str(exc)) from None
    except ContractRevert as exc:
        raise fail(console, f"a transaction reverted: {exc}") from None


def _demo(rpc_url: str, serve_api: bool) -> None:
    api, task = (_settings(ApiSettings), _settings(TaskSettings)) if serve_api else (None, None)
    console.print("[bold]Deploying[/] with the ape script (scripts/deploy.py)")
    directory = deploy(rpc_url, _settings(DeploySettings).deployments_dir)
    market = Market.connect(rpc_url, directory)
    for name in ("MockUSDC", "Escrow", "GpuHours", "Exchange"):
        console.print(f"  {name:<9} {market.deployment.address(name)}")
    from backend.demo import post_open_orders, run_round

    round_ = run_round(market, console)
    console.print(
        f"[bold green]Market round complete.[/] Deployment: {directory / f'{market.chain_id}.json'}"
    )
    if api is not None and task is not None:
        # The round's open orders go on the book over HTTP once the API below answers.
        api_url = f"http://{api.api_host}:{api.api_port}"
        threading.Thread(
            target=post_open_orders, args=(round_.open_orders, api_url, console), daemon=True
        ).start()
        # This Anvil's chain is new: what the store holds of an earlier chain 31337 goes first.
        chain = {"rpc_url": rpc_url, "deployments_dir": directory}
        _serve(
            api.model_copy(update=chain),
            task.model_copy(update=chain),
            None,
            None,
            "inprocess",
            start_over=True,
        )


@app.command("deploy")
def deploy_cmd(rpc_url: str = typer.Option(None, help="JSON-RPC URL; defaults to GPUHOURS_RPC_URL")) -> None:
    """Deploy the contracts to a running chain and write deployments/<chainId>.json."""
    settings = _settings(DeploySettings)  # read again by the ape script; checked here to fail early
    try:
        path = deploy(rpc_url or settings.rpc_url, settings.deployments_dir)
    except DeployError as exc:
        raise fail(console, str(exc)) from None
    console.print(f"deployed; see {path}")


@app.command()
def chain(port: int = typer.Option(None, help="port; defaults to GPUHOURS_ANVIL_PORT")) -> None:
    """Run a local Anvil chain (chain id 31337) until interrupted."""
    settings = _settings(DevChainSettings)
    try:
        anvil = start_anvil(settings.node_modules, settings.anvil_host, port or settings.anvil_port)
    except AnvilError as exc:
        raise fail(console, str(exc)) from None
    # SIGTERM would end this process and leave Anvil running; SIGINT may arrive ignored (a process started
    # in the background by a shell inherits SIGINT ignored): both stop the chain, whatever came before.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        console.print(f"Anvil at {anvil.url}; Ctrl-C stops it")
        anvil.process.wait()
    except KeyboardInterrupt:
        anvil.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
def index(
    once: bool = typer.Option(False, "--once", help="index up to the head, then exit"),
    reset: bool = typer.Option(False, "--reset", help="drop this chain's indexed data first and start over"),
    wait: bool = typer.Option(False, "--wait", help="wait for another indexer's lock instead of exiting"),
    rpc_url: str = typer.Option(None, help="JSON-RPC URL; defaults to GPUHOURS_RPC_URL"),
) -> None:
    """Index the contracts' events into the SQL store (GPUHOURS_DB_URL) until interrupted, or --once."""
    import logging
    import signal
    import threading

    from backend.indexer.lock import LockHeld, LockLost
    from backend.indexer.run import Indexer, IndexerError, TickResult
    from backend.tasks.jobs import update_price_index

    settings = _settings(IndexerSettings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        # The price index follows each batch with fills (beat's job still ages the 24 h window).
        indexer = Indexer.from_settings(settings, rpc_url=rpc_url, after_fills=update_price_index)
    except IndexerError as exc:
        raise fail(console, str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(result: TickResult) -> None:
        if result.action == "indexed":
            console.print(f"blocks {result.start}..{result.end}: {result.events} events (head {result.head})")
        elif result.action == "rolled_back":
            console.print(
                f"[yellow]reorg:[/] rolled back blocks {result.start}..{result.end} ({result.events} events)"
            )

    url = indexer.engine.url.render_as_string(hide_password=True)
    role = "indexer, waiting for the writer lock if another holds it" if wait else "indexer"
    console.print(f"role {role}: chain {indexer.chain_id} from {rpc_url or settings.rpc_url} into {url}")
    try:
        summary = indexer.run(once=once, wait_for_lock=wait, stop=stop, on_tick=report, start_over=reset)
    except (IndexerError, LockHeld, LockLost) as exc:
        raise fail(console, str(exc)) from None
    except KeyboardInterrupt:
        console.print("stopped")
        return
    finally:
        indexer.close()
    console.print(
        f"indexed {summary.events} events in {summary.batches} batches; "
        f"checkpoint at block {summary.checkpoint}"
    )


@app.command()
def serve(
    host: str = typer.Option(None, help="defaults to GPUHOURS_API_HOST"),
    port: int = typer.Option(None, help="defaults to GPUHOURS_API_PORT"),
    tasks: str = typer.Option(
        "auto",
        help="auto: in-process unless GPUHOURS_REDIS_URL is set (then Celery runs them); inprocess; off",
    ),
    workers: int = typer.Option(
        1, min=1, max=64, help="API processes sharing the port (the tasks, if any, run once, in this one)"
    ),
) -> None:
    """Serve the HTTP API; with no Redis, also index and run the periodic tasks in this process."""
    if tasks not in ("auto", "inprocess", "off"):
        raise fail(console, f"--tasks must be auto, inprocess or off, not {tasks!r}", 2)
    _serve(
        _settings(ApiSettings),
        _settings(TaskSettings) if tasks != "off" else None,
        host,
        port,
        tasks,
        workers=workers,
    )


def _serve(
    settings: ApiSettings,
    task_settings: TaskSettings | None,
    host: str | None,
    port: int | None,
    tasks: str,
    start_over: bool = False,
    workers: int = 1,
) -> None:
    import logging

    import uvicorn

    from backend.api.admission import pool_size
    from backend.api.main import create_app
    from backend.api.siwe_verify import accepted_domains
    from backend.db.session import engine_from_settings, migrate
    from backend.tasks.context import TaskContext
    from backend.tasks.inprocess import InProcessTasks

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = engine_from_settings(settings, connections=pool_size(settings.api_db_concurrency))
    migrate(engine)
    settings = settings.model_copy(update={"db_auto_migrate": False})  # done, once, before any thread
    runner, role = None, "api"
    # The role follows the settings, never what answers at start: with GPUHOURS_REDIS_URL set, Celery's.
    if task_settings is not None and (tasks == "inprocess" or (tasks == "auto" and not settings.redis_url)):
        # Their own connections: no client load can keep the indexer from the store.
        tasks_engine = engine_from_settings(task_settings)
        context = TaskContext(task_settings.model_copy(update={"db_auto_migrate": False}), tasks_engine)
        runner = InProcessTasks(context, start_over=start_over).start()
        role = "api+tasks"
        console.print("role api+tasks: the API, and the indexer and periodic jobs in this process")
        if workers > 1:
            console.print(f"  (the API in {workers} worker processes, the tasks once, in this one)")
    elif tasks == "auto":
        console.print(
            "role api: GPUHOURS_REDIS_URL is set, so Celery runs the tasks "
            "(celery -A backend.tasks.celery_app worker, and exactly one beat)"
        )
    else:
        console.print("role api: tasks off")
    host, port = host or settings.api_host, port or settings.api_port
    # Sign-in follows where the API is served unless GPUHOURS_API_DOMAIN names the domain(s).
    settings = settings.model_copy(update={"api_host": host, "api_port": port})
    domains = accepted_domains(settings.api_domain, host, port)

    if workers > 1:
        engine.dispose()  # the workers open their own; this process only supervises them (and the tasks)
        _serve_workers(workers, host, port, role, domains, runner)
        return

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # the app has started and the port is listening: the address answers
                console.print(f"[bold]API[/] at http://{host}:{port} (OpenAPI at /docs); Ctrl-C stops it")
                console.print(
                    f"Sign-In with Ethereum for {', '.join(domains)} (GPUHOURS_API_DOMAIN sets others)"
                )

    config = uvicorn.Config(
        create_app(settings, engine=engine, role=role),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,  # event streams never end by themselves
    )
    server = Server(config)
    try:
        server.run()  # a port it cannot listen on, or an app that fails to start: exits non-zero
    except KeyboardInterrupt:  # Ctrl-C: the server has stopped
        pass
    finally:
        if runner is not None:
            runner.stop()
    if not server.started:  # stopped while starting; uvicorn.run's exit status for it
        raise typer.Exit(3)


def _serve_workers(
    workers: int, host: str, port: int, role: str, domains: list[str], runner: InProcessTasks | None
) -> None:
    """uvicorn's supervisor: `workers` processes accept on one socket, each its own app, engine and
    caches, from this process's settings (the environment, with host, port and role as served); a
    worker that dies is replaced. Ctrl-C or SIGTERM stops them all, then the tasks."""
    import logging
    import os

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from backend.api.main import worker_environment

    try:
        os.environ.update(worker_environment(host, port, role))
        config = uvicorn.Config(
            "backend.api.main:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        logging.getLogger("uvicorn.error").setLevel(logging.INFO)  # here only: a worker that died, replaced
        try:
            sock = config.bind_socket()  # a port it cannot listen on: uvicorn logs why and exits 1
        except SystemExit:
            raise typer.Exit(3) from None
        console.print(
            f"[bold]API[/] at http://{host}:{port} (OpenAPI at /docs), {workers} workers; Ctrl-C stops it"
        )
        console.print(f"Sign-In with Ethereum for {', '.join(domains)} (GPUHOURS_API_DOMAIN sets others)")
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if runner is not None:
            runner.stop()
