"""`gpuhours login`: Sign-In with Ethereum against the API; the token is kept for the later commands."""

from __future__ import annotations

from urllib.parse import urlsplit

from eth_account.messages import encode_defunct

from backend.cli_api import save_token
from backend.cli_common import Session, user_command
from backend.cli_errors import CliError, ExitCode
from backend.cli_units import show_time


@user_command(api=True, wallet=True)
def login(s: Session) -> None:
    """Sign in to the API (EIP-4361) and keep the token, readable by you alone, for the other commands."""
    account = s.account
    offer = s.api.post("/auth/nonce", {"address": account.address})
    if offer["chain_id"] != s.market.chain_id:
        raise CliError(
            f"wrong network: the API at {s.api.url} serves chain {offer['chain_id']}, "
            f"the RPC is on chain {s.market.chain_id}",
            ExitCode.WRONG_NETWORK,
            api_chain_id=offer["chain_id"],
            chain_id=s.market.chain_id,
        )
    _check_message(offer["message"], s.api.url, account.address, s.market.chain_id)
    signature = account.sign_message(encode_defunct(text=offer["message"])).signature
    session = s.api.post("/auth/verify", {"message": offer["message"], "signature": "0x" + signature.hex()})
    path = save_token(
        s.api.url, session["address"], session["token"], session["expires_at"], offer["chain_id"]
    )
    s.out.result(
        {
            "address": session["address"],
            "chain_id": session["chain_id"],
            "expires_at": session["expires_at"],
            "config": str(path),
        },
        f"signed in to {s.api.url} as {session['address']} on chain {session['chain_id']} until "
        f"{show_time(int(session['expires_at']))}; the token is kept in {path} (readable by you alone)",
    )


def _check_message(message: str, api_url: str, address: str, chain_id: int) -> None:
    """Sign only a sign-in to the API reached, for this address and chain: an API that hands out a
    message for another site, account or chain gets no signature."""
    domain = urlsplit(api_url).netloc
    lines = message.splitlines()
    expected = {
        "domain": f"{domain} wants you to sign in with your Ethereum account:",
        "address": address,
        "chain": f"Chain ID: {chain_id}",
    }
    found = {"domain": lines[0] if lines else "", "address": lines[1] if len(lines) > 1 else ""}
    found["chain"] = next((line for line in lines if line.startswith("Chain ID: ")), "")
    wrong = [k for k in expected if found[k] != expected[k]]
    if wrong:
        raise CliError(
            f"refused to sign: the API at {api_url} asked to sign in with a message whose "
            f"{' and '.join(wrong)} is not this one's ({', '.join(repr(found[k]) for k in wrong)})",
            ExitCode.FAILED,
        )
