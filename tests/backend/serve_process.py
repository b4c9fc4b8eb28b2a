"""`gpuhours serve` as a user runs it: a child process on a free port, its output collected."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from backend.chain.anvil import free_port


class ServeProcess:
    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def printed_url(self, timeout: float = 60) -> str:
        """The address the command says the API is at, once it has said it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"API at (http://\S+)", self.output)
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no API address printed:\n{self.output}")

    def wait_ready(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the API did not answer at {url}:\n{self.output}")

    def interrupt(self, timeout: float = 60) -> float:
        """Ctrl-C; the seconds until the process has exited."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout)
        self._reader.join(5)
        return time.monotonic() - sent


@contextmanager
def serve_process(
    rpc_url: str, deployments_dir: Path, db_path: Path, *args: str, **env: str
) -> Iterator[ServeProcess]:
    """`gpuhours serve --port <free> *args` on a SQLite file, with no Redis and no GPUHOURS_API_DOMAIN;
    `env` adds GPUHOURS_* settings. Killed if the test has not stopped it."""
    environ = {
        **os.environ,
        "GPUHOURS_DB_URL": f"sqlite:///{db_path}",
        "GPUHOURS_RPC_URL": rpc_url,
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
        **{f"GPUHOURS_{k.upper()}": v for k, v in env.items()},
    }
    for name in ("GPUHOURS_REDIS_URL", "GPUHOURS_API_DOMAIN"):
        if name.lower().removeprefix("gpuhours_") not in env:
            environ.pop(name, None)
    gpuhours = Path(sys.executable).with_name("gpuhours")
    proc = subprocess.Popen(
        [str(gpuhours), "serve", "--port", str(free_port()), *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield ServeProcess(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
