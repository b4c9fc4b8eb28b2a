"""Keys kept only in encrypted keystores (Web3 Secret Storage, scrypt), for every process that signs.

A key is decrypted into memory and never written, printed or logged; errors name the files, never
their contents.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount


class KeystoreError(Exception):
    """A keystore that is missing, unreadable, or does not open with the password given."""


def load_account(path: Path, password: str) -> LocalAccount:
    try:
        encrypted = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(f"no keystore at {path}") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"{path} is not a readable keystore: {type(exc).__name__}") from None
    try:
        key = Account.decrypt(encrypted, password)
    except ValueError:
        raise KeystoreError(f"the password does not open {path}") from None
    except (KeyError, TypeError):
        raise KeystoreError(f"{path} is not a keystore file") from None
    return Account.from_key(key)


def read_password_file(path: Path) -> str:
    """The first line of a password file."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise KeystoreError(f"cannot read the password file {path}: {exc.strerror}") from None
    return lines[0] if lines else ""
