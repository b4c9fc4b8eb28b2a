"""The chain's side of the wire: what an unreachable or failing JSON-RPC endpoint raises through web3.

The oracle node reading fills and the aggregator landing reports both catch exactly these (requests'
errors are OSErrors), so a chain that cannot be reached is a sentence, never a crash.
"""

from __future__ import annotations

from web3.exceptions import Web3Exception

RPC_ERRORS: tuple[type[Exception], ...] = (OSError, Web3Exception)
