// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LendingFixtures} from "../utils/LendingFixtures.sol";

/// @notice A lender timing its exit or entry around a loss or a recovery the pool has not booked yet:
///         the risks docs/security.md accepts ("Lenders' timing"), measured. A write-off is booked
///         only when someone calls `realiseBadDebt` (the keeper does on its next tick), so a lender
///         leaving between the moment a position's value reaches zero and that call leaves at the
///         last price, and the loss falls on those who stay; it can take no more than the pool's
///         cash, and no more than its shares were worth before the loss. Calling `realiseBadDebt`
///         first shares the loss pro rata.
contract LenderTimingTest is LendingFixtures {
    address internal early = makeAddr("early");

    function setUp() public override {
        super.setUp();
        _supply(SUPPLY);
        _fund(early);
        vm.startPrank(early);
        usdc.approve(address(pool), type(uint256).max);
        pool.deposit(SUPPLY, early);
        vm.stopPrank();
        _pledge(200);
        uint256 maxDebt = pool.collateralValue(renter) * LLTV / 1e18;
        vm.prank(renter);
        pool.borrow(maxDebt, renter);
    }

    function _redeemAll(address who) internal returns (uint256 assets) {
        uint256 shares = pool.balanceOf(who);
        vm.prank(who);
        assets = pool.redeem(shares, who, who);
    }

    /// @dev The front-run: the hours entered the maturity buffer (worth nothing), the write-off not
    ///      yet called; the early lender leaves at the last price. It gets what its shares were worth
    ///      before the loss, never more; the other lender bears the whole write-off.
    function test_frontRunningAWriteOff_leavesAtTheLastPriceNeverMore() public {
        vm.warp(_end(cap) - BUFFER * 1 hours);
        assertEq(pool.collateralValue(renter), 0);
        uint256 before = pool.convertToAssets(pool.balanceOf(early));
        uint256 got = _redeemAll(early);
        assertEq(got, before);
        assertGe(got, SUPPLY); // its deposit and its share of the interest: the loss is not its
        (uint256 debt,) = pool.debtOf(renter);
        uint256 stayed = pool.convertToAssets(pool.balanceOf(lender));
        pool.realiseBadDebt(renter);
        assertApproxEqAbs(pool.convertToAssets(pool.balanceOf(lender)), stayed - debt, 2);
    }

    /// @dev The same moment with the write-off called first (as the keeper does on its tick): both
    ///      lenders share the loss by their shares.
    function test_writeOffFirst_sharesTheLossProRata() public {
        vm.warp(_end(cap) - BUFFER * 1 hours);
        uint256 earlyBefore = pool.convertToAssets(pool.balanceOf(early));
        uint256 lenderBefore = pool.convertToAssets(pool.balanceOf(lender));
        (uint256 debt,) = pool.debtOf(renter);
        pool.realiseBadDebt(renter);
        uint256 earlyLoss = earlyBefore - _redeemAll(early);
        uint256 lenderLoss = lenderBefore - pool.convertToAssets(pool.balanceOf(lender));
        assertApproxEqAbs(earlyLoss + lenderLoss, debt, 2);
        assertApproxEqAbs(earlyLoss, lenderLoss, 2); // equal shares, equal losses
    }

    /// @dev A run on the pool: what the front-runner can take is bounded by the cash; with most of it
    ///      lent out, it cannot leave whole.
    function test_frontRunningAWriteOff_takesNoMoreThanTheCash() public {
        vm.prank(lender);
        pool.withdraw(SUPPLY, lender, lender); // the other lender left first: cash is now short
        vm.warp(_end(cap) - BUFFER * 1 hours);
        uint256 cash = pool.maxWithdraw(early);
        (uint256 debt,) = pool.debtOf(renter);
        assertLt(cash, pool.convertToAssets(pool.balanceOf(early)));
        vm.prank(early);
        pool.withdraw(cash, early, early);
        assertEq(pool.maxWithdraw(early), 0);
        pool.realiseBadDebt(renter);
        assertLt(pool.convertToAssets(pool.balanceOf(early)) + cash, SUPPLY + debt); // bears the loss left
    }
}
