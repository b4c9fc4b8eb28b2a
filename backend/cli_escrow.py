"""Money the escrow owes an account (earnings, refunds, bonds returned): see it and withdraw it."""

from __future__ import annotations

from backend.cli_common import Session
from backend.cli_errors import CliError, ExitCode


def withdraw_claimable(s: Session) -> int:
    """Withdraw what the escrow owes the signer; nothing owed is refused, nothing sent."""
    m, account = s.market, s.account
    owed = m.claimable(account.address)
    if owed == 0:
        raise CliError(f"nothing to withdraw: the escrow owes {account.address} $0.00", ExitCode.FAILED)
    return s.send(f"withdrew {s.usd(owed)} from the escrow", lambda: m.withdraw(account))
