"""deployments/Procfile's processes as an operator's supervisor runs them: each line its own process (its
own process group, killed whole), its output in a log file, stopped or killed and started again by the
test where a supervisor (systemd, Kubernetes) would restart it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from honcho.environ import parse_procfile

from backend.chain.deployments import REPO_ROOT

PROCFILE = REPO_ROOT / "deployments" / "Procfile"


class Layout:
    def __init__(self, env: dict[str, str], logs: Path):
        self.commands = parse_procfile(PROCFILE.read_text()).processes
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}

    def start(self, *names: str) -> None:
        for name in names or tuple(self.commands):
            self.starts[name] = self.starts.get(name, 0) + 1
            out = (self.logs / f"{name}.log").open("ab")
            out.write(f"--- start {self.starts[name]}\n".encode())
            out.flush()
            # The committed Procfile's line, through a shell as honcho runs it (its ${VAR:-default}s).
            self.procs[name] = subprocess.Popen(  # noqa: S602
                self.commands[name],
                shell=True,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def signal(self, name: str, sig: signal.Signals) -> None:
        """`sig` to the process's whole group (the shell, the program, its children)."""
        os.killpg(self.procs[name].pid, sig)

    def stop(self, name: str, timeout: float = 30) -> int | None:
        proc = self.procs[name]
        if proc.poll() is None:
            self.signal(name, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                proc.wait(10)
        return proc.returncode

    def stop_all(self) -> None:
        for name in self.procs:
            self.stop(name)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def since(self, name: str, mark: int) -> str:
        return self.log(name)[mark:]

    def wait_log(self, name: str, text: str, timeout: float = 60, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name)[after:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never logged {text!r}:\n{self.log(name)[after:][-3000:]}")
            time.sleep(0.1)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    out = []
    for child in children(pid):
        out += [child, *descendants(child)]
    return out


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def running(pid: int) -> bool:
    """The process exists and is not a zombie (one whose exit nobody has collected yet)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def outliving(pids: list[int], grace: float = 5.0) -> list[int]:
    """Those of `pids` still running after up to `grace` seconds."""
    deadline = time.monotonic() + grace
    while (alive := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive
