"""The README's command-line walkthrough for a provider and a renter, run as it is written.

The sh blocks under "From the command line: a provider and a renter" are read from README.md and run,
line by line in one bash, against what the README says to start first: `gpuhours demo --serve` (a
real Anvil, the deploy, the demo's round, the API). Then the outcomes the README states are checked
on chain: node 3 and capacity 3 exist, the renter paid $21.00 into escrow, booked, resold and
cancelled, and the provider's earnings left the escrow for its wallet."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backend.chain.anvil import free_port
from backend.chain.client import Market
from backend.chain.deployments import REPO_ROOT
from backend.chain.dev_accounts import dev_account
from tests.conftest import USDC

HEADING = "### From the command line: a provider and a renter"
PROVIDER, RENTER = 1, 3
EXIT_MARK = "@@walkthrough-exit"


def walkthrough_commands(readme: str) -> list[str]:
    """The commands of the sh blocks under HEADING: continuation lines joined, comment-only lines left
    out, each command as written (its trailing comment included)."""
    section = readme.split(HEADING, 1)[1]
    section = re.split(r"^#{2,3} ", section, maxsplit=1, flags=re.MULTILINE)[0]  # the next heading
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL):
        pending = ""
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line + "\n"
            if not line.endswith("\\"):
                commands.append(pending.rstrip("\n"))
                pending = ""
        assert not pending, f"a command ends in a continuation: {pending}"
    return commands


def test_the_walkthrough_is_found_with_its_commands():
    commands = walkthrough_commands((REPO_ROOT / "README.md").read_text())
    assert commands[0].startswith("export GPUHOURS_RPC_URL=")
    assert [c.split()[1] for c in commands[1:] if c.startswith("gpuhours")][:4] == [
        "login",
        "provider",
        "provider",
        "provider",
    ]
    assert any(c.startswith("gpuhours provider withdraw") for c in commands)


@dataclass
class Demo:
    env: dict[str, str]
    rpc_url: str
    api_url: str
    deployments_dir: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    """`gpuhours demo --serve` as the README says to start it, on free ports and a fresh store; the CLI
    keeps its sign-in token under the test's folder."""
    tmp = tmp_path_factory.mktemp("walkthrough")
    anvil_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GPUHOURS_ANVIL_PORT": str(anvil_port),
        "GPUHOURS_API_PORT": str(api_port),
        "GPUHOURS_DEPLOYMENTS_DIR": str(tmp / "deployments"),
        "GPUHOURS_DB_URL": f"sqlite:///{tmp}/store.db",
        "GPUHOURS_CLI_CONFIG": str(tmp / "config" / "sessions.json"),
    }
    for name in ("GPUHOURS_REDIS_URL", "GPUHOURS_RPC_URL", "GPUHOURS_API_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gpuhours")), "demo", "--serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        _wait_for_open_orders(proc, api_url)
        yield Demo(env, f"http://127.0.0.1:{anvil_port}", api_url, tmp / "deployments")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for_open_orders(proc: subprocess.Popen[str], api_url: str, timeout: float = 300) -> None:
    """Until the demo's round is indexed and its three open orders are on the book."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            ready = httpx.get(f"{api_url}/ready", timeout=5).json()["checks"].get("lag_blocks") == 0
            if ready and httpx.get(f"{api_url}/orders", timeout=5).json()["total"] == 3:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    output = proc.stdout.read() if proc.poll() is not None and proc.stdout else ""
    raise AssertionError(f"the demo's market was not served at {api_url}:\n{output}")


def run_verbatim(commands: list[str], env: dict[str, str]) -> list[tuple[str, int, str]]:
    """The commands in one bash, as written; per command: the command, its exit code and its output."""
    script = "exec 2>&1\n" + "".join(f'{c}\necho "{EXIT_MARK} $?"\n' for c in commands)
    bash = shutil.which("bash") or "/bin/bash"
    result = subprocess.run(
        [bash, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    parts = re.split(rf"^{EXIT_MARK} (\d+)$\n?", result.stdout, flags=re.MULTILINE)
    outputs, codes = parts[0::2], [int(c) for c in parts[1::2]]
    assert len(codes) == len(commands), result.stdout + result.stderr
    return list(zip(commands, codes, outputs[: len(codes)], strict=True))


def test_readme_walkthrough_runs_verbatim_and_moves_money(demo):
    market = Market.connect(demo.rpc_url, demo.deployments_dir)
    provider = dev_account(PROVIDER, market.chain_id).address
    renter = dev_account(RENTER, market.chain_id).address
    escrow = market.escrow.address
    before = {a: market.usdc_balance(a) for a in (provider, renter, escrow)}
    provider_claimable, renter_claimable = market.claimable(provider), market.claimable(renter)
    nodes_before = market.hours.functions.nodeCount().call()
    bond = market.min_bond_per_unit() * 2 * 24  # the minimum for 2 GPUs × 24 h

    commands = walkthrough_commands((REPO_ROOT / "README.md").read_text())
    ran = run_verbatim(commands, demo.env)

    transcript = "\n".join(f"$ {c}\n[exit {code}]\n{out}" for c, code, out in ran)
    for command, code, output in ran:
        if command.startswith("gpuhours claim") and renter_claimable == 0:
            # The README: exit 1 when the escrow owes nothing (the renter's cancelled nothing).
            assert code == 1 and "nothing to withdraw" in output, transcript
        else:
            assert code == 0, transcript

    # node 3 and capacity 3, the provider's
    assert nodes_before == 2
    assert market.hours.functions.nodeCount().call() == 3
    assert market.node(3)["owner"] == provider
    assert market.capacity(3)["nodeId"] == 3
    # The renter bought 10 GPU-hours at $2.10, booked 2 GPUs × 2 h of them and holds the rest.
    assert market.usdc_balance(renter) == before[renter] - 21 * USDC
    assert market.hours_of(renter, 3) == 10 - 2 * 2
    # The provider posted capacity 3's bond, and its earnings settled in the demo's round left the
    # escrow for its wallet.
    assert provider_claimable > 0
    assert market.claimable(provider) == 0
    assert market.usdc_balance(provider) == before[provider] - bond + provider_claimable
    assert market.usdc_balance(escrow) == before[escrow] + 21 * USDC + bond - provider_claimable
    # The resale is on the book; the cancelled bid is cancelled on chain and on the book.
    orders = httpx.get(f"{demo.api_url}/orders", params={"maker": renter}, timeout=10).json()["items"]
    kinds = {o["kind"]: o for o in orders}
    assert kinds["sell"]["order"]["price"] == "2500000"
    bid_hash = next(o["hash"] for o in orders if o["kind"] == "buy")
    assert market.exchange.functions.status(bytes.fromhex(bid_hash[2:])).call()[1] is True
