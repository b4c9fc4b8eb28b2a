"""One APIRouter per resource; ROUTERS is the order they are mounted in."""

from backend.api.routes import (
    accounts,
    auth,
    capacities,
    market,
    nodes,
    ops,
    orders,
    pool_tx,
    pools,
    prices,
    providers,
    settle,
    stream,
    wallet,
)

ROUTERS = [
    ops.router,
    market.router,
    wallet.router,
    pool_tx.router,
    settle.router,
    auth.router,
    orders.router,
    providers.router,
    capacities.router,
    nodes.router,
    prices.router,
    pools.router,
    accounts.router,
    stream.router,
]
