// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {ILendingPool} from "./interfaces/ILendingPool.sol";
import {ILiquidationCallback} from "./interfaces/ILiquidationCallback.sol";
import {IExchange, Order} from "./interfaces/IExchange.sol";

/// @title BidLiquidator
/// @notice Lets a keeper with no capital liquidate a position of one lending pool: it seizes units,
///         sells them into an open bid on the Exchange inside the pool's callback, repays out of the
///         proceeds and sends what is left to the caller. One is deployed beside each pool.
/// @dev Permissionless and ownerless: it holds nothing between transactions (every unit seized is
///      sold in the same call, every stablecoin unit left is sent to the caller), so there is nothing
///      in it to steal or to lock. `minProfit` guards the caller against a bid filled or cancelled
///      first, or a repayment grown by interest, between the quote and the block.
contract BidLiquidator is ILiquidationCallback, ERC1155Holder {
    using SafeERC20 for IERC20;

    /// @notice The callback came from somewhere other than the pool.
    error NotPool(address caller);
    /// @notice What was left after the repayment is below what the caller asked for.
    error ProfitTooLow(uint256 profit, uint256 minProfit);

    ILendingPool public immutable pool;
    IExchange public immutable exchange;
    IERC20 public immutable stablecoin;

    constructor(ILendingPool pool_, IExchange exchange_) {
        (pool, exchange, stablecoin) = (pool_, exchange_, IERC20(IERC4626(address(pool_)).asset()));
    }

    /// @notice Seizes `units` of `capacityId` from `borrower` (unhealthy) and sells them into `bid`
    ///         (a buy order for that capacity, at least `units` left), then sends the proceeds less
    ///         the repayment to the caller; reverts unless that is at least `minProfit`.
    function liquidate(
        address borrower,
        uint256 capacityId,
        uint256 units,
        Order calldata bid,
        bytes calldata signature,
        uint256 minProfit
    ) external returns (uint256 profit) {
        pool.liquidate(borrower, capacityId, units, 0, abi.encode(bid, signature, units));
        profit = stablecoin.balanceOf(address(this));
        if (profit < minProfit) revert ProfitTooLow(profit, minProfit);
        if (profit != 0) stablecoin.safeTransfer(msg.sender, profit);
    }

    /// @inheritdoc ILiquidationCallback
    function onLiquidate(uint256 repaidAssets, bytes calldata data) external {
        if (msg.sender != address(pool)) revert NotPool(msg.sender);
        (Order memory bid, bytes memory signature, uint256 units) = abi.decode(data, (Order, bytes, uint256));
        exchange.fill(bid, signature, units);
        stablecoin.forceApprove(address(pool), repaidAssets);
    }
}
