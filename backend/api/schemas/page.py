"""One page of a listing, the same for every resource."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """A page of a listing: `items` in the listing's order, `limit` and `offset` as applied. Each
    listing subclasses it for its items, so the OpenAPI document names its page (`CapacityPage`)."""

    items: list[ItemT]
    total: int = Field(description="items matching the filters, on all pages")
    limit: int
    offset: int
