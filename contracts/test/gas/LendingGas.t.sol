// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {LendingFixtures} from "../utils/LendingFixtures.sol";
import {ILendingPool} from "../../src/interfaces/ILendingPool.sol";
import {BidLiquidator} from "../../src/BidLiquidator.sol";
import {Order, OrderKind} from "../../src/interfaces/IExchange.sol";

/// @notice Lending pool figures, recorded as {GasTest} records its own (each call its own
///         transaction). State: the lender already holds pool shares, the borrower has a pledged
///         capacity and an open loan, and the interest has a second to accrue.
contract LendingGasTest is LendingFixtures {
    function setUp() public override {
        super.setUp();
        _supply(SUPPLY);
        _pledge(200);
        vm.prank(renter);
        pool.borrow(10e6, renter);
        vm.warp(block.timestamp + 1);
    }

    function test_gas_supply() public {
        vm.prank(lender);
        pool.deposit(1_000e6, lender);
        _record("lending supply (deposit)", abi.encodeCall(ERC4626.deposit, (1_000e6, lender)), 80_000);
    }

    function test_gas_borrow() public {
        vm.prank(renter);
        pool.borrow(100e6, renter);
        _record("lending borrow (one capacity pledged)", abi.encodeCall(ILendingPool.borrow, (100e6, renter)), 120_000);
    }

    function test_gas_repay() public {
        vm.prank(renter);
        pool.repay(5e6, renter);
        _record("lending repay", abi.encodeCall(ILendingPool.repay, (5e6, renter)), 80_000);
    }

    /// @dev The renter borrows the most its units allow; an hour later the mark is 10 % lower.
    function _unhealthy() internal {
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        (uint256 debt,) = pool.debtOf(renter);
        vm.prank(renter);
        pool.borrow(maxDebt - debt - 1e6, renter);
        vm.warp(block.timestamp + 1 hours);
        _mark(uint128(BACKING * 9 / 10));
    }

    function test_gas_liquidate() public {
        _unhealthy();
        address liquidator = makeAddr("liquidator");
        _fund(liquidator);
        vm.prank(liquidator);
        usdc.approve(address(pool), type(uint256).max);
        vm.prank(liquidator);
        pool.liquidate(renter, cap, 50, 0, "");
        _record(
            "lending liquidate (plain, seizing units)",
            abi.encodeCall(ILendingPool.liquidate, (renter, cap, 50, 0, "")),
            150_000
        );
    }

    function test_gas_flashLiquidateToBid() public {
        _unhealthy();
        BidLiquidator flash = new BidLiquidator(pool, exchange);
        Order memory bid = _freshOrder(buyer, OrderKind.Buy, cap, 50, BACKING);
        bytes memory sig = _sign(buyerKey, bid);
        address keeper = makeAddr("keeper");
        vm.prank(keeper);
        flash.liquidate(renter, cap, 50, bid, sig, 0);
        _record(
            "lending flash liquidate (selling to a bid)",
            abi.encodeCall(BidLiquidator.liquidate, (renter, cap, 50, bid, sig, 0)),
            250_000
        );
    }

    /// @dev Records both figures and fails when execution gas is over `target`.
    function _record(string memory name, bytes memory data, uint256 target) internal {
        uint256 txGas = vm.lastCallGas().gasTotalUsed;
        uint256 intrinsic = 21_000;
        for (uint256 i; i < data.length; ++i) {
            intrinsic += data[i] == 0 ? 4 : 16;
        }
        vm.snapshotValue(string.concat(name, " (tx)"), txGas);
        vm.snapshotValue(name, txGas - intrinsic);
        assertLe(txGas - intrinsic, target, string.concat(name, ": over its gas target"));
    }
}
