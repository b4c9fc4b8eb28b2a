"""Anvil's well-known development accounts. They exist only on development chains."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.chain.protocol import DEV_CHAIN_IDS

# Anvil's (and Hardhat's) published test mnemonic: public, funded only on local chains.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"

# Dev accounts that sign oracle reports on development chains (deployed as the signer set).
DEV_ORACLE_ACCOUNTS = (6, 7, 8)

Account.enable_unaudited_hdwallet_features()


def dev_account(index: int, chain_id: int) -> LocalAccount:
    if chain_id not in DEV_CHAIN_IDS:
        raise ValueError(f"development accounts are for chains {sorted(DEV_CHAIN_IDS)}, not {chain_id}")
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
