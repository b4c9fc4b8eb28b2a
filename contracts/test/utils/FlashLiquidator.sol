// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {ILendingPool} from "../../src/interfaces/ILendingPool.sol";
import {ILiquidationCallback} from "../../src/interfaces/ILiquidationCallback.sol";
import {IExchange, Order} from "../../src/interfaces/IExchange.sol";

/// @notice A keeper's liquidator with no capital: it seizes units, sells them into an open bid on the
///         Exchange inside the pool's callback, repays out of the proceeds and sends the rest to the
///         keeper that called it.
contract FlashLiquidator is ILiquidationCallback, ERC1155Holder {
    using SafeERC20 for IERC20;

    error NotPool(address caller);

    ILendingPool public immutable pool;
    IExchange public immutable exchange;
    IERC20 public immutable stablecoin;

    constructor(ILendingPool pool_, IExchange exchange_, IERC20 stablecoin_) {
        (pool, exchange, stablecoin) = (pool_, exchange_, stablecoin_);
    }

    /// @notice Seizes `units` of `capacityId` from `borrower` and sells them into `bid`; returns the profit.
    function liquidate(address borrower, uint256 capacityId, uint256 units, Order calldata bid, bytes calldata sig)
        external
        returns (uint256 profit)
    {
        pool.liquidate(borrower, capacityId, units, 0, abi.encode(bid, sig, units));
        profit = stablecoin.balanceOf(address(this));
        stablecoin.safeTransfer(msg.sender, profit);
    }

    function onLiquidate(uint256 repaidAssets, bytes calldata data) external {
        if (msg.sender != address(pool)) revert NotPool(msg.sender);
        (Order memory bid, bytes memory sig, uint256 units) = abi.decode(data, (Order, bytes, uint256));
        exchange.fill(bid, sig, units);
        stablecoin.forceApprove(address(pool), repaidAssets);
    }
}
