"""Sign-In with Ethereum (EIP-4361): the nonce handed out, the signed message, the bearer token."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.api.schemas.orders import HexSignature
from backend.api.schemas.types import Address

_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_MESSAGE = (
    "market.gpuhours.xyz wants you to sign in with your Ethereum account:\n"
    f"{_ADDRESS}\n\n"
    "Sign in to the gpuhours market.\n\n"
    "URI: https://market.gpuhours.xyz\n"
    "Version: 1\n"
    "Chain ID: 31337\n"
    "Nonce: 5f1d2c7b9a0e4c3d8b6a1f2e3d4c5b6a\n"
    "Issued At: 2025-06-01T12:00:00.000Z\n"
    "Expiration Time: 2025-06-01T12:10:00.000Z"
)


class NonceCreate(BaseModel):
    address: Address | None = Field(
        None, description="the address that will sign in; when given, `message` is the full text to sign"
    )

    model_config = {"json_schema_extra": {"examples": [{"address": _ADDRESS}]}}


class NoncePublic(BaseModel):
    nonce: str = Field(description="single use; put it in the message's `Nonce:` line")
    domain: str = Field(description="the message's domain (first line)")
    uri: str = Field(description="the message's `URI:`")
    chain_id: int = Field(description="the message's `Chain ID:`")
    version: str = "1"
    statement: str
    issued_at: str = Field(description="ISO 8601, the message's `Issued At:`")
    expiration_time: str = Field(description="ISO 8601; the nonce cannot be used after it")
    expires_at: float = Field(description="the same, in unix seconds")
    message: str | None = Field(None, description="the EIP-4361 text to sign, when `address` was given")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "nonce": "5f1d2c7b9a0e4c3d8b6a1f2e3d4c5b6a",
                    "domain": "market.gpuhours.xyz",
                    "uri": "https://market.gpuhours.xyz",
                    "chain_id": 31337,
                    "version": "1",
                    "statement": "Sign in to the gpuhours market.",
                    "issued_at": "2025-06-01T12:00:00.000Z",
                    "expiration_time": "2025-06-01T12:10:00.000Z",
                    "expires_at": 1748779800.0,
                    "message": _MESSAGE,
                }
            ]
        }
    }


class SignIn(BaseModel):
    message: str = Field(max_length=4096, description="the EIP-4361 message, exactly as signed")
    signature: HexSignature = Field(
        description="EIP-191 personal_sign of the message; any length for an ERC-1271 contract wallet"
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "message": _MESSAGE,
                    "signature": "0x" + "ab" * 65,
                }
            ]
        }
    }


class SessionPublic(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`")
    token_type: str = "bearer"  # noqa: S105 — the OAuth token type, not a secret
    address: str
    chain_id: int
    expires_at: float = Field(description="unix seconds")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "token": "q3Jw1m0y0ZsM3q1cH0fVbq2m9Q3o0bS4mXw8zPz3Y0c",
                    "token_type": "bearer",
                    "address": _ADDRESS,
                    "chain_id": 31337,
                    "expires_at": 1748865600.0,
                }
            ]
        }
    }


class Me(BaseModel):
    address: str
    chain_id: int

    model_config = {"json_schema_extra": {"examples": [{"address": _ADDRESS, "chain_id": 31337}]}}
