"""One APIRouter per resource; ROUTERS is the order they are mounted in."""

from backend.api.routes import (
    accounts,
    auth,
    capacities,
    nodes,
    ops,
    orders,
    prices,
    providers,
    settle,
    stream,
    wallet,
)

ROUTERS = [
    ops.router,
    wallet.router,
    settle.router,
    auth.router,
    orders.router,
    providers.router,
    capacities.router,
    nodes.router,
    prices.router,
    accounts.router,
    stream.router,
]
