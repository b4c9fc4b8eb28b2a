// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CapacityFixtures} from "./utils/SettlementFixtures.sol";
import {CloseReason} from "../src/interfaces/IGpuHours.sol";
import {ISettlement, Sla} from "../src/interfaces/ISettlement.sol";

/// @notice Paid on delivery, not uptime: an hour counts as delivered only when the node's attested
///         GPU-seconds cover the GPUs booked in it (booked × 3,600 × minUptimeBps / 10,000, rounded up).
contract DeliveryTest is CapacityFixtures {
    uint256 internal constant WINDOW = 6;
    uint256 internal constant BOND = 100 * USDC;
    uint256 internal constant SLASH = 1e6; // SettlementFixtures' SLA, per GPU-hour
    uint256 internal constant B = BACKING;

    function setUp() public override {
        super.setUp();
        _open(WINDOW, BOND);
    }

    /// @dev The attack: node up all along, 0 GPU-seconds to an 8-GPU booking. Every hour fails: the
    ///      renter gets its backing back plus the slash past the grace, the provider nothing.
    function test_attack_upButNotDeliveringIsPaidNothing() public {
        uint256 b = _book(renter, 8, 4, 0);
        _attestPattern(nodeId, start, "UUUU");
        (bool attested, uint16 uptime,, uint32 gpuSeconds) = oracle.epochRecord(nodeId, uint64(start / 1 hours));
        assertTrue(attested);
        assertEq(uptime, 10_000, "fully up");
        assertEq(gpuSeconds, 0, "but nothing delivered");

        vm.warp(_readyAt(start + 4 hours));
        uint256 provider0 = escrow.claimable(provider);
        uint256 renter0 = escrow.claimable(renter);
        uint256 slashed = 8 * (4 - 1) * SLASH; // one grace hour in the window
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 0, 4, slashed);
        settlement.settleBooking(b);

        assertEq(escrow.claimable(provider), provider0, "provider paid nothing");
        assertEq(escrow.claimable(renter) - renter0, 32 * B + slashed, "backing back and the slash");
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.ProviderFailed));
    }

    /// @dev 8 GPUs at 90 %: 25,920 GPU-seconds required; one short fails, exactly enough passes.
    function test_gpuSeconds_boundaryAtTheRequirement() public {
        uint256 b = _book(renter, 8, 3, 0);
        uint64 e = uint64(start / 1 hours);
        _attestSeconds(nodeId, e, 10_000, MFLOPS_PER_JOULE, 25_919);
        _attestSeconds(nodeId, e + 1, 10_000, MFLOPS_PER_JOULE, 25_920);
        _attestSeconds(nodeId, e + 2, 9_000, MFLOPS_PER_JOULE, 8 * 3600);
        vm.warp(_readyAt(start + 3 hours));
        uint256 provider0 = escrow.claimable(provider);
        uint256 renter0 = escrow.claimable(renter);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 2, 1, 0); // the failed hour is the grace
        settlement.settleBooking(b);
        assertEq(escrow.claimable(provider) - provider0, _net(16 * B));
        assertEq(escrow.claimable(renter) - renter0, 8 * B);
    }

    /// @dev At 90.01 % the requirement for 8 GPUs is 25,922.88, rounded up against the provider.
    function test_gpuSeconds_requirementRoundsUp() public {
        vm.prank(owner);
        settlement.setSla(Sla({minUptimeBps: 9_001, minGflopsPerJoule: 0, graceHours: 0, slashPerGpuHour: 1e6}));
        (uint64 n, uint256 cap) = _capacity(provider, 2, BOND);
        uint40 s = _start(cap);
        uint256 b = _bookOn(cap, renter, 8, 2, 0, BACKING);
        uint64 e = uint64(s / 1 hours);
        _attestSeconds(n, e, 10_000, MFLOPS_PER_JOULE, 25_922);
        _attestSeconds(n, e + 1, 10_000, MFLOPS_PER_JOULE, 25_923);
        vm.warp(_readyAt(s + 2 hours));
        uint256 renter0 = escrow.claimable(renter);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, cap, 1, 1, 8 * SLASH); // no grace: the short hour slashes
        settlement.settleBooking(b);
        assertEq(escrow.claimable(renter) - renter0, 8 * B + 8 * SLASH);
    }

    /// @dev Two 4-GPU bookings share the node's hours: 14,400 GPU-seconds would do for one (12,960)
    ///      but not for both (25,920), and one node-hour's figure covers all its bookings, so both fail.
    function test_sharedHour_bothFailWhenOnlyOneIsServed() public {
        uint256 b1 = _book(renter, 4, 3, 0);
        uint256 b2 = _book(buyer, 4, 3, 0);
        assertEq(gpuHours.bookedAt(id, start), 8);
        uint64 e = uint64(start / 1 hours);
        _attestSeconds(nodeId, e, 10_000, MFLOPS_PER_JOULE, 4 * 3600);
        _attestSeconds(nodeId, e + 1, 10_000, MFLOPS_PER_JOULE, 4 * 3600);
        _attestSeconds(nodeId, e + 2, 10_000, MFLOPS_PER_JOULE, 8 * 3600);
        vm.warp(_readyAt(start + 3 hours));
        uint256 provider0 = escrow.claimable(provider);
        uint256 renter0 = escrow.claimable(renter);
        uint256 buyer0 = escrow.claimable(buyer);
        // Both bookings start at the window's start, so each has the whole grace: 2 failed, 1 slashed.
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b1, id, 1, 2, 4 * SLASH);
        settlement.settleBooking(b1);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b2, id, 1, 2, 4 * SLASH);
        settlement.settleBooking(b2);
        assertEq(escrow.claimable(renter) - renter0, 8 * B + 4 * SLASH, "renter: 2 hours x 4 GPUs + slash");
        assertEq(escrow.claimable(buyer) - buyer0, 8 * B + 4 * SLASH, "buyer: alike");
        assertEq(escrow.claimable(provider) - provider0, 2 * _net(4 * B), "one hour of each");
    }

    /// @dev The grace's "failed before" count applies the same rule: an earlier hour that was up but
    ///      not delivering uses the grace up, so the next booking's failed hour is slashed.
    function test_grace_usedUpByAnEarlierUndeliveredHour() public {
        uint256 b1 = _book(renter, 8, 1, 0);
        uint256 b2 = _book(renter, 8, 1, 1);
        _attestPattern(nodeId, start, "UU");
        vm.warp(_readyAt(start + 2 hours));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b1, id, 0, 1, 0);
        settlement.settleBooking(b1);
        uint256 renter0 = escrow.claimable(renter);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b2, id, 0, 1, 8 * SLASH);
        settlement.settleBooking(b2);
        assertEq(escrow.claimable(renter) - renter0, 8 * B + 8 * SLASH);
    }

    /// @dev The window count: hours with nothing booked need uptime and efficiency only, so 0
    ///      GPU-seconds there still count for unused units; the booked hour that got nothing fails.
    function test_windowCount_ignoresGpuSecondsWhereNothingIsBooked() public {
        uint256 b = _book(renter, 8, 1, 0);
        _buyPrimary(renter, id, 8, BACKING); // held, never activated
        _attestPattern(nodeId, start, "UUUUUU");
        vm.warp(_readyAt(start + WINDOW * 1 hours));

        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 0, 1, 0);
        settlement.settleBooking(b);

        uint256 provider0 = escrow.claimable(provider);
        // 5 of 6 hours delivered, 1 failed (within the grace): 8 × 5 / 6 = 6 units paid.
        vm.expectEmit(address(settlement));
        emit ISettlement.UnusedSettled(id, renter, 8, 6, 0);
        settlement.settleUnused(id, _holders(renter));
        assertEq(escrow.claimable(provider) - provider0, _net(6 * B));

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 5, 1, BOND);
        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.Completed));
    }

    /// @dev Low GPU-seconds do not rescue a low-uptime hour, and full GPU-seconds do not rescue it either.
    function test_uptimeStillRequiredWithFullGpuSeconds() public {
        uint256 b = _book(renter, 8, 2, 0);
        uint64 e = uint64(start / 1 hours);
        _attestSeconds(nodeId, e, 8_999, MFLOPS_PER_JOULE, 8 * 3600);
        _attestSeconds(nodeId, e + 1, 10_000, MFLOPS_PER_JOULE, 8 * 3600);
        vm.warp(_readyAt(start + 2 hours));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 1, 1, 0);
        settlement.settleBooking(b);
    }
}
