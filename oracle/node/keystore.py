"""The oracle's signing key, kept only in an encrypted keystore (Web3 Secret Storage, scrypt).

The key is decrypted into memory when the node starts and is never written, printed or logged;
errors name the keystore path, never its contents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.chain.dev_accounts import dev_account
from backend.chain.keystore import KeystoreError, load_account, read_password_file
from backend.chain.protocol import DEV_CHAIN_IDS
from oracle.settings import AggregatorSettings, NodeSettings

# Anvil dev accounts: 0 deploys, 1-5 trade in tests and the demo, 6-8 sign reports, 9 submits them.
DEV_SENDER_INDEX = 9


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


def load_sender_account(
    settings: AggregatorSettings,
    chain_id: int,
    keystore: Path | None = None,
    password_file: Path | None = None,
) -> tuple[LocalAccount, str]:
    """The account that pays for report transactions, and a few words on where it came from.

    From a keystore when one is given or set; otherwise, on a development chain only, Anvil's dev
    account 9 (dev_account refuses every other chain).
    """
    path = keystore or settings.sender_keystore
    if path is not None:
        password_path = password_file or settings.sender_password_file
        if password_path is None:
            raise KeystoreError(
                "no password for the sender keystore: pass --password-file or set "
                "GPUHOURS_ORACLE_SENDER_PASSWORD_FILE"
            )
        return load_account(path, read_password_file(password_path)), f"keystore {path}"
    if chain_id not in DEV_CHAIN_IDS:
        raise KeystoreError(
            f"no sender account for chain {chain_id}: pass --keystore or set GPUHOURS_ORACLE_SENDER_KEYSTORE"
        )
    where = f"dev account {DEV_SENDER_INDEX}, for development chains only"
    return dev_account(DEV_SENDER_INDEX, chain_id), where
