// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CapacityFixtures} from "./utils/SettlementFixtures.sol";
import {IGpuHours, Booking, CloseReason} from "../src/interfaces/IGpuHours.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IEscrow} from "../src/interfaces/IEscrow.sol";

/// @notice A holder ends its running booking early: the hours not yet started are freed and their
///         backing comes back at once, the started ones settle as usual, the node's record shows it.
contract EarlyEndTest is CapacityFixtures {
    uint256 internal constant WINDOW = 24;
    uint256 internal constant BOND = 200 * USDC;

    function setUp() public override {
        super.setUp();
        _open(WINDOW, BOND);
    }

    function test_endBooking_refundsTheHoursNotStartedAndFreesThem() public {
        uint256 b = _book(renter, 8, 10, 0);
        vm.warp(start + 2 hours + 30 minutes); // hours 0, 1 and 2 have started
        uint256 claimable = escrow.claimable(renter);
        uint256 backing = escrow.funds(id).backing;

        vm.expectEmit(address(gpuHours));
        emit IGpuHours.BookingEnded(b, id, renter, 7);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 56, 56 * uint256(BACKING));
        vm.prank(renter);
        settlement.endBooking(b);

        assertEq(escrow.claimable(renter) - claimable, 56 * uint256(BACKING), "7 hours x 8 GPUs refunded");
        assertEq(backing - escrow.funds(id).backing, 56 * uint256(BACKING), "taken from this capacity's backing");
        assertEq(gpuHours.booking(b).hours_, 3, "the started hours stay booked");
        assertEq(gpuHours.bookedAt(id, start + 2 hours), 8);
        assertEq(gpuHours.bookedAt(id, start + 3 hours), 0, "the rest is free again");
        assertEq(gpuHours.node(nodeId).earlyEnds, 1, "recorded against the node");
        assertEq(settlement.settledUnits(id), 56);
        assertEq(gpuHours.totalSupply(id), 0, "given back, not back in circulation");
    }

    function test_endBooking_freedHoursCanBeSoldAgain() public {
        uint256 b = _book(renter, 8, 24, 0); // the whole node for the whole window: nothing left to mint
        vm.warp(start + 5 hours);
        vm.prank(renter);
        settlement.endBooking(b);
        assertEq(gpuHours.usableUnits(id), 0, "no unit circulates yet");
        _buyPrimary(buyer, id, 8 * 18, BACKING); // hours 6..23 are free again
        assertEq(gpuHours.usableUnits(id), 8 * 18);
    }

    function test_endBooking_startedHoursSettleAsUsual() public {
        uint256 b = _book(renter, 8, 10, 0);
        vm.warp(start + 1 hours + 1);
        vm.prank(renter);
        settlement.endBooking(b); // hours 0 and 1 started: 8 hours back
        _attestPattern(nodeId, start, "GB");
        vm.warp(_readyAt(start + 2 hours));
        uint256 provider0 = escrow.claimable(provider);
        uint256 renter0 = escrow.claimable(renter);
        settlement.settleBooking(b);
        uint256 hourOf8 = 8 * uint256(BACKING);
        assertEq(escrow.claimable(provider) - provider0, _net(hourOf8), "hour 0");
        // Hour 1 failed: its backing back, the window's one grace hour forgives the slash.
        assertEq(escrow.claimable(renter) - renter0, hourOf8, "hour 1 refunded");
        assertEq(settlement.settledUnits(id), 80, "every unit of the booking settled once");
        assertEq(escrow.funds(id).backing, 0);
    }

    function test_endBooking_onlyTheHolder() public {
        uint256 b = _book(renter, 8, 4, 0);
        vm.warp(start + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotBookingHolder.selector, b, provider));
        settlement.endBooking(b);
    }

    function test_endBooking_notBeforeItStarts() public {
        uint256 b = _book(renter, 8, 4, 0);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BookingNotStarted.selector, b, start));
        settlement.endBooking(b);
    }

    function test_endBooking_nothingLeftInTheLastHour() public {
        uint256 b = _book(renter, 8, 4, 0);
        vm.warp(start + 3 hours + 10);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NothingToEnd.selector, b, start + 4 hours));
        settlement.endBooking(b);
    }

    function test_endBooking_twiceGivesNothingMore() public {
        uint256 b = _book(renter, 8, 6, 0);
        vm.warp(start + 1 hours);
        vm.prank(renter);
        settlement.endBooking(b);
        uint256 claimable = escrow.claimable(renter);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NothingToEnd.selector, b, start + 2 hours));
        settlement.endBooking(b);
        assertEq(escrow.claimable(renter), claimable);
    }

    function test_endBookingEarly_settlementOnly() public {
        uint256 b = _book(renter, 8, 4, 0);
        vm.warp(start + 1);
        vm.prank(renter);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.OnlySettlement.selector, renter));
        gpuHours.endBookingEarly(b, renter);
    }

    /// @dev Wherever in the booking it ends, the refund is the backing of exactly the hours not yet
    ///      started, and with the rest settled later every unit is paid out once.
    function testFuzz_endBooking_refundsExactlyTheHoursAhead(uint16 hours_, uint256 at) public {
        hours_ = uint16(bound(hours_, 2, WINDOW));
        at = bound(at, start, start + uint256(hours_ - 1) * 1 hours - 1);
        uint256 b = _book(renter, 8, hours_, 0);
        vm.warp(at);
        uint256 started = (at - start) / 1 hours + 1;
        uint256 claimable = escrow.claimable(renter);
        vm.prank(renter);
        settlement.endBooking(b);
        assertEq(escrow.claimable(renter) - claimable, 8 * (hours_ - started) * uint256(BACKING));
        vm.warp(_readyAt(start + started * 1 hours));
        settlement.settleBooking(b); // nothing attested: every started hour refunded too
        assertEq(escrow.claimable(renter) - claimable, 8 * uint256(hours_) * BACKING);
        assertEq(escrow.funds(id).backing, 0);
        assertEq(settlement.settledUnits(id), 8 * uint256(hours_));
    }
}
