"""How to read the market's numbers: the chain, the stablecoin and its decimals, the hour, the fee.

Every amount of money the API answers or takes is an integer in the stablecoin's smallest unit
(6 decimals for USDC: 2200000 is $2.20), every price is per GPU-hour, every time is Unix seconds.
"""

from __future__ import annotations

import threading

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import ChainDep
from backend.chain.protocol import HOUR

router = APIRouter(tags=["market"])


class Stablecoin(BaseModel):
    address: str
    symbol: str = Field(examples=["USDC"])
    decimals: int = Field(description="money amounts are integers in units of 10^-decimals", examples=[6])


class MarketInfo(BaseModel):
    chain_id: int
    stablecoin: Stablecoin
    money: str = Field(description="how every amount of money in the API is written")
    price: str = Field(description="what a price is per")
    hour_seconds: int = Field(description="one GPU-hour token covers this many seconds of one GPU")
    fee_bps: int = Field(description="the exchange's fee on every fill, in basis points (immutable)")
    contracts: dict[str, str] = Field(description="the deployed contracts by name")


_known: dict[tuple[int, str], MarketInfo] = {}  # all of it is immutable on chain: read once a process
_lock = threading.Lock()


@router.get("/market", summary="Units and contracts: how to read every amount the API answers")
def market_info(chain: ChainDep) -> MarketInfo:
    market = chain.market
    key = (market.chain_id, market.exchange.address)
    with _lock:
        if key not in _known:
            decimals = market.usdc.functions.decimals().call()
            symbol = market.usdc.functions.symbol().call()
            _known[key] = MarketInfo(
                chain_id=market.chain_id,
                stablecoin=Stablecoin(address=market.usdc.address, symbol=symbol, decimals=decimals),
                money=f"an integer number of {symbol} units of 10^-{decimals}: "
                f"{10**decimals * 22 // 10} is {symbol} 2.20",
                price=f"{symbol} units per GPU-hour ({HOUR} seconds of one GPU)",
                hour_seconds=HOUR,
                fee_bps=market.escrow.functions.feeBps().call(),
                contracts={name: market.deployment.address(name) for name in market.deployment.contracts},
            )
        return _known[key]
