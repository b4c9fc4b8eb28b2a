"""Start and stop a local Anvil chain from the pinned npm toolchain."""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import requests

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class AnvilError(RuntimeError):
    """Anvil could not be found or did not start."""


def anvil_binary(node_modules: Path) -> Path:
    """The platform binary that npm's @foundry-rs/anvil installed, else anvil on PATH."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    candidates = [
        node_modules / "@foundry-rs" / f"anvil-{platform.system().lower()}-{arch}" / "bin" / "anvil",
        node_modules / ".bin" / "anvil",
    ]
    for path in candidates:
        if path.exists():
            return path
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise AnvilError(f"anvil not found under {node_modules}; run `npm ci` in the repository first")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        r = requests.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1
        )
        return r.ok
    except requests.RequestException:
        return False


@dataclass
class Anvil:
    """A running Anvil process; use as a context manager or call stop()."""

    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_anvil(
    node_modules: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    block_time: float | None = None,
    timeout: float = 15.0,
    extra_args: Sequence[str] = (),
) -> Anvil:
    """Start Anvil on chain 31337 and wait until it answers JSON-RPC. `extra_args` go to the anvil
    command line as they are (e.g. a larger block gas limit, --dump-state)."""
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    if _answers(url):
        raise AnvilError(f"something already answers at {url}; choose another port")
    cmd = [str(anvil_binary(node_modules)), "--host", host, "--port", str(port), "--chain-id", "31337"]
    if block_time:
        cmd += ["--block-time", str(block_time)]
    cmd += extra_args
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AnvilError(f"anvil exited with {process.returncode}: {err.strip()}")
        if _answers(url):
            return Anvil(process, url)
        time.sleep(0.05)
    process.kill()
    raise AnvilError(f"anvil did not answer at {url} within {timeout:.0f} s")
