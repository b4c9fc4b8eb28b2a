"""The aggregator's sending account, which pays for report transactions.

From an encrypted keystore (Web3 Secret Storage) when one is given or set; on a development chain
only, without one, an Anvil dev account. The key lives in memory only, and errors name the keystore
path, never its contents.
"""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from backend.chain.dev_accounts import dev_account
from backend.chain.keystore import KeystoreError, load_account, read_password_file
from backend.chain.protocol import DEV_CHAIN_IDS
from oracle.settings import AggregatorSettings

# Anvil dev accounts: 0 deploys, 1-5 trade in tests and the demo, 6-8 sign reports, 9 submits them.
DEV_SENDER_INDEX = 9


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
