// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LendingFixtures} from "./utils/LendingFixtures.sol";
import {ILendingPool} from "../src/interfaces/ILendingPool.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {CapacityStatus} from "../src/interfaces/IGpuHours.sol";

/// @notice Pledged units whose capacity ends or is cancelled: what they return reaches the positions
///         that pledged them, never the lenders and never nobody.
contract LendingExpiryTest is LendingFixtures {
    address internal carol = makeAddr("carol");

    function setUp() public override {
        super.setUp();
        _supply(SUPPLY);
        vm.prank(renter);
        gpuHours.safeTransferFrom(renter, carol, cap, 50, "");
        vm.startPrank(carol);
        gpuHours.setApprovalForAll(address(pool), true);
        usdc.approve(address(pool), type(uint256).max);
        vm.stopPrank();
    }

    // ================================================================ collect and credit

    function test_settleExpired_repaysDebtAndSendsTheRest() public {
        _pledge(100);
        vm.prank(renter);
        pool.borrow(50 * USDC, renter);
        _attestWindowHours(42); // a quarter of the 168-hour window available: a quarter paid
        _warpReady();

        uint256 refund = settlement.unusedRefund(cap, 100);
        assertEq(refund, (100 - 100 * 42 / 168) * uint256(BACKING));
        (uint256 debt,) = pool.debtOf(renter);
        (, uint256 shares) = pool.debtOf(renter);
        uint256 lenderAssets = pool.totalAssets();
        uint256 renterBefore = usdc.balanceOf(renter);

        vm.expectEmit(address(pool));
        emit ILendingPool.ExpiredCollected(cap, 100, refund);
        vm.expectEmit(address(pool));
        emit ILendingPool.ExpiredCredited(renter, cap, 100, refund, debt, shares);
        pool.settleExpired(cap, _list(renter));

        (uint256 debtAfter,) = pool.debtOf(renter);
        assertEq(debtAfter, 0, "the proceeds paid the debt");
        assertEq(usdc.balanceOf(renter), renterBefore + refund - debt, "and the rest reached the borrower");
        assertEq(pool.totalAssets(), lenderAssets, "lenders neither gain nor lose");
        assertEq(pool.reserved(), 0);
        assertEq(pool.heldUnits(cap), 0);
        assertEq(gpuHours.balanceOf(address(pool), cap), 0, "the units expired");
        (uint256[] memory ids,) = pool.collateralOf(renter);
        assertEq(ids.length, 0);
    }

    /// @dev Proceeds below the debt pay what they can; with nothing left pledged, the rest is written
    ///      off in the same call: no debt waits on anyone to realise it.
    function test_settleExpired_debtAboveProceedsIsPaidDownThenWrittenOff() public {
        _pledge(10);
        vm.prank(renter);
        pool.borrow(14 * USDC, renter); // 10 × 2.1 × 0.8 = 16.8 at most
        _attestWindowHours(120); // 10 × 120 / 168 = 7 units paid to the provider, 3 refunded
        _warpReady();
        uint256 refund = settlement.unusedRefund(cap, 10);
        assertEq(refund, 3 * uint256(BACKING));
        (uint256 debt,) = pool.debtOf(renter);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 lenderAssets = pool.totalAssets();
        pool.settleExpired(cap, _list(renter));
        (uint256 debtAfter,) = pool.debtOf(renter);
        assertEq(debtAfter, 0, "paid down by the refund, the rest written off");
        assertEq(usdc.balanceOf(renter), renterBefore, "nothing sent while debt remained");
        assertApproxEqAbs(pool.totalAssets(), lenderAssets - (debt - refund), 1, "lenders bear the rest");
    }

    /// @dev With other hours still pledged, an expiry's credit pays down the debt and nothing is
    ///      written off: the position keeps its other collateral.
    function test_settleExpired_otherCollateralKeepsTheDebt() public {
        (, uint256 other) = _capacity(provider, 24 * 7, 0); // same window, a node never attested
        _buyPrimary(renter, other, 50, BACKING);
        _pledge(10);
        vm.prank(renter);
        pool.pledge(other, 50);
        vm.prank(renter);
        pool.borrow(14 * USDC, renter);
        _attestWindowHours(120); // 3 of the 10 units refunded
        _warpReady();
        (uint256 debt,) = pool.debtOf(renter);
        uint256 refund = settlement.unusedRefund(cap, 10);
        pool.settleExpired(cap, _list(renter));
        (uint256 debtAfter,) = pool.debtOf(renter);
        assertApproxEqAbs(debtAfter, debt - refund, 1, "paid down, not written off");
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.ExpiryPending.selector, renter, other));
        pool.realiseBadDebt(renter);

        pool.settleExpired(other, _list(renter)); // nothing attested: all 50 refunded, more than owed
        (debtAfter,) = pool.debtOf(renter);
        assertEq(debtAfter, 0);
    }

    /// @dev A third party expires the pool's units through Settlement first: the pool still credits
    ///      each position its exact share, and the sum is what the escrow paid.
    function test_settleExpired_afterAThirdPartyExpiredThePoolsUnits() public {
        _pledge(30);
        vm.prank(carol);
        pool.pledge(cap, 50);
        _attestWindowHours(10);
        _warpReady();
        uint256 total = settlement.unusedRefund(cap, 80);

        settlement.settleUnused(cap, _list(address(pool))); // anyone may
        assertEq(usdc.balanceOf(address(pool)), SUPPLY, "proceeds wait in the escrow, not the pool");
        uint256 lenderAssets = pool.totalAssets();

        uint256 renterBefore = usdc.balanceOf(renter);
        pool.settleExpired(cap, _list(renter));
        uint256 renterShare = total * 30 / 80;
        assertEq(usdc.balanceOf(renter), renterBefore + renterShare);
        assertEq(pool.reserved(), total - renterShare, "carol's share is reserved");
        assertEq(pool.totalAssets(), lenderAssets, "and not the lenders' to lend or withdraw");
        assertEq(pool.maxWithdraw(lender), lenderAssets);

        uint256 carolBefore = usdc.balanceOf(carol);
        pool.settleExpired(cap, _list(carol, carol));
        assertEq(usdc.balanceOf(carol), carolBefore + total - renterShare, "the last one gets the remainder");
        assertEq(pool.reserved(), 0);
        assertEq(usdc.balanceOf(address(pool)), SUPPLY);
        (uint256 units, uint256 left) = pool.expiredProceeds(cap);
        assertEq(units + left, 0);
    }

    function test_settleExpired_cancelledCapacityRefundsBackingAndPenalty() public {
        _pledge(40);
        vm.prank(provider);
        gpuHours.cancelCapacity(cap);
        uint256 expected = 40 * (uint256(BACKING) + escrow.funds(cap).penaltyPerUnit);
        uint256 renterBefore = usdc.balanceOf(renter);
        vm.expectEmit(address(pool));
        emit ILendingPool.ExpiredCollected(cap, 40, expected);
        pool.settleExpired(cap, _list(renter));
        assertEq(usdc.balanceOf(renter), renterBefore + expected);
        assertEq(escrow.claimable(address(pool)), 0);
        assertEq(usdc.balanceOf(address(pool)), SUPPLY);
    }

    function test_settleExpired_isIdempotent() public {
        _pledge(30);
        _warpReady();
        pool.settleExpired(cap, _list(renter));
        uint256 renterBalance = usdc.balanceOf(renter);
        uint256 poolBalance = usdc.balanceOf(address(pool));
        pool.settleExpired(cap, _list(renter, carol));
        pool.settleExpired(cap, new address[](0));
        assertEq(usdc.balanceOf(renter), renterBalance);
        assertEq(usdc.balanceOf(address(pool)), poolBalance);
    }

    function test_settleExpired_beforeTheWindowCanSettle() public {
        _pledge(30);
        uint256 readyAt = uint256(_end(cap)) + gpuHours.terms(cap).maxDelay + 1;
        vm.warp(_end(cap));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, cap, readyAt));
        pool.settleExpired(cap, _list(renter));
    }

    /// @dev Whatever the positions, their debts, the hours delivered and who expires the units first:
    ///      the positions receive exactly what the escrow paid for them, debts first; the lenders'
    ///      assets move only by interest; nothing stays reserved.
    function testFuzz_settleExpired_creditsExactly(
        uint256 unitsA,
        uint256 unitsB,
        uint256 borrowBps,
        uint256 hoursUp,
        bool thirdPartyFirst,
        bool carolFirst
    ) public {
        unitsA = bound(unitsA, 1, 150);
        unitsB = bound(unitsB, 1, 50);
        _pledge(unitsA);
        vm.prank(carol);
        pool.pledge(cap, unitsB);
        uint256 borrowed = pool.unitValue(cap, unitsA, BACKING) * LLTV / 1e18 * bound(borrowBps, 0, 10_000) / 10_000;
        if (borrowed >= pool.minDebt()) {
            vm.prank(renter);
            pool.borrow(borrowed, renter);
        }
        _attestWindowHours(bound(hoursUp, 0, 24));
        _warpReady();
        uint256 total = settlement.unusedRefund(cap, unitsA + unitsB);
        (uint256 debt,) = pool.debtOf(renter);
        (uint256 borrowedTotal,) = pool.totalBorrow();
        uint256 cashBefore = pool.totalAssets() - borrowedTotal;
        uint256 received = usdc.balanceOf(renter) + usdc.balanceOf(carol);

        if (thirdPartyFirst) settlement.settleUnused(cap, _list(address(pool)));
        pool.settleExpired(cap, carolFirst ? _list(carol) : _list(renter));
        pool.settleExpired(cap, carolFirst ? _list(renter) : _list(carol));

        (uint256 debtAfter,) = pool.debtOf(renter);
        received = usdc.balanceOf(renter) + usdc.balanceOf(carol) - received;
        (uint256 borrowedAfter,) = pool.totalBorrow();
        uint256 cashAfter = pool.totalAssets() - borrowedAfter;
        uint256 repaid = debt - debtAfter;
        assertEq(received + repaid, total, "the positions got exactly what the units returned");
        assertEq(cashAfter, cashBefore + repaid, "the pool's cash grew by the debt repaid, no more");
        assertEq(pool.reserved(), 0);
        assertEq(usdc.balanceOf(address(pool)), cashAfter);
        assertEq(escrow.claimable(address(pool)), 0);
    }

    // ================================================================ what expiry closes

    function test_pledge_onlyActiveBeforeTheEnd() public {
        vm.warp(_end(cap));
        vm.expectRevert(
            abi.encodeWithSelector(ILendingPool.NotPledgeable.selector, cap, CapacityStatus.Active, _end(cap))
        );
        _pledge(1);
    }

    function test_pledge_notCancelled() public {
        vm.prank(provider);
        gpuHours.cancelCapacity(cap);
        vm.expectRevert(
            abi.encodeWithSelector(ILendingPool.NotPledgeable.selector, cap, CapacityStatus.Cancelled, _end(cap))
        );
        _pledge(1);
    }

    function test_unpledge_afterCollectionRefused() public {
        _pledge(30);
        vm.prank(carol);
        pool.pledge(cap, 20);
        _warpReady();
        pool.settleExpired(cap, _list(carol));
        vm.expectRevert(abi.encodeWithSelector(ILendingPool.UnitsExpired.selector, cap));
        vm.prank(renter);
        pool.unpledge(cap, 30, renter);
    }

    /// @dev Unpledged before the pool collects, the units are the borrower's to settle: the pool
    ///      collects only what it still holds.
    function test_unpledgeBeforeCollection_leavesOnlyTheRest() public {
        _pledge(30);
        vm.prank(carol);
        pool.pledge(cap, 20);
        vm.warp(_end(cap));
        vm.prank(renter);
        pool.unpledge(cap, 30, renter);
        _warpReady();
        vm.expectEmit(address(pool));
        emit ILendingPool.ExpiredCollected(cap, 20, settlement.unusedRefund(cap, 20));
        pool.settleExpired(cap, _list(renter, carol));
    }

    // ================================================================ helpers

    /// @dev Attests the first `n` hours of the capacity's window as available.
    function _attestWindowHours(uint256 n) internal {
        uint64 first = uint64(_start(cap) / 1 hours);
        for (uint64 e = first; e < first + n; ++e) {
            vm.warp((uint256(e) + 1) * 1 hours);
            _attestNode(nodeId, e);
        }
    }

    function _warpReady() internal {
        vm.warp(uint256(_end(cap)) + gpuHours.terms(cap).maxDelay + 1);
    }

    function _list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function _list(address a, address b) internal pure returns (address[] memory l) {
        l = new address[](2);
        (l[0], l[1]) = (a, b);
    }
}
