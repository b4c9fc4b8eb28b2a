"""The oracle node's signing key, kept only in an encrypted keystore (Web3 Secret Storage, scrypt).

The key is decrypted into memory when the node starts and is never written, printed or logged;
errors name the keystore path, never its contents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.chain.keystore import KeystoreError, load_account, read_password_file
from oracle.settings import NodeSettings


def create_keystore(path: Path, password: str, *, overwrite: bool = False) -> str:
    """Make a fresh key, write it encrypted to `path` (mode 0600) and return its address."""
    if not password:
        raise KeystoreError("refusing to create a keystore with an empty password")
    if path.exists() and not overwrite:
        raise KeystoreError(f"{path} exists; not overwriting a keystore")
    account = Account.create()
    encrypted = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(encrypted, f)
    return account.address


def keystore_password(settings: NodeSettings, password_file: Path | None = None) -> str:
    """The password from a file (first line), else GPUHOURS_ORACLE_KEYSTORE_PASSWORD."""
    path = password_file or settings.password_file
    if path is not None:
        return read_password_file(path)
    if settings.keystore_password is not None:
        return settings.keystore_password.get_secret_value()
    raise KeystoreError(
        "no keystore password: set GPUHOURS_ORACLE_PASSWORD_FILE or "
        "GPUHOURS_ORACLE_KEYSTORE_PASSWORD, or pass --password-file"
    )


def load_oracle_account(
    settings: NodeSettings, keystore: Path | None = None, password_file: Path | None = None
) -> LocalAccount:
    path = keystore or settings.keystore
    if path is None:
        raise KeystoreError("no keystore: set GPUHOURS_ORACLE_KEYSTORE or pass --keystore")
    return load_account(path, keystore_password(settings, password_file))
