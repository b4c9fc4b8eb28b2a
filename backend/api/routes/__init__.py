"""One APIRouter per resource; ROUTERS is the order they are mounted in."""

from backend.api.routes import ops

ROUTERS = [ops.router]
