"""What a provider says of its node beyond the on-chain registry."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints, UrlConstraints
from pydantic.config import JsonDict

Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
    ),
]

_EXAMPLE: JsonDict = {
    "name": "fra-h100-01",
    "description": "4x H100 SXM5 80GB, NVLink, Frankfurt; 400 Gb/s uplink.",
    "endpoint": "https://fra-h100-01.example.net/",
    "tags": ["h100", "nvlink", "eu-central"],
}


class NodeMetadataBase(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=2000)
    endpoint: Annotated[HttpUrl, UrlConstraints(max_length=256)] | None = Field(
        None, description="where renters reach the node (http or https, at most 256 characters)"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=16)


class NodeMetadataUpdate(NodeMetadataBase):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class NodeMetadataPublic(BaseModel):
    """What the provider says of the node, beyond the registry."""

    name: str
    description: str
    endpoint: str | None
    tags: list[str]
    updated_at: float


class NodeMetadataRecord(NodeMetadataPublic):
    """The metadata as stored, with the node it describes and the owner who wrote it."""

    chain_id: int
    node_id: int
    owner: str = Field(description="the node's owner on chain when this was written")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "chain_id": 31337,
                    "node_id": 1,
                    "owner": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    **_EXAMPLE,
                    "updated_at": 1748779200.0,
                }
            ]
        }
    )
