"""Sign-In with Ethereum (EIP-4361) messages: parse them quietly, and check one against what this
server asked for."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

from abnf import GrammarWarning
from web3.providers.base import BaseProvider

# siwe's bundled ABNF grammar redefines core rules (ALPHA, DIGIT, ...); the parser reports each as a
# warning when the grammar loads and on its first use. Nothing for this server to act on.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", GrammarWarning)
    from siwe import SiweMessage
    from siwe.siwe import (
        DomainMismatch,
        ExpiredMessage,
        InvalidSignature,
        NonceMismatch,
        NotYetValidMessage,
        VerificationError,
    )

from backend.api.errors import ApiError

STATEMENT = "Sign in to the gpuhours market."


_LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "::1", "::", "")  # noqa: S104 — names, not a bind


def accepted_domains(api_domain: str | None, host: str, port: int) -> list[str]:
    """The EIP-4361 domains (RFC 3986 authorities) a sign-in may name, the one to offer first.

    `api_domain` when set (comma-separated for several); else the host and port served on, which is
    what `gpuhours serve` prints. On a loopback or all-interfaces host a browser may say either
    localhost or 127.0.0.1, so both are accepted; on port 80 also without the port, as browsers
    write it."""
    if api_domain:
        return [d.strip() for d in api_domain.split(",") if d.strip()]
    hosts = [host]
    if host in _LOCAL_HOSTS:
        hosts += ["127.0.0.1", "localhost"]
    out: list[str] = []
    for h in dict.fromkeys(x for x in hosts if x):
        authority = f"[{h}]" if ":" in h else h
        out.append(f"{authority}:{port}")
        if port == 80:
            out.append(authority)
    return list(dict.fromkeys(out))


def iso(t: float) -> str:
    """Unix seconds as EIP-4361 writes times: ISO 8601 UTC with milliseconds and Z."""
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> SiweMessage:
    """The message, or a 400 `malformed_message`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GrammarWarning)
        try:
            return SiweMessage.from_message(text)
        except (ValueError, TypeError) as exc:
            text = str(exc).strip()
            detail = text.splitlines()[0] if text else "it does not follow the grammar"
            raise ApiError(400, "malformed_message", f"not an EIP-4361 message: {detail}") from None


def prepare(
    domain: str, address: str, uri: str, chain_id: int, nonce: str, issued_at: float, expires_at: float
) -> str:
    """The text a wallet signs for these values."""
    return SiweMessage(
        domain=domain,
        address=address,
        uri=uri,
        version="1",
        chain_id=chain_id,
        nonce=nonce,
        statement=STATEMENT,
        issued_at=iso(issued_at),
        expiration_time=iso(expires_at),
    ).prepare_message()


def check_signature(
    message: SiweMessage, signature: str, domain: str, nonce: str, provider: BaseProvider
) -> None:
    """EOA signature, or ERC-1271 through `provider`; the message's own time bounds."""
    try:
        message.verify(signature, domain=domain, nonce=nonce, provider=provider)
    except ExpiredMessage:
        raise ApiError(401, "message_expired", f"the message expired at {message.expiration_time}") from None
    except NotYetValidMessage:
        raise ApiError(
            401, "message_not_yet_valid", f"the message is not valid before {message.not_before}"
        ) from None
    except InvalidSignature:
        raise ApiError(
            401,
            "bad_signature",
            f"the signature is not {message.address}'s over this message "
            "(neither an EOA signature nor accepted by ERC-1271)",
        ) from None
    except (DomainMismatch, NonceMismatch, VerificationError) as exc:  # checked before; kept for safety
        raise ApiError(401, "bad_message", f"the message does not verify: {type(exc).__name__}") from None
