// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {console2} from "forge-std/console2.sol";

import {LendingFixtures} from "../utils/LendingFixtures.sol";
import {LendingHandler} from "./LendingHandler.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice The lending pool's accounting in Morpho Blue's spirit, driven by {LendingHandler} with
///         three borrowers on one week-long capacity, a lender and a liquidator.
contract LendingInvariantTest is LendingFixtures {
    LendingHandler internal handler;
    address internal carol = makeAddr("carol");
    address internal liquidator = makeAddr("liquidator");

    function setUp() public override {
        super.setUp();
        _fund(carol);
        _fund(liquidator);
        _buyPrimary(buyer, cap, 200, BACKING);
        _buyPrimary(carol, cap, 200, BACKING);
        address[3] memory borrowers = [renter, buyer, carol];
        for (uint256 i; i < 3; ++i) {
            vm.startPrank(borrowers[i]);
            usdc.approve(address(pool), type(uint256).max);
            gpuHours.setApprovalForAll(address(pool), true);
            vm.stopPrank();
        }
        vm.prank(liquidator);
        usdc.approve(address(pool), type(uint256).max);
        uint256[] memory keys = oracleKeys;
        handler = new LendingHandler(pool, usdc, oracle, cap, nodeId, borrowers, lender, liquidator, keys);
        handler.supply(SUPPLY);
        for (uint256 i; i < 3; ++i) {
            handler.pledge(i, 200);
            handler.borrow(i, 300e6);
        }

        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = LendingHandler.supply.selector;
        selectors[1] = LendingHandler.withdraw.selector;
        selectors[2] = LendingHandler.pledge.selector;
        selectors[3] = LendingHandler.pledge.selector;
        selectors[4] = LendingHandler.unpledge.selector;
        selectors[5] = LendingHandler.borrow.selector;
        selectors[6] = LendingHandler.borrow.selector;
        selectors[7] = LendingHandler.repay.selector;
        selectors[8] = LendingHandler.warp.selector;
        selectors[9] = LendingHandler.moveMark.selector;
        selectors[10] = LendingHandler.moveMark.selector;
        selectors[11] = LendingHandler.liquidate.selector;
        selectors[12] = LendingHandler.liquidate.selector;
        selectors[13] = LendingHandler.realiseBadDebt.selector;
        selectors[14] = LendingHandler.settleExpired.selector;
        selectors[15] = LendingHandler.warpDays.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice What is lent out plus what lenders took back and lost is at most what they put in
    ///         plus the interest earned and what written-off units returned at expiry (a wei of
    ///         rounding per operation).
    function invariant_borrowedAtMostSuppliedPlusInterest() public view {
        (uint256 borrowed,) = pool.totalBorrow();
        assertLe(
            borrowed + handler.withdrawn() + handler.badDebt(),
            handler.deposited() + handler.interest() + handler.recovered() + handler.ops()
        );
    }

    /// @notice The borrowers' shares sum to the total; the pool's own position holds none.
    function invariant_sharesSumToTotal() public view {
        (, uint256 total) = pool.totalBorrow();
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            (, uint256 shares) = pool.debtOf(handler.borrowers(i));
            sum += shares;
        }
        (, uint256 own) = pool.debtOf(address(pool));
        assertEq(own, 0);
        assertEq(sum, total);
    }

    /// @notice The stablecoin the pool holds is at least its cash by the books (in, less out) plus
    ///         the expired units' proceeds reserved for positions, which are not the lenders'.
    function invariant_balanceCoversCash() public view {
        uint256 cash =
            handler.deposited() + handler.repaid() + handler.recovered() - handler.withdrawn() - handler.borrowed();
        assertGe(usdc.balanceOf(address(pool)), cash + pool.reserved());
        (uint256 borrowed,) = pool.totalBorrow();
        assertEq(pool.totalAssets(), usdc.balanceOf(address(pool)) - pool.reserved() + borrowed);
        (, uint256 left) = pool.expiredProceeds(cap);
        assertEq(pool.reserved(), left, "reserved != what the capacity's positions are still owed");
    }

    /// @notice System solvency with the pool in it: the stablecoin the escrow and the pool hold covers
    ///         all they owe (the escrow its capacity's backing, bond and premium and every account's
    ///         claimable, the pool's included; the pool its cash by the books and the proceeds
    ///         reserved for positions), and no stablecoin left the accounts the system knows.
    function invariant_systemSolvency() public view {
        Funds memory f = escrow.funds(cap);
        address[] memory accounts = _accounts();
        uint256 credits;
        uint256 total;
        for (uint256 i; i < accounts.length; ++i) {
            credits += escrow.claimable(accounts[i]);
            total += usdc.balanceOf(accounts[i]);
        }
        uint256 escrowOwes = uint256(f.backing) + f.bond + f.premium + credits;
        assertGe(usdc.balanceOf(address(escrow)), escrowOwes, "escrow insolvent with the pool in it");
        uint256 poolCash =
            handler.deposited() + handler.repaid() + handler.recovered() - handler.withdrawn() - handler.borrowed();
        assertGe(
            usdc.balanceOf(address(escrow)) + usdc.balanceOf(address(pool)),
            escrowOwes + poolCash + pool.reserved(),
            "system holds less than the escrow and the pool owe"
        );
        assertEq(total, usdc.totalSupply(), "stablecoin left the known accounts");
    }

    /// @notice Every pledged unit is held by the pool, in a borrower's position or its own, until
    ///         the capacity's units are collected; then the positions' units are those still to be
    ///         credited.
    function invariant_unitsHeld() public view {
        uint256 sum = _pledged(address(pool));
        for (uint256 i; i < 3; ++i) {
            sum += _pledged(handler.borrowers(i));
        }
        (uint256 toCredit,) = pool.expiredProceeds(cap);
        assertEq(pool.heldUnits(cap) + toCredit, sum);
        assertEq(gpuHours.balanceOf(address(pool), cap), pool.heldUnits(cap));
    }

    /// @notice A healthy position was never liquidated; no liquidation lowered the health of a
    ///         position that covered its debt; no position's bad debt was realised twice.
    function invariant_liquidationRules() public view {
        assertFalse(handler.healthyLiquidated(), "a healthy position was liquidated");
        assertFalse(handler.healthLowered(), "a liquidation lowered health");
        assertFalse(handler.badDebtTwice(), "bad debt realised twice");
    }

    /// @notice How often the rules above were exercised, so that they are known not to hold vacuously.
    function afterInvariant() external view {
        console2.log("liquidations", handler.liquidations());
        console2.log("health checks", handler.healthChecks());
        console2.log("bad debts", handler.badDebts());
        console2.log("expiry credits", handler.expiries());
        console2.log("operations", handler.ops());
    }

    /// @dev The handler's rules are live: one scripted path through it liquidates a position that
    ///      covers its debt (a health check), refuses a healthy one, and writes bad debt off once.
    function test_handler_exercisesEveryRule() public {
        handler.liquidate(0, 10, true); // healthy: refused with HealthyPosition
        handler.warp(1 hours);
        handler.moveMark(8_500); // value 0.85 × 420 = 357 ≥ debt 300 > 357 × LLTV
        handler.liquidate(0, 20, true);
        assertEq(handler.liquidations(), 1);
        assertEq(handler.healthChecks(), 1);
        _warpTo(_end(cap) - BUFFER * 1 hours);
        handler.realiseBadDebt(1);
        handler.realiseBadDebt(1);
        assertEq(handler.badDebts(), 1);
        // The written-off units' expiry proceeds become the lenders' cash, withdrawable at once.
        handler.warpDays(3 days);
        handler.warpDays(3 days);
        handler.settleExpired(0, 4);
        assertGt(handler.recovered(), 0);
        handler.withdraw(type(uint256).max);
        invariant_liquidationRules();
        invariant_borrowedAtMostSuppliedPlusInterest();
        invariant_sharesSumToTotal();
        invariant_balanceCoversCash();
        invariant_unitsHeld();
        invariant_systemSolvency();
    }

    /// @dev Through the handler, so that the interest accrued on the way is counted.
    function _warpTo(uint256 target) internal {
        while (block.timestamp + 3 days <= target) {
            handler.warpDays(3 days);
        }
        while (block.timestamp < target) {
            handler.warp(target - block.timestamp); // at most 12 hours a step
        }
    }

    /// @dev Every account that can hold stablecoin or an escrow credit in this world.
    function _accounts() internal view returns (address[] memory list) {
        list = new address[](14);
        (list[0], list[1], list[2], list[3]) = (address(escrow), address(pool), address(exchange), address(gpuHours));
        (list[4], list[5], list[6], list[7]) = (address(settlement), address(oracle), address(handler), treasury);
        (list[8], list[9], list[10], list[11]) = (provider, renter, buyer, carol);
        (list[12], list[13]) = (lender, liquidator);
    }

    function _pledged(address who) internal view returns (uint256 units) {
        (uint256[] memory ids, uint256[] memory held) = pool.collateralOf(who);
        for (uint256 i; i < ids.length; ++i) {
            if (ids[i] == cap) units = held[i];
        }
    }
}
