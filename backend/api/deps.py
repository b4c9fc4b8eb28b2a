"""What route handlers depend on: the settings, a database session, the chain, the signed-in address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from backend.api.chain import ChainLink
from backend.api.errors import ApiError
from backend.api.sessions import lookup
from backend.config import ApiSettings


def get_api_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_chain(request: Request) -> ChainLink:
    return request.app.state.chain


def get_chain_id(chain: Annotated[ChainLink, Depends(get_chain)]) -> int:
    return chain.chain_id


SettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_db)]
ChainDep = Annotated[ChainLink, Depends(get_chain)]
ChainIdDep = Annotated[int, Depends(get_chain_id)]

bearer = HTTPBearer(auto_error=False, description="a token from POST /auth/verify")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def current_address(db: SessionDep, chain_id: ChainIdDep, credentials: BearerDep) -> str:
    """The checksummed address signed in with the request's bearer token; 401 otherwise."""
    if credentials is None:
        raise ApiError(401, "unauthorized", "sign in first: send Authorization: Bearer <token>")
    session = lookup(db, credentials.credentials, chain_id)
    if session is None:
        raise ApiError(401, "unauthorized", "the bearer token is unknown or expired: sign in again")
    return session.address


CurrentAddress = Annotated[str, Depends(current_address)]


def optional_address(db: SessionDep, chain_id: ChainIdDep, credentials: BearerDep) -> str | None:
    """Routes open to all: None without a bearer token; a token sent must be valid all the same."""
    return None if credentials is None else current_address(db, chain_id, credentials)


OptionalAddress = Annotated[str | None, Depends(optional_address)]
