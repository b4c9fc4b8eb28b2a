"""The order states' one spelling: the API's query parameter and the store's status column say the
same words as the market's enums."""

from __future__ import annotations

from typing import get_args

from backend.api.routes.orders import State
from backend.market.order_state import OrderStatus, PostedOrderState


def test_the_api_filters_by_exactly_the_states_the_market_derives() -> None:
    assert set(get_args(State)) == {s.value for s in PostedOrderState}


def test_every_stored_status_is_also_a_state() -> None:
    assert {s.value for s in OrderStatus} <= {s.value for s in PostedOrderState}
