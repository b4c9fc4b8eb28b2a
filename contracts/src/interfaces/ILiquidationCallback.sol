// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ILiquidationCallback
/// @notice Implemented by a liquidator that pays for a liquidation out of the units it seizes.
interface ILiquidationCallback {
    /// @notice Called by the pool during {ILendingPool-liquidate} when `data` is non-empty, after the
    ///         seized units reached the caller and before the pool pulls `repaidAssets` of the
    ///         stablecoin from it (approve the pool for them by the time this returns).
    function onLiquidate(uint256 repaidAssets, bytes calldata data) external;
}
