"""One APIRouter per resource; ROUTERS is the order they are mounted in."""

from backend.api.routes import auth, ops, orders, providers, wallet
from backend.api.routes import accounts, capacities, nodes, prices, stream

ROUTERS = [ops.router, wallet.router, auth.router, orders.router, providers.router,
           capacities.router, nodes.router, prices.router, accounts.router, stream.router]
