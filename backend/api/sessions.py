"""Bearer tokens: random, handed out once after a sign-in, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import delete
from sqlmodel import Session, col

from backend.db.models import ApiSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(db: Session, address: str, chain_id: int, ttl: float) -> tuple[str, float]:
    """A new token for `address`; returns (token, expires_at). The caller commits."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    db.add(
        ApiSession(
            token_hash=_hash(token), address=address, chain_id=chain_id, issued_at=now, expires_at=now + ttl
        )
    )
    return token, now + ttl


def lookup(db: Session, token: str, chain_id: int) -> ApiSession | None:
    """The live session of `token` on this chain, or None."""
    row = db.get(ApiSession, _hash(token))
    if row is None or row.chain_id != chain_id or row.expires_at <= time.time():
        return None
    return row


def revoke(db: Session, token: str) -> None:
    db.exec(delete(ApiSession).where(col(ApiSession.token_hash) == _hash(token)))
