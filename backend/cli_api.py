"""The gpuhours API over HTTP for the user commands, and the sign-in tokens they keep.

A refusal comes as the API's error JSON (`{"error": {"code", "reason"}}`) and becomes a CliError with
the exit code its `code` means. Tokens are kept per API and address in one file only its owner can
read (0600): $GPUHOURS_CLI_CONFIG, else $XDG_CONFIG_HOME/gpuhours/sessions.json, else
~/.config/gpuhours/sessions.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from backend.cli_errors import API_CODES, CliError, ExitCode


class Api:
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._call("POST", path, json=body, headers=headers)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise CliError(
                f"the API at {self.url} does not answer ({type(exc).__name__}): is `gpuhours serve` running?",
                ExitCode.UNREACHABLE,
            ) from None
        if answer.status_code < 400:
            return answer.json() if answer.content else None
        try:
            error = answer.json()["error"]
            code, reason = str(error["code"]), str(error["reason"])
        except (ValueError, KeyError, TypeError):
            code, reason = "http_error", answer.text[:200] or answer.reason_phrase
        raise CliError(
            f"the API refused ({code}): {reason}",
            API_CODES.get(code, ExitCode.FAILED),
            api_code=code,
            status=answer.status_code,
        )


def config_path() -> Path:
    explicit = os.environ.get("GPUHOURS_CLI_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gpuhours" / "sessions.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"{path} is not a readable sessions file: {type(exc).__name__}") from None
    return data if isinstance(data, dict) else {}


def save_token(api_url: str, address: str, token: str, expires_at: float, chain_id: int) -> Path:
    """Keep a sign-in token for this API and address; the file is made readable by its owner alone."""
    path = config_path()
    data = _read(path)
    data.setdefault(api_url.rstrip("/"), {})[address.lower()] = {
        "token": token,
        "expires_at": expires_at,
        "chain_id": chain_id,
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # a file that existed keeps its mode through O_CREAT
        json.dump(data, f, indent=2)
    return path


def saved_token(api_url: str, address: str) -> str | None:
    """The token kept for this API and address, unless it has expired."""
    entry = _read(config_path()).get(api_url.rstrip("/"), {}).get(address.lower())
    if not entry or entry.get("expires_at", 0) <= time.time():
        return None
    return str(entry["token"])
