// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "forge-std/Vm.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {LendingFixtures} from "./utils/LendingFixtures.sol";
import {BidLiquidator} from "../src/BidLiquidator.sol";
import {ReentrantLiquidator} from "./utils/ReentrantLiquidator.sol";
import {LendingPool, PoolParams} from "../src/LendingPool.sol";
import {ILendingPool} from "../src/interfaces/ILendingPool.sol";
import {Order, OrderKind} from "../src/interfaces/IExchange.sol";

/// @notice Liquidation, flash liquidation, bad debt and dust. The renter borrows the most its 200
///         units allow, then the mark falls so that the position is unhealthy.
contract LendingLiquidationTest is LendingFixtures {
    address internal liquidator = makeAddr("liquidator");

    function setUp() public override {
        super.setUp();
        _supply(SUPPLY);
        _pledge(200);
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        vm.prank(renter);
        pool.borrow(maxDebt, renter);
        _fund(liquidator);
        vm.prank(liquidator);
        usdc.approve(address(pool), type(uint256).max);
    }

    /// @dev An hour later, a new mark at `price`.
    function _markAt(uint128 price) internal {
        vm.warp(block.timestamp + 1 hours);
        _mark(price);
    }

    function _liquidate(uint256 units, uint256 shares) internal returns (uint256 seized, uint256 repaid) {
        vm.prank(liquidator);
        return pool.liquidate(renter, cap, units, shares, "");
    }

    function _mark() internal view returns (uint256 price) {
        (price,) = oracle.markPrice(CLASS);
    }

    function _shares() internal view returns (uint256 shares) {
        (, shares) = pool.debtOf(renter);
    }

    // ================================================================ incentive

    function test_incentive_fromLltv() public {
        assertEq(pool.liquidationIncentive(), uint256(1e36) / (1e18 - 0.3e18 * (1e18 - LLTV) / 1e18));
        assertEq(pool.liquidationIncentive(), 1_063_829_787_234_042_553);
        PoolParams memory p = _params();
        p.lltv = 0.5e18; // 1 / 0.85 = 1.176…: capped
        assertEq(new LendingPool(p, "", "").liquidationIncentive(), 1.15e18);
        assertEq(pool.minDebt(), MIN_DEBT);
    }

    // ================================================================ liquidate

    function test_liquidate_bySeizedUnits() public {
        _markAt(uint128(BACKING * 9 / 10));
        (uint256 debt, uint256 shares) = pool.debtOf(renter);
        uint256 worth = pool.unitValue(cap, 50, _mark());
        uint256 cash = usdc.balanceOf(address(pool));
        vm.expectEmit(true, true, true, false, address(pool));
        emit ILendingPool.Liquidated(liquidator, renter, cap, 0, 0, 50, 0);
        (uint256 seized, uint256 repaid) = _liquidate(50, 0);
        assertEq(seized, 50);
        assertEq(gpuHours.balanceOf(liquidator, cap), 50);
        assertEq(usdc.balanceOf(address(pool)), cash + repaid);
        // repaid × LIF covers the value seized, by at most a wei of rounding more
        uint256 lif = pool.liquidationIncentive();
        assertGe(repaid * lif / 1e18 + 1, worth);
        assertLe(repaid, worth * 1e18 / lif + 2);
        (uint256 debtAfter, uint256 sharesAfter) = pool.debtOf(renter);
        assertApproxEqAbs(debtAfter, debt - repaid, 1);
        assertLt(sharesAfter, shares);
        (, uint256[] memory units) = pool.collateralOf(renter);
        assertEq(units[0], 150);
    }

    function test_liquidate_byRepaidShares() public {
        _markAt(uint128(BACKING * 9 / 10));
        uint256 shares = _shares();
        uint256 half = shares / 2;
        uint256 lif = pool.liquidationIncentive();
        (uint256 seized, uint256 repaid) = _liquidate(0, half);
        assertGt(seized, 0);
        assertEq(_shares(), shares - half);
        // the units seized are worth at most repaid × LIF, and one more unit would be worth more
        assertLe(pool.unitValue(cap, seized, _mark()), repaid * lif / 1e18);
        assertGt(pool.unitValue(cap, seized + 1, _mark()) + 1, repaid * lif / 1e18);
        assertEq(gpuHours.balanceOf(liquidator, cap), seized);
    }

    function test_liquidate_rejectsInput() public {
        _markAt(uint128(BACKING * 9 / 10));
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InconsistentInput.selector, 0, 0));
        _liquidate(0, 0);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InconsistentInput.selector, 1, 1));
        _liquidate(1, 1);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InsufficientCollateral.selector, renter, cap, 200, 201));
        _liquidate(201, 0);
        uint256 shares = _shares();
        vm.expectRevert(
            abi.encodeWithSelector(ILendingPool.RepaidSharesExceedDebt.selector, renter, shares + 1, shares)
        );
        _liquidate(0, shares + 1);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.EmptyLiquidation.selector, cap, 0, 1));
        _liquidate(0, 1);
    }

    /// @dev The attack: seizing from a position that covers its debt, including the pool's own.
    function test_liquidate_healthyPositionReverts() public {
        (uint256 debt,) = pool.debtOf(renter);
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.HealthyPosition.selector, renter, debt, maxDebt));
        _liquidate(1, 0);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.HealthyPosition.selector, address(pool), 0, 0));
        vm.prank(liquidator);
        pool.liquidate(address(pool), cap, 1, 0, "");
    }

    /// @dev The attack: seizing units of a capacity the borrower never pledged.
    function test_liquidate_otherCapacityReverts() public {
        _markAt(uint128(BACKING * 9 / 10));
        (, uint256 other) = _capacity(provider, 24 * 7, 0);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.InsufficientCollateral.selector, renter, other, 0, 1));
        vm.prank(liquidator);
        pool.liquidate(renter, other, 1, 0, "");
    }

    function test_liquidate_staleMarkStillLiquidates() public {
        _markAt(uint128(BACKING * 9 / 10));
        (, uint64 epoch) = oracle.markPrice(CLASS);
        vm.warp(block.timestamp + MAX_AGE + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.StaleMark.selector, CLASS, epoch, MAX_AGE));
        vm.prank(renter);
        pool.borrow(MIN_DEBT, renter);
        (uint256 seized,) = _liquidate(10, 0);
        assertEq(seized, 10);
    }

    function test_liquidate_missingMarkReverts() public {
        PoolParams memory p = _params();
        p.gpuClass = "B200";
        LendingPool other = new LendingPool(p, "", "");
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.StaleMark.selector, bytes32("B200"), 0, MAX_AGE));
        other.liquidate(renter, cap, 1, 0, "");
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.StaleMark.selector, bytes32("B200"), 0, MAX_AGE));
        other.realiseBadDebt(renter);
    }

    /// @dev While the position covers its debt times the LIF, the full incentive applies; between
    ///      that and the debt itself the incentive shrinks to value / debt, so health never falls.
    function test_liquidate_incentiveShrinksToValueOverDebt() public {
        _markAt(uint128(BACKING * 82 / 100)); // value / debt = 0.82 / 0.8 = 1.025 < LIF
        (uint256 debt,) = pool.debtOf(renter);
        uint256 value = pool.collateralValue(renter);
        uint256 incentive = value * 1e18 / debt;
        assertLt(incentive, pool.liquidationIncentive());
        (uint256 seized, uint256 repaid) = _liquidate(100, 0);
        assertGe(repaid * incentive / 1e18 + 1, pool.unitValue(cap, seized, _mark()));
        (uint256 debtAfter,) = pool.debtOf(renter);
        uint256 valueAfter = pool.collateralValue(renter);
        assertGe(valueAfter * debt + debt, value * debtAfter, "health never falls");
    }

    // ================================================================ dust

    function test_dust_borrowAndRepay() public {
        vm.prank(renter);
        pool.repay(type(uint256).max, renter);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.DustDebt.selector, renter, MIN_DEBT - 1, MIN_DEBT));
        vm.prank(renter);
        pool.borrow(MIN_DEBT - 1, renter);
        vm.prank(renter);
        pool.borrow(MIN_DEBT, renter);
        vm.expectPartialRevert(ILendingPool.DustDebt.selector);
        vm.prank(renter);
        pool.repay(MIN_DEBT / 2, renter);
    }

    /// @dev The attack: a liquidator repaying all but dust, leaving a debt no one would liquidate.
    function test_dust_partialLiquidationMayNotLeaveDust() public {
        _markAt(uint128(BACKING * 9 / 10));
        uint256 shares = _shares();
        vm.expectPartialRevert(ILendingPool.DustDebt.selector);
        _liquidate(0, shares - MIN_DEBT / 2 * 1e6);
        _liquidate(0, shares); // all of it is fine
        (uint256 debt,) = pool.debtOf(renter);
        assertEq(debt, 0);
    }

    /// @dev The grief: the smallest liquidations, one unit at a time, still pay for what they take and
    ///      leave a position the next liquidator can clear.
    function test_dust_unitByUnitGriefLeavesPositionLiquidatable() public {
        _markAt(uint128(BACKING * 9 / 10));
        uint256 lif = pool.liquidationIncentive();
        for (uint256 i; i < 5; ++i) {
            (, uint256 repaid) = _liquidate(1, 0);
            assertGe(repaid * lif / 1e18 + 1, pool.unitValue(cap, 1, _mark()));
        }
        _liquidate(0, _shares());
        (uint256 debt,) = pool.debtOf(renter);
        assertEq(debt, 0);
    }

    // ================================================================ bad debt

    function test_badDebt_lastUnitsSeizedWritesOffTheRest() public {
        _markAt(uint128(BACKING / 2)); // value / debt = 0.5 / 0.8: the incentive is 1
        (uint256 debt, uint256 shares) = pool.debtOf(renter);
        uint256 value = pool.collateralValue(renter);
        uint256 before = pool.totalAssets();
        vm.expectEmit(true, false, false, false, address(pool));
        emit ILendingPool.BadDebt(renter, 0, 0);
        (uint256 seized, uint256 repaid) = _liquidate(200, 0);
        assertEq(seized, 200);
        assertApproxEqAbs(repaid, value, 1, "the incentive is 1: pays the value seized");
        (uint256 debtAfter, uint256 sharesAfter) = pool.debtOf(renter);
        assertEq(debtAfter + sharesAfter, 0);
        (uint256 totalAssets_, uint256 totalShares) = pool.totalBorrow();
        assertEq(totalAssets_ + totalShares, 0);
        assertApproxEqAbs(pool.totalAssets(), before - (debt - repaid), 1, "lenders bear the shortfall");
        assertGt(shares, 0);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.NoBadDebt.selector, renter, 0, 0));
        pool.realiseBadDebt(renter);
    }

    function test_badDebt_realisedInsideBuffer() public {
        vm.warp(_end(cap) - BUFFER * 1 hours);
        assertEq(pool.collateralValue(renter), 0);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.EmptyLiquidation.selector, cap, 200, 0));
        _liquidate(200, 0);
        (uint256 debt, uint256 shares) = pool.debtOf(renter);
        uint256 before = pool.totalAssets();
        vm.expectEmit(address(pool));
        emit ILendingPool.BadDebt(renter, debt, shares);
        (uint256 assets, uint256 burnt) = pool.realiseBadDebt(renter);
        assertEq(assets, debt);
        assertEq(burnt, shares);
        assertEq(pool.totalAssets(), before - debt);
        (uint256[] memory ids, uint256[] memory units) = pool.collateralOf(address(pool));
        assertEq(ids[0], cap);
        assertEq(units[0], 200);
        (ids,) = pool.collateralOf(renter);
        assertEq(ids.length, 0);
        assertEq(gpuHours.balanceOf(address(pool), cap), 200);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.NoBadDebt.selector, renter, 0, 0));
        pool.realiseBadDebt(renter);
    }

    /// @dev A provider cancelling before the window starts leaves the units worth 0 to the pool (their
    ///      refund of the backing is claimed through the pool's own position, not valued).
    /// @dev A cancelled capacity's units are worth nothing to the valuation, but the escrow refunds
    ///      them: the debt is not written off before settleExpired credits the refund, which pays it.
    function test_badDebt_cancelledCapacityRefundPaysFirst() public {
        vm.prank(provider);
        gpuHours.cancelCapacity(cap);
        assertEq(pool.collateralValue(renter), 0);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.ExpiryPending.selector, renter, cap));
        pool.realiseBadDebt(renter);

        (uint256 debt,) = pool.debtOf(renter);
        uint256 refund = 200 * (uint256(BACKING) + escrow.funds(cap).penaltyPerUnit);
        uint256 before = usdc.balanceOf(renter);
        address[] memory borrowers = new address[](1);
        borrowers[0] = renter;
        pool.settleExpired(cap, borrowers);
        (uint256 debtAfter,) = pool.debtOf(renter);
        assertEq(debtAfter, 0, "the refund paid the debt");
        assertEq(usdc.balanceOf(renter), before + refund - debt, "and the rest reached the borrower");
    }

    /// @dev The event carries exactly what moved: the returned figures, the shares burnt, the bad debt.
    function test_liquidate_eventCarriesTheNumbers() public {
        _markAt(uint128(BACKING / 2));
        (uint256 debt, uint256 shares) = pool.debtOf(renter);
        vm.recordLogs();
        (uint256 seized, uint256 repaid) = _liquidate(200, 0);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 bad;
        bool found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(pool) || logs[i].topics[0] != ILendingPool.Liquidated.selector) continue;
            (uint256 assets, uint256 burnt, uint256 units, uint256 badDebt) =
                abi.decode(logs[i].data, (uint256, uint256, uint256, uint256));
            assertEq(assets, repaid);
            assertEq(units, seized);
            assertLt(burnt, shares);
            bad = badDebt;
            found = true;
        }
        assertTrue(found);
        assertApproxEqAbs(bad, debt - repaid, 1);
    }

    function test_badDebt_refusedWhileValueLeft() public {
        (uint256 debt,) = pool.debtOf(renter);
        uint256 value = pool.collateralValue(renter);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.NoBadDebt.selector, renter, debt, value));
        pool.realiseBadDebt(renter);
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.NoBadDebt.selector, address(pool), 0, 0));
        pool.realiseBadDebt(address(pool));
    }

    // ================================================================ flash

    function _bid(uint256 units, uint256 price) internal returns (Order memory bid, bytes memory sig) {
        bid = _freshOrder(buyer, OrderKind.Buy, cap, units, price);
        sig = _sign(buyerKey, bid);
    }

    function test_flash_keeperWithNoCapitalSellsToBid() public {
        _markAt(uint128(BACKING * 9 / 10));
        BidLiquidator flash = new BidLiquidator(pool, exchange);
        (Order memory bid, bytes memory sig) = _bid(60, BACKING);
        address keeper = makeAddr("keeper");
        uint256 cash = usdc.balanceOf(address(pool));
        vm.prank(keeper);
        uint256 profit = flash.liquidate(renter, cap, 60, bid, sig, 0);
        assertEq(gpuHours.balanceOf(buyer, cap), 60);
        uint256 proceeds = 60 * BACKING - _fee(60 * BACKING);
        uint256 repaid = usdc.balanceOf(address(pool)) - cash;
        assertEq(profit, proceeds - repaid);
        assertEq(usdc.balanceOf(keeper), profit);
        assertGt(profit, 0);
    }

    function test_flash_unpaidRepaymentReverts() public {
        _markAt(uint128(BACKING * 9 / 10));
        BidLiquidator flash = new BidLiquidator(pool, exchange);
        (Order memory bid, bytes memory sig) = _bid(60, BACKING / 10); // proceeds far below the repayment
        vm.expectRevert();
        flash.liquidate(renter, cap, 60, bid, sig, 0);
        assertEq(gpuHours.balanceOf(address(pool), cap), 200);
    }

    function test_flash_profitBelowTheKeepersFloorReverts() public {
        _markAt(uint128(BACKING * 9 / 10));
        BidLiquidator flash = new BidLiquidator(pool, exchange);
        (Order memory bid, bytes memory sig) = _bid(60, BACKING);
        uint256 snap = vm.snapshotState();
        uint256 profit = flash.liquidate(renter, cap, 60, bid, sig, 0);
        vm.revertToState(snap);
        vm.expectRevert(abi.encodeWithSelector(BidLiquidator.ProfitTooLow.selector, profit, profit + 1));
        flash.liquidate(renter, cap, 60, bid, sig, profit + 1);
        assertEq(gpuHours.balanceOf(address(pool), cap), 200);
    }

    /// @dev The attack: anyone calls the callback directly to make the liquidator fill a bid or
    ///      approve a spender; and the liquidator keeps nothing a later caller could take.
    function test_flash_callbackOnlyFromThePoolAndNothingLeftBehind() public {
        _markAt(uint128(BACKING * 9 / 10));
        BidLiquidator flash = new BidLiquidator(pool, exchange);
        (Order memory bid, bytes memory sig) = _bid(60, BACKING);
        vm.expectRevert(abi.encodeWithSelector(BidLiquidator.NotPool.selector, address(this)));
        flash.onLiquidate(1e6, abi.encode(bid, sig, uint256(60)));
        vm.prank(liquidator);
        flash.liquidate(renter, cap, 60, bid, sig, 0);
        assertEq(usdc.balanceOf(address(flash)), 0);
        assertEq(gpuHours.balanceOf(address(flash), cap), 0);
        assertEq(usdc.allowance(address(flash), address(pool)), 0);
    }

    /// @dev The attack: the callback re-enters the pool before its repayment is in.
    function test_flash_reentryReverts() public {
        _markAt(uint128(BACKING * 9 / 10));
        ReentrantLiquidator r = new ReentrantLiquidator(address(pool), usdc);
        usdc.mint(address(r), 1_000_000e6);
        vm.prank(address(r));
        pool.deposit(1_000e6, address(r)); // shares to redeem
        bytes[6] memory calls = [
            abi.encodeCall(IERC4626.deposit, (1_000e6, address(r))),
            abi.encodeCall(IERC4626.redeem, (1, address(r), address(r))),
            abi.encodeCall(ILendingPool.repay, (1e6, renter)),
            abi.encodeCall(ILendingPool.liquidate, (renter, cap, 1, 0, "")),
            abi.encodeCall(ILendingPool.realiseBadDebt, (renter)),
            abi.encodeCall(ILendingPool.borrow, (1e6, address(r)))
        ];
        for (uint256 i; i < calls.length; ++i) {
            vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
            r.liquidate(renter, cap, 10, calls[i]);
        }
    }

    /// @dev The pool's share price read inside the callback already counts the repayment on its way.
    function test_flash_totalAssetsSettledDuringCallback() public {
        _markAt(uint128(BACKING * 9 / 10));
        ReentrantLiquidator r = new ReentrantLiquidator(address(pool), usdc);
        usdc.mint(address(r), 1_000e6);
        r.liquidate(renter, cap, 10, "");
        assertEq(r.seenTotalAssets(), pool.totalAssets());
    }

    // ================================================================ fuzz

    /// @dev Rounding favours lenders: the repayment times the incentive covers the value seized,
    ///      whichever side the liquidator names.
    function testFuzz_liquidate_roundsForLenders(uint256 markBps, uint256 amount, bool byUnits) public {
        _markAt(uint128(BACKING * bound(markBps, 5_000, 9_900) / 10_000));
        (uint256 debt,) = pool.debtOf(renter);
        uint256 value = pool.collateralValue(renter);
        uint256 incentive = Math.max(1e18, Math.min(pool.liquidationIncentive(), value * 1e18 / debt));
        uint256 units = byUnits ? bound(amount, 1, 200) : 0;
        uint256 shares = byUnits ? 0 : bound(amount, 1, _shares());
        vm.prank(liquidator);
        try pool.liquidate(renter, cap, units, shares, "") returns (uint256 seized, uint256 repaid) {
            uint256 worth = pool.unitValue(cap, seized, _mark());
            assertGe(repaid * incentive, worth * 1e18, "repaid x incentive >= value seized");
        } catch (bytes memory reason) {
            bytes4 sel = bytes4(reason);
            assertTrue(
                sel == ILendingPool.DustDebt.selector || sel == ILendingPool.EmptyLiquidation.selector
                    || sel == ILendingPool.RepaidSharesExceedDebt.selector
                    || sel == ILendingPool.InsufficientCollateral.selector,
                "only a named bound"
            );
        }
    }

    /// @dev A liquidation never lowers the health of what remains while the value covers the debt.
    ///      At most half the units: the repayment stays under the debt and the rest above the dust, so
    ///      every run liquidates.
    function testFuzz_liquidate_neverLowersHealth(uint256 markBps, uint256 units) public {
        _markAt(uint128(BACKING * bound(markBps, 8_100, 9_900) / 10_000)); // from 0.81: value ≥ debt with interest
        (uint256 debt,) = pool.debtOf(renter);
        uint256 value = pool.collateralValue(renter);
        assertGe(value, debt);
        _liquidate(bound(units, 1, 100), 0);
        (uint256 debtAfter,) = pool.debtOf(renter);
        uint256 valueAfter = pool.collateralValue(renter);
        // value' / debt' ≥ value / debt, to a wei of each rounding
        assertGe((valueAfter + 1) * debt, value * (debtAfter - 1));
    }
}
