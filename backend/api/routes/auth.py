"""Sign-In with Ethereum (EIP-4361): a single-use nonce, a signed message, a bearer token."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy import delete, update
from sqlmodel import col

from backend.api import sessions
from backend.api.deps import BearerDep, ChainDep, ChainIdDep, CurrentAddress, SessionDep, SettingsDep
from backend.api.errors import RATE_LIMITED, SIGNED_IN, ApiError, documented
from backend.api.limits import write_quota
from backend.api.schemas.auth import Me, NonceCreate, NoncePublic, SessionPublic, SignIn
from backend.api.siwe_verify import STATEMENT, accepted_domains, check_signature, iso, parse, prepare
from backend.config import ApiSettings
from backend.db.models import AuthNonce

router = APIRouter(prefix="/auth", tags=["auth"])

AUTH_ERRORS = documented(
    {
        400: "malformed_message: not an EIP-4361 message",
        401: "wrong_domain, wrong_chain, nonce_unknown, nonce_used, nonce_expired, "
        "bad_signature, message_expired, message_not_yet_valid",
    }
)


def _domains(settings: ApiSettings) -> list[str]:
    return accepted_domains(settings.api_domain, settings.api_host, settings.api_port)


def _domain_for(request: Request, settings: ApiSettings) -> str:
    """The domain to offer: the one the client reached this server by, when it is accepted."""
    domains = _domains(settings)
    host = request.headers.get("host", "")
    return host if host in domains else domains[0]


def _uri(domain: str) -> str:
    host = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    scheme = "http" if host in ("localhost", "127.0.0.1", "[::1]", "0.0.0.0") else "https"  # noqa: S104
    return f"{scheme}://{domain}"


@router.post(
    "/nonce",
    response_model=NoncePublic,
    summary="A fresh sign-in nonce and the message fields",
    responses=RATE_LIMITED,
    dependencies=[Depends(write_quota)],
)
def new_nonce(
    request: Request,
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    body: NonceCreate | None = None,
) -> NoncePublic:
    """The nonce is good for one sign-in within its lifetime. Put it, the domain, URI and chain id in
    an EIP-4361 message (or send `address` and sign the `message` returned) and post it to
    /auth/verify with its signature."""
    now = time.time()
    # Nonces long past their expiry can only ever answer `nonce_unknown` instead of `nonce_expired`.
    db.exec(delete(AuthNonce).where(col(AuthNonce.expires_at) < now - settings.api_nonce_ttl))
    nonce = secrets.token_hex(16)  # EIP-4361: at least 8 alphanumerics
    expires = now + settings.api_nonce_ttl
    db.add(AuthNonce(nonce=nonce, issued_at=now, expires_at=expires))
    db.commit()
    domain = _domain_for(request, settings)
    uri = _uri(domain)
    message = None
    if body is not None and body.address is not None:
        message = prepare(domain, body.address, uri, chain_id, nonce, now, expires)
    return NoncePublic(
        nonce=nonce,
        domain=domain,
        uri=uri,
        chain_id=chain_id,
        statement=STATEMENT,
        issued_at=iso(now),
        expiration_time=iso(expires),
        expires_at=expires,
        message=message,
    )


def _nonce_problem(row: AuthNonce | None, nonce: str, now: float) -> ApiError | None:
    if row is None:
        return ApiError(401, "nonce_unknown", f"nonce {nonce} was not issued here: ask POST /auth/nonce")
    if row.used_at is not None:
        return ApiError(401, "nonce_used", f"nonce {nonce} was already used to sign in; ask for a new one")
    if row.expires_at <= now:
        return ApiError(
            401, "nonce_expired", f"nonce {nonce} expired at {iso(row.expires_at)}; ask for a new one"
        )
    return None


@router.post(
    "/verify",
    response_model=SessionPublic,
    responses={**AUTH_ERRORS, **RATE_LIMITED},
    dependencies=[Depends(write_quota)],
    summary="Sign in: a signed EIP-4361 message for a token",
)
def verify(body: SignIn, db: SessionDep, chain: ChainDep, settings: SettingsDep) -> SessionPublic:
    """Checks the domain, the chain id, the nonce (issued here, unused, unexpired), the message's
    time bounds and the signature: an EOA's, or one the address's contract accepts through ERC-1271.
    The nonce is consumed in the same transaction that issues the token, so it signs in once."""
    message = parse(body.message)
    domains = _domains(settings)
    if message.domain not in domains:
        raise ApiError(
            401,
            "wrong_domain",
            f"the message is for {message.domain!r}; this server signs in "
            + " or ".join(repr(d) for d in domains),
        )
    if message.chain_id != chain.chain_id:
        raise ApiError(
            401,
            "wrong_chain",
            f"the message is for chain {message.chain_id}; this market is on chain {chain.chain_id}",
        )
    now = time.time()
    problem = _nonce_problem(db.get(AuthNonce, message.nonce), message.nonce, now)
    if problem is not None:
        raise problem
    check_signature(message, body.signature, message.domain, message.nonce, chain.market.w3.provider)
    # End the read: the UPDATE must open its own transaction, since SQLite cannot turn a read snapshot
    # that another writer has overtaken into a write.
    db.rollback()

    # Consume atomically: of two sign-ins racing with one nonce, exactly one updates the row.
    consumed = db.exec(
        update(AuthNonce)
        .where(
            col(AuthNonce.nonce) == message.nonce,
            col(AuthNonce.used_at).is_(None),
            col(AuthNonce.expires_at) > now,
        )
        .values(used_at=now)
    )
    if consumed.rowcount != 1:
        db.rollback()
        raise _nonce_problem(db.get(AuthNonce, message.nonce), message.nonce, time.time()) or ApiError(
            401, "nonce_used", f"nonce {message.nonce} was already used to sign in"
        )
    token, expires = sessions.issue(db, message.address, chain.chain_id, settings.api_session_ttl)
    db.commit()
    return SessionPublic(token=token, address=message.address, chain_id=chain.chain_id, expires_at=expires)


@router.get("/me", response_model=Me, summary="The signed-in address", responses=SIGNED_IN)
def me(address: CurrentAddress, chain_id: ChainIdDep) -> Me:
    return Me(address=address, chain_id=chain_id)


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke this bearer token", responses=SIGNED_IN
)
def logout(_: CurrentAddress, credentials: BearerDep, db: SessionDep) -> Response:
    # The DELETE opens its own transaction: SQLite cannot upgrade the read snapshot of the token's
    # lookup once another writer (the indexer) has overtaken it.
    db.rollback()
    if credentials is not None:  # always: CurrentAddress answered 401 otherwise
        sessions.revoke(db, credentials.credentials)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
