// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {ILendingPool} from "../../src/interfaces/ILendingPool.sol";
import {ILiquidationCallback} from "../../src/interfaces/ILiquidationCallback.sol";

/// @notice A liquidator whose callback calls back into the pool (`call`, chosen by the test), and
///         records the pool's total assets as the callback sees them.
contract ReentrantLiquidator is ILiquidationCallback, ERC1155Holder {
    address public immutable pool;
    bytes public call;
    uint256 public seenTotalAssets;

    constructor(address pool_, IERC20 stablecoin) {
        pool = pool_;
        stablecoin.approve(pool_, type(uint256).max);
    }

    function liquidate(address borrower, uint256 capacityId, uint256 units, bytes calldata reentry) external {
        call = reentry;
        ILendingPool(pool).liquidate(borrower, capacityId, units, 0, "go");
    }

    function onLiquidate(uint256, bytes calldata) external {
        seenTotalAssets = IERC4626(pool).totalAssets();
        if (call.length == 0) return;
        (bool ok, bytes memory reason) = pool.call(call);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }
}
