// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {CapacityFixtures} from "./utils/SettlementFixtures.sol";
import {Settlement} from "../src/Settlement.sol";
import {ISettlement, Sla} from "../src/interfaces/ISettlement.sol";
import {IGpuHours, Capacity, Booking, Terms, CapacityStatus, CloseReason} from "../src/interfaces/IGpuHours.sol";
import {IEscrow, Funds, Payee} from "../src/interfaces/IEscrow.sol";

contract SettlementTest is CapacityFixtures {
    uint256 internal constant WINDOW = 8;
    uint256 internal constant BOND = 100 * USDC; // above the minimum 8 GPUs × 8 hours × SLASH
    uint256 internal constant SLASH = 1 * USDC; // per GPU-hour beyond the grace
    uint256 internal constant B = BACKING;

    uint40 internal end;
    address internal carol = makeAddr("carol");
    address internal payeeA = makeAddr("payeeA");
    address internal payeeB = makeAddr("payeeB");

    function setUp() public override {
        super.setUp();
        _fund(carol);
        _open(WINDOW, BOND);
        end = _end(id);
    }

    // ================================================================ helpers

    /// @dev The renter books 2 GPUs for the whole window at the backing (no premium).
    function _bookWindow() internal returns (uint256) {
        return _book(renter, 2, uint16(WINDOW), 0);
    }

    function _setSla(uint16 minUptime, uint16 minEff, uint8 grace, uint64 slash) internal {
        vm.prank(owner);
        settlement.setSla(
            Sla({minUptimeBps: minUptime, minGflopsPerJoule: minEff, graceHours: grace, slashPerGpuHour: slash})
        );
    }

    /// @dev A fresh 8-GPU capacity of the provider under the SLA in force now.
    function _newCap(uint256 bond) internal returns (uint64 n, uint256 capId) {
        (n, capId) = _capacity(provider, WINDOW, bond);
    }

    function _assertFundsEmpty(uint256 capId) internal view {
        Funds memory f = escrow.funds(capId);
        assertEq(f.backing, 0, "backing left in escrow");
        assertEq(f.bond, 0, "bond left in escrow");
        assertEq(f.premium, 0, "premium left in escrow");
    }

    /// @dev Attests the same hour pattern for two nodes, hour by hour (each hour must be attested
    ///      within the oracle's delay).
    function _attestBoth(uint64 a, uint64 b, uint256 from, bytes memory pattern) internal {
        uint64 first = uint64(from / 1 hours);
        for (uint256 i; i < pattern.length; ++i) {
            uint16 up = pattern[i] == "G" ? 10_000 : 5_000;
            _attest(a, first + uint64(i), up, MFLOPS_PER_JOULE);
            _attest(b, first + uint64(i), up, MFLOPS_PER_JOULE);
        }
    }

    // ================================================================ constructor / admin

    function test_constructor_state() public view {
        assertEq(address(settlement.gpuHours()), address(gpuHours));
        assertEq(address(settlement.escrow()), address(escrow));
        assertEq(address(settlement.oracle()), address(oracle));
        assertEq(settlement.owner(), owner);
        Sla memory s = settlement.sla();
        assertEq(s.minUptimeBps, 9_000);
        assertEq(s.minGflopsPerJoule, 0);
        assertEq(s.graceHours, 1);
        assertEq(s.slashPerGpuHour, SLASH);
        assertEq(gpuHours.settlement(), address(settlement));
        // the capacity recorded the terms in force when it was created
        Terms memory t = gpuHours.terms(id);
        assertEq(t.backing, B);
        assertEq(t.slashPerGpuHour, SLASH);
        assertEq(t.maxDelay, MAX_DELAY);
        assertEq(t.minUptimeBps, 9_000);
        assertEq(t.minGflopsPerJoule, 0);
        assertEq(t.graceHours, 1);
    }

    function test_constructor_revertsInvalidSla() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidSla.selector, 10_001));
        new Settlement(gpuHours, escrow, oracle, owner, Sla(10_001, 0, 0, 0));
    }

    function test_setSla_setsAndEmits() public {
        Sla memory s = Sla({minUptimeBps: 10_000, minGflopsPerJoule: 800, graceHours: 3, slashPerGpuHour: 7});
        vm.expectEmit(address(settlement));
        emit ISettlement.SlaSet(s);
        vm.prank(owner);
        settlement.setSla(s);
        Sla memory got = settlement.sla();
        assertEq(got.minUptimeBps, 10_000);
        assertEq(got.minGflopsPerJoule, 800);
        assertEq(got.graceHours, 3);
        assertEq(got.slashPerGpuHour, 7);
        Terms memory t = settlement.newTerms();
        assertEq(t.backing, 0, "the provider sets the backing");
        assertEq(t.slashPerGpuHour, 7);
        assertEq(t.maxDelay, MAX_DELAY);
        assertEq(t.minUptimeBps, 10_000);
        assertEq(t.minGflopsPerJoule, 800);
        assertEq(t.graceHours, 3);
    }

    function test_setSla_revertsInvalidSla() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidSla.selector, 10_001));
        settlement.setSla(Sla(10_001, 0, 1, 1));
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidSla.selector, type(uint16).max));
        settlement.setSla(Sla(type(uint16).max, 0, 1, 1));
    }

    function test_setSla_revertsForNonOwner() public {
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, provider));
        settlement.setSla(Sla(0, 0, 0, 0));
    }

    // ================================================================ settleBooking

    function test_settleBooking_healthyPaysProviderInFull() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));

        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 8, 0, 0);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.BookingClosed(b, id, CloseReason.Completed);
        vm.expectEmit(address(escrow));
        emit IEscrow.Released(id, provider, 16, 16 * B, _fee(16 * B));
        vm.prank(makeAddr("keeper")); // anyone may settle
        settlement.settleBooking(b);

        assertEq(escrow.claimable(provider), _net(16 * B), "provider paid every unit's backing less the fee");
        assertEq(escrow.claimable(treasury), _fee(16 * B), "fee to the treasury");
        assertEq(escrow.claimable(renter), 0, "nothing back to a served holder");
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, BOND, "no slash");
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.Completed));
        assertEq(settlement.settledUnits(id), 16);
    }

    function test_settleBooking_premiumHeldUntilTheWindowSettles() public {
        // Sold at three times the backing: the premium is held apart from the backing; a booking's
        // settlement moves only the backing, the window's settlement pays the premium.
        uint256 b = _bookOn(id, renter, 2, uint16(WINDOW), 0, 3 * B);
        uint256 premium = 16 * 2 * B;
        assertEq(escrow.claimable(provider), 0, "nothing at the sale");
        assertEq(escrow.funds(id).backing, 16 * B);
        assertEq(escrow.funds(id).premium, premium);
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.claimable(provider), _net(16 * B));
        assertEq(escrow.claimable(treasury), _fee(16 * B));
        assertEq(escrow.funds(id).premium, premium, "still held");

        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, premium, _fee(premium), 0);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), _net(16 * B) + BOND + premium - _fee(premium));
        assertEq(escrow.claimable(treasury), _fee(16 * B) + _fee(premium));
        _assertFundsEmpty(id);
    }

    function test_settleBooking_paysRevenueSplit() public {
        Payee[] memory split = new Payee[](2);
        split[0] = Payee(payeeA, 7_000);
        split[1] = Payee(payeeB, 3_000);
        vm.prank(provider);
        escrow.setRevenueSplit(split);

        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);

        uint256 net = _net(16 * B);
        uint256 toB = net * 3_000 / 10_000;
        assertEq(escrow.claimable(payeeB), toB);
        assertEq(escrow.claimable(payeeA), net - toB, "first payee takes the remainder");
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), _fee(16 * B));

        // The bond goes back to the provider itself, not through the split.
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), BOND);
    }

    function test_settleBooking_failingRefundsAndSlashesBond() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GGGBBBBB"); // 3 delivered, 5 failed
        vm.warp(_readyAt(end));

        uint256 slash = 2 * (5 - 1) * SLASH; // 2 GPUs, 4 failed hours beyond the 1-hour grace
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 3, 5, slash);
        vm.expectEmit(address(escrow));
        emit IEscrow.Released(id, provider, 6, 6 * B, _fee(6 * B));
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 10, 10 * B);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondSlashed(id, renter, slash);
        settlement.settleBooking(b);

        assertEq(escrow.claimable(provider), _net(6 * B), "provider paid for delivered units only");
        assertEq(escrow.claimable(treasury), _fee(6 * B), "fee only on delivered units");
        assertEq(escrow.claimable(renter), 10 * B + slash, "failed units' backing back, plus the slash");
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, BOND - slash);
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.ProviderFailed));

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 3, 5, BOND - slash);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), _net(6 * B) + BOND - slash, "rest of the bond back");
        Capacity memory c = gpuHours.capacity(id);
        assertEq(uint8(c.status), uint8(CapacityStatus.Closed));
        assertEq(uint8(c.closeReason), uint8(CloseReason.ProviderFailed));
        _assertFundsEmpty(id);
    }

    function test_settleBooking_singleBlipNotSlashed() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GGGBGGGG"); // one failed hour: within the grace
        vm.warp(_readyAt(end));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 7, 1, 0);
        settlement.settleBooking(b);

        assertEq(escrow.funds(id).bond, BOND, "a blip is not slashed");
        assertEq(escrow.claimable(renter), 2 * B, "the failed hour is still refunded");
        assertEq(escrow.claimable(provider), _net(14 * B));
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.ProviderFailed));

        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.Completed));
        assertEq(escrow.claimable(provider), _net(14 * B) + BOND);
    }

    function test_settleBooking_slashesOnlyBeyondGrace() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GBGGGGGB"); // two failed hours, not consecutive
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.funds(id).bond, BOND - 2 * 1 * SLASH);
        assertEq(escrow.claimable(renter), 4 * B + 2 * SLASH);
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.ProviderFailed));
    }

    function test_settleBooking_graceOfZeroSlashesEveryFailedHour() public {
        _setSla(9_000, 0, 0, uint64(SLASH));
        (uint64 n, uint256 capId) = _newCap(BOND);
        uint256 b = _bookOn(capId, renter, 2, uint16(WINDOW), 0, PRICE);
        _attestPattern(n, _start(capId), "GGGGGGGB");
        vm.warp(_readyAt(_end(capId)));
        settlement.settleBooking(b);
        assertEq(escrow.funds(capId).bond, BOND - 2 * SLASH);
    }

    function test_settleBooking_unattestedRefundedNotSlashed() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GG---GGG");
        vm.warp(_readyAt(end));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 5, 0, 0);
        settlement.settleBooking(b);
        assertEq(escrow.funds(id).bond, BOND, "unattested hours are not slashed");
        assertEq(escrow.claimable(renter), 6 * B);
        assertEq(escrow.claimable(provider), _net(10 * B));
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.Completed));
    }

    function test_settleBooking_nothingAttestedRefundsEverything() public {
        uint256 b = _bookWindow();
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.claimable(provider), 0, "no attestation, no pay");
        assertEq(escrow.claimable(treasury), 0, "no fee");
        assertEq(escrow.claimable(renter), 16 * B, "the holder gets every unit's backing back");
        assertEq(escrow.funds(id).bond, BOND);
    }

    function test_settleBooking_belowBackingSaleStillRefundsFullBacking() public {
        // Sold at a third of the backing; the provider paid in the rest, so a failed unit still
        // refunds its full backing, more than the holder paid.
        uint256 providerBefore = usdc.balanceOf(provider);
        uint256 b = _bookOn(id, renter, 2, uint16(WINDOW), 0, B / 3);
        assertEq(providerBefore - usdc.balanceOf(provider), 16 * (B - B / 3), "provider topped up");
        assertEq(escrow.funds(id).backing, 16 * B);
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.claimable(renter), 16 * B);
    }

    function test_settleBooking_lowEfficiencyFails() public {
        _setSla(9_000, 1_000, 1, uint64(SLASH)); // 1,000 GFLOP/J minimum
        (uint64 n, uint256 capId) = _newCap(BOND);
        uint256 b = _bookOn(capId, renter, 2, uint16(WINDOW), 0, PRICE);
        _attestPattern(n, _start(capId), "GGLLLLGG"); // full uptime, 100 GFLOP/J for four hours
        vm.warp(_readyAt(_end(capId)));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, capId, 4, 4, 2 * 3 * SLASH);
        settlement.settleBooking(b);
        assertEq(escrow.claimable(renter), 8 * B + 6 * SLASH);
        assertEq(escrow.claimable(provider), _net(8 * B));
    }

    function test_settleBooking_bondCoversFullSlashOfEveryUnit() public {
        uint64 slash = 12 * uint64(USDC);
        _setSla(9_000, 0, 1, slash);
        uint256 minimum = 8 * WINDOW * slash;
        bytes32 g = _gpus();
        vm.startPrank(provider);
        uint64 n = gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", g);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BondTooLow.selector, minimum - 1, minimum));
        gpuHours.createCapacity(n, start, end, uint96(B), minimum - 1);
        uint256 capId = gpuHours.createCapacity(n, start, end, uint96(B), minimum);
        vm.stopPrank();

        // The whole node booked, every hour failed: every holder slashed in full, bond to spare.
        uint256 b1 = _bookOn(capId, renter, 5, uint16(WINDOW), 0, PRICE);
        uint256 b2 = _bookOn(capId, buyer, 3, uint16(WINDOW), 0, PRICE);
        _attestPattern(n, start, "BBBBBBBB");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b1);
        settlement.settleBooking(b2);
        assertEq(escrow.claimable(renter), 40 * B + 5 * 7 * slash);
        assertEq(escrow.claimable(buyer), 24 * B + 3 * 7 * slash);
        assertEq(escrow.funds(capId).bond, minimum - 8 * 7 * slash);

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(capId, 0, 8, 8 * slash);
        settlement.settleCapacity(capId);
        assertEq(escrow.claimable(provider), 8 * slash, "the grace hour's slash stays with the provider");
        _assertFundsEmpty(capId);
    }

    function test_settleBooking_bookingsCountTheirOwnHours() public {
        uint256 b1 = _book(renter, 2, 4, 0); // hours 0-3
        uint256 b2 = _bookOn(id, buyer, 1, 4, 4, 2 * PRICE); // hours 4-7, at twice the price
        uint256 premium = 4 * B;
        _attestPattern(nodeId, start, "GGGGGBBB");
        vm.warp(_readyAt(end));

        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b1, id, 4, 0, 0);
        settlement.settleBooking(b1);
        assertEq(escrow.claimable(renter), 0);

        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b2, id, 1, 3, 1 * 2 * SLASH);
        settlement.settleBooking(b2);
        assertEq(escrow.claimable(buyer), 3 * B + 2 * SLASH, "price paid does not change the refund");
        assertEq(escrow.claimable(provider), _net(8 * B) + _net(1 * B), "the premium is still held");
        assertEq(escrow.funds(id).premium, premium);

        // 5 of the window's 8 hours delivered: 4B × 5/8 = 5,250,000 paid (fee 52,500), the rest,
        // 3,150,000, forfeited to the treasury; the bond less the 2 USDC slash back.
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 5_250_000, 52_500, 3_150_000);
        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.ProviderFailed));
        _assertFundsEmpty(id);
        assertEq(escrow.claimable(provider), _net(8 * B) + _net(1 * B) + BOND - 2 * SLASH + 5_250_000 - 52_500);
        assertEq(escrow.claimable(treasury), _fee(8 * B) + _fee(1 * B) + 52_500 + 3_150_000);
    }

    function test_settleBooking_earlyBookingWhileWindowOpen() public {
        vm.prank(owner);
        oracle.setMaxDelay(1 hours);
        (uint64 n, uint256 capId) = _newCap(BOND); // records the 1-hour delay
        assertEq(gpuHours.terms(capId).maxDelay, 1 hours);
        uint256 b = _bookOn(capId, renter, 2, 3, 0, PRICE); // hours 0-2
        _buyPrimary(buyer, capId, 10, PRICE);
        uint40 s = _start(capId);
        _attestPattern(n, s, "GGG");
        uint256 bookingEnd = s + 3 hours;
        vm.warp(bookingEnd + 1 hours + 1);
        assertLt(block.timestamp, _end(capId), "still inside the window");
        settlement.settleBooking(b);
        assertEq(settlement.settledUnits(capId), 6);
        assertEq(escrow.funds(capId).backing, 10 * B, "the unsettled units stay backed");
        assertEq(uint8(gpuHours.capacity(capId).status), uint8(CapacityStatus.Active));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, capId, _end(capId) + 1 hours + 1));
        settlement.settleCapacity(capId);
    }

    function test_settleBooking_usesRecordedMaxDelay() public {
        uint256 b = _bookWindow(); // id recorded a 6-hour delay
        vm.prank(owner);
        oracle.setMaxDelay(1 hours);
        vm.warp(end + 1 hours + 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, b, end + MAX_DELAY + 1));
        settlement.settleBooking(b);
    }

    function test_settleBooking_notSettleableUntilLastHourCanNoLongerBeAttested() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GGGGGGG"); // the last hour not yet
        uint256 readyAt = end + MAX_DELAY + 1;

        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, b, readyAt));
        settlement.settleBooking(b);

        // Exactly maxDelay after the last hour ended, its attestation is still accepted, so the
        // booking cannot be settled yet; a second later it can, and the late hour counts.
        vm.warp(end + MAX_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, b, readyAt));
        settlement.settleBooking(b);
        _attest(nodeId, uint64(end / 1 hours) - 1, 10_000, MFLOPS_PER_JOULE);

        vm.warp(readyAt);
        settlement.settleBooking(b);
        assertEq(escrow.claimable(provider), _net(16 * B));
    }

    function test_settleBooking_revertsBookingNotOpen() public {
        uint256 b = _bookWindow();
        _attestPattern(nodeId, start, "GGBBBGGG");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        uint256 renterAfter = escrow.claimable(renter);
        uint256 bondAfter = escrow.funds(id).bond;
        // settling twice reverts and moves nothing
        vm.expectRevert(abi.encodeWithSelector(ISettlement.BookingNotOpen.selector, b));
        settlement.settleBooking(b);
        assertEq(escrow.claimable(renter), renterAfter);
        assertEq(escrow.funds(id).bond, bondAfter);
        assertEq(settlement.settledUnits(id), 16);

        uint256 missing = (id << 24) | (5 << 8);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.BookingNotOpen.selector, missing));
        settlement.settleBooking(missing);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.BookingNotOpen.selector, 0));
        settlement.settleBooking(0);
    }

    function test_settleBooking_revertsForCancelledCapacity() public {
        _buyPrimary(renter, id, 16, PRICE);
        vm.prank(renter);
        uint256 b = gpuHours.activate(id, start, 4, 2); // booked before the window opens
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        // 16 units sold: each keeps min(SLASH, BOND / 16) = SLASH of the bond as its penalty
        assertEq(escrow.claimable(provider), BOND - 16 * SLASH, "the rest of the bond back");
        vm.warp(_readyAt(end) + 1 days);

        bytes memory notSettleable =
            abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id, CapacityStatus.Cancelled);
        vm.expectRevert(notSettleable);
        settlement.settleBooking(b);
        vm.expectRevert(notSettleable);
        settlement.settleUnused(id, _holders(renter));
        vm.expectRevert(notSettleable);
        settlement.settleCapacity(id);

        // Its holders go the cancellation way instead: backing plus the penalty, per unit.
        vm.prank(renter);
        gpuHours.refundBooking(b);
        assertEq(escrow.claimable(renter), 8 * (B + SLASH));
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 8);
        assertEq(escrow.claimable(renter), 16 * (B + SLASH));
        _assertFundsEmpty(id);
    }

    function test_settle_revertsForUnknownCapacity() public {
        bytes memory unknown =
            abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, 999, CapacityStatus.None);
        vm.expectRevert(unknown);
        settlement.settleCapacity(999);
        vm.expectRevert(unknown);
        settlement.settleUnused(999, new address[](0));
    }

    // ================================================================ attacks

    /// @dev (a) The owner changes the SLA after a sale: the capacity is settled under the terms it
    ///      recorded, so a failed hour stays failed and is slashed as promised.
    function test_attack_slaChangedAfterSaleDoesNotApply() public {
        uint256 b = _bookWindow();
        // Lenient: half uptime counts as delivered, eight hours of grace, no slash.
        _setSla(5_000, 0, 8, 0);
        assertEq(gpuHours.terms(id).minUptimeBps, 9_000, "recorded terms unchanged");
        assertEq(gpuHours.terms(id).slashPerGpuHour, SLASH);
        _attestPattern(nodeId, start, "GGGBBGGG"); // 'B' is 5,000 bps: delivered under the new SLA
        vm.warp(_readyAt(end));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 6, 2, 2 * 1 * SLASH);
        settlement.settleBooking(b);
        assertEq(escrow.claimable(renter), 4 * B + 2 * SLASH);
        assertEq(escrow.claimable(provider), _net(12 * B));
        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.ProviderFailed));

        // A capacity created after the change takes the new terms.
        (, uint256 later) = _newCap(0);
        Terms memory t = gpuHours.terms(later);
        assertEq(t.minUptimeBps, 5_000);
        assertEq(t.graceHours, 8);
        assertEq(t.slashPerGpuHour, 0);
    }

    /// @dev (b) Grace counts per window: eight one-hour bookings with the same failed hours as one
    ///      eight-hour booking are slashed exactly the same in total.
    function test_attack_splitBookingsGetNoExtraGrace() public {
        (uint64 nA, uint256 capA) = _newCap(BOND);
        (uint64 nB, uint256 capB) = _newCap(BOND);
        uint40 s = _start(capA);
        assertEq(s, _start(capB));
        uint256 whole = _bookOn(capA, renter, 1, uint16(WINDOW), 0, PRICE);
        uint256[] memory split = new uint256[](WINDOW);
        for (uint256 h; h < WINDOW; ++h) {
            // the provider's own address books its hours one at a time
            split[h] = _bookOn(capB, provider, 1, 1, h, PRICE);
        }
        _attestBoth(nA, nB, s, "GBBGBGGB"); // 4 failed hours
        vm.warp(_readyAt(s + WINDOW * 1 hours));

        uint256 bondA = escrow.funds(capA).bond;
        settlement.settleBooking(whole);
        uint256 slashedWhole = bondA - escrow.funds(capA).bond;
        assertEq(slashedWhole, 3 * SLASH, "one grace hour in the window");

        uint256 bondB = escrow.funds(capB).bond;
        // settled in a scrambled order: grace still goes to the earliest failed hour
        uint256[8] memory order = [uint256(7), 2, 4, 1, 0, 6, 3, 5];
        for (uint256 k; k < WINDOW; ++k) {
            settlement.settleBooking(split[order[k]]);
        }
        assertEq(bondB - escrow.funds(capB).bond, slashedWhole, "split bookings slashed the same in total");
        assertEq(escrow.funds(capB).backing, 0);
    }

    /// @dev (c) A Sybil booking by the provider's second address, settled first, takes only its own
    ///      failed units' slash; every honest failed unit is still slashed in full.
    function test_attack_sybilSettledFirstCannotDrainBond() public {
        uint256 minimum = 8 * WINDOW * SLASH;
        (uint64 n, uint256 capId) = _newCap(minimum); // the least bond allowed
        address sybil = makeAddr("provider's second address");
        _fund(sybil);
        uint256 sy = _bookOn(capId, sybil, 6, uint16(WINDOW), 0, PRICE);
        uint256 honest1 = _bookOn(capId, renter, 1, uint16(WINDOW), 0, PRICE);
        uint256 honest2 = _bookOn(capId, buyer, 1, 3, 5, PRICE); // hours 5-7
        _attestPattern(n, _start(capId), "BBBBBBBB");
        vm.warp(_readyAt(_end(capId)));

        settlement.settleBooking(sy);
        assertEq(escrow.claimable(sybil), 48 * B + 6 * 7 * SLASH, "only its own units' slash");
        settlement.settleBooking(honest2);
        // hours 5-7 fail after the window's grace hour (hour 0) was used: all three slashed
        assertEq(escrow.claimable(buyer), 3 * B + 3 * SLASH);
        settlement.settleBooking(honest1);
        assertEq(escrow.claimable(renter), 8 * B + 7 * SLASH);
        settlement.settleCapacity(capId);
        assertEq(escrow.claimable(provider), minimum - 6 * 7 * SLASH - 3 * SLASH - 7 * SLASH);
        _assertFundsEmpty(capId);
    }

    /// @dev (d) Only the wired settlement moves backing or bonds.
    function test_attack_onlyWiredSettlementCallsEscrow() public {
        _bookWindow();
        address[5] memory callers = [owner, provider, renter, address(gpuHours), address(exchange)];
        for (uint256 i; i < callers.length; ++i) {
            vm.startPrank(callers[i]);
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, callers[i]));
            escrow.settle(id, callers[i], 16, 0);
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, callers[i]));
            escrow.slashBond(id, callers[i], 1);
            vm.expectRevert(abi.encodeWithSelector(IEscrow.OnlySettler.selector, callers[i]));
            escrow.settleWindow(id, callers[i], WINDOW, WINDOW);
            vm.stopPrank();
        }
        // nor can anyone rewire it
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.SettlementAlreadySet.selector, address(settlement)));
        vm.prank(owner);
        gpuHours.setSettlement(makeAddr("another settler"));
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 16 * B);
        assertEq(f.bond, BOND);
    }

    // ================================================================ settleUnused

    function test_settleUnused_paysDeliveredWindowShare() public {
        _buyPrimary(renter, id, 8, PRICE);
        _buyPrimary(buyer, id, 4, 3 * PRICE);
        uint256 premium = 4 * 2 * B;
        _attestPattern(nodeId, start, "GGGGGG-B"); // 6 of 8 hours available, 1 failed (in grace)
        vm.warp(_readyAt(end));

        vm.expectEmit(address(settlement));
        emit ISettlement.UnusedSettled(id, renter, 8, 6, 0);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.HoursExpired(id, renter, 8);
        vm.expectEmit(address(escrow));
        emit IEscrow.Released(id, provider, 6, 6 * B, _fee(6 * B));
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 2, 2 * B);
        settlement.settleUnused(id, _holders(renter));
        assertEq(gpuHours.balanceOf(renter, id), 0);
        assertEq(escrow.claimable(provider), _net(6 * B));
        assertEq(escrow.claimable(renter), 2 * B);
        assertEq(escrow.funds(id).bond, BOND, "failures within the grace never slash");

        vm.expectEmit(address(settlement));
        emit ISettlement.UnusedSettled(id, buyer, 4, 3, 0); // 4 × 6 / 8
        settlement.settleUnused(id, _holders(buyer));

        assertEq(escrow.claimable(provider), _net(6 * B) + _net(3 * B));
        assertEq(escrow.claimable(buyer), 1 * B);
        assertEq(escrow.claimable(treasury), _fee(6 * B) + _fee(3 * B));
        assertEq(escrow.funds(id).premium, premium);
        assertEq(settlement.settledUnits(id), 12);
        assertEq(gpuHours.capacity(id).retired, 12);
        assertEq(gpuHours.totalSupply(id), 0);
        assertEq(escrow.funds(id).backing, 0);

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 6, 1, BOND);
        // 6 of 8 hours delivered: 6B of the 8B premium paid (fee 126,000), 2B forfeited.
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 6 * B, 126_000, 2 * B);
        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.Completed));
        assertEq(escrow.claimable(provider), _net(6 * B) + _net(3 * B) + BOND + 6 * B - 126_000);
        assertEq(escrow.claimable(treasury), _fee(6 * B) + _fee(3 * B) + 126_000 + 2 * B);
        _assertFundsEmpty(id);
    }

    function test_settleUnused_slashesFailedHoursBeyondGrace() public {
        _buyPrimary(renter, id, 8, PRICE);
        _buyPrimary(buyer, id, 5, PRICE);
        _attestPattern(nodeId, start, "BBBGGGG-"); // 4 delivered, 3 failed: 2 beyond the grace
        vm.warp(_readyAt(end));
        uint256 renterRefund = settlement.unusedRefund(id, 8); // counted now: nothing remembered yet

        vm.expectEmit(address(settlement));
        emit ISettlement.UnusedSettled(id, renter, 8, 4, 2 * SLASH); // 8 × 2 / 8 slashed hours
        vm.expectEmit(address(settlement));
        // 5 × 4 / 8 = 2 paid; 5 × 2 × 1 USDC / 8 = 1.25 USDC slashed (rounded once, at the end)
        emit ISettlement.UnusedSettled(id, buyer, 5, 2, 1_250_000);
        settlement.settleUnused(id, _holders(renter, buyer));
        assertEq(escrow.claimable(renter), 4 * B + 2 * SLASH);
        assertEq(escrow.claimable(buyer), 3 * B + 1_250_000);
        assertEq(renterRefund, escrow.claimable(renter), "the view counted what settleUnused credited");
        assertEq(settlement.unusedRefund(id, 5), escrow.claimable(buyer), "and from the remembered count");
        assertEq(escrow.claimable(provider), _net(4 * B) + _net(2 * B));
        assertEq(escrow.funds(id).bond, BOND - 3_250_000);
        assertEq(escrow.funds(id).backing, 0);
    }

    function test_unusedRefund_rejects() public {
        _buyPrimary(renter, id, 8, PRICE);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, id, _readyAt(end)));
        settlement.unusedRefund(id, 8);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id + 1, CapacityStatus.None));
        settlement.unusedRefund(id + 1, 8);
        vm.warp(_readyAt(end));
        assertEq(settlement.unusedRefund(id, 8), 8 * B, "nothing attested: all refunded");
    }

    function test_settleUnused_severalHoldersInOneCall() public {
        _buyPrimary(renter, id, 5, PRICE);
        _buyPrimary(buyer, id, 7, PRICE + 1);
        _buyPrimary(carol, id, 3, 2 * PRICE);
        uint256 premium = 7 + 3 * B;
        _attestPattern(nodeId, start, "GGGBB---"); // 3 delivered, 2 failed: 1 beyond the grace
        vm.warp(_readyAt(end));
        address[] memory h = new address[](4);
        h[0] = renter;
        h[1] = makeAddr("nobody"); // holds nothing: skipped
        h[2] = carol;
        h[3] = buyer;
        settlement.settleUnused(id, h);
        assertEq(settlement.settledUnits(id), 15);
        // paid units 5×3/8 = 1, 3×3/8 = 1, 7×3/8 = 2; slashed (1 hour past the grace, rounded once at
        // the end) 5 × 1 USDC / 8 = 0.625, 3 × 1 USDC / 8 = 0.375, 7 × 1 USDC / 8 = 0.875
        assertEq(escrow.claimable(renter), 4 * B + 625_000);
        assertEq(escrow.claimable(carol), 2 * B + 375_000);
        assertEq(escrow.claimable(buyer), 5 * B + 875_000);
        assertEq(escrow.claimable(provider), _net(1 * B) + _net(1 * B) + _net(2 * B));
        assertEq(escrow.funds(id).backing, 0);
        assertEq(escrow.funds(id).bond, BOND - 1_875_000);
        assertEq(escrow.funds(id).premium, premium);
        assertEq(escrow.claimable(makeAddr("nobody")), 0);

        // 3 of 8 hours delivered: 6,300,007 × 3/8 = 2,362,502 (rounded down) paid, a fee of 23,625.02
        // rounded up to 23,626, and 3,937,505 forfeited.
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 2_362_502, 23_626, 3_937_505);
        settlement.settleCapacity(id);
        assertEq(
            escrow.claimable(provider), _net(1 * B) + _net(1 * B) + _net(2 * B) + BOND - 1_875_000 + 2_362_502 - 23_626
        );
        _assertFundsEmpty(id);
    }

    function test_settleUnused_duplicateHolderCountedOnce() public {
        _buyPrimary(renter, id, 8, PRICE);
        _buyPrimary(buyer, id, 8, PRICE);
        _attestPattern(nodeId, start, "GGGG----");
        vm.warp(_readyAt(end));
        address[] memory h = new address[](3);
        h[0] = renter;
        h[1] = renter;
        h[2] = renter;
        settlement.settleUnused(id, h);
        assertEq(settlement.settledUnits(id), 8, "a holder listed twice is settled once");
        assertEq(escrow.claimable(renter), 4 * B);
        assertEq(escrow.claimable(provider), _net(4 * B));
        assertEq(escrow.funds(id).backing, 8 * B, "the other holder's units stay backed");

        settlement.settleUnused(id, _holders(buyer, buyer));
        assertEq(escrow.claimable(buyer), 4 * B);
        settlement.settleCapacity(id);
        _assertFundsEmpty(id);
    }

    function test_settleUnused_nothingAttestedRefundsAll() public {
        _buyPrimary(renter, id, 8, PRICE);
        vm.warp(_readyAt(end));
        settlement.settleUnused(id, _holders(renter));
        assertEq(escrow.claimable(renter), 8 * B);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_settleUnused_revertsNotSettleable() public {
        _buyPrimary(renter, id, 8, PRICE);
        vm.warp(end + MAX_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, id, _readyAt(end)));
        settlement.settleUnused(id, _holders(renter));
        vm.warp(start);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, id, _readyAt(end)));
        settlement.settleUnused(id, _holders(renter));
    }

    function test_settleUnused_emptyListAndNoHolders() public {
        vm.warp(_readyAt(end));
        settlement.settleUnused(id, new address[](0));
        settlement.settleUnused(id, _holders(renter));
        assertEq(settlement.settledUnits(id), 0);
    }

    // ================================================================ settleCapacity

    function test_settleCapacity_revertsUnitsOutstanding() public {
        _buyPrimary(renter, id, 8, PRICE);
        _buyPrimary(buyer, id, 4, PRICE);
        vm.warp(start);
        vm.prank(renter);
        uint256 b = gpuHours.activate(id, start, 2, 2); // 4 of the renter's 8
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));

        vm.expectRevert(abi.encodeWithSelector(ISettlement.UnitsOutstanding.selector, id, 12));
        settlement.settleCapacity(id);
        settlement.settleUnused(id, _holders(buyer));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.UnitsOutstanding.selector, id, 8));
        settlement.settleCapacity(id);
        settlement.settleBooking(b);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.UnitsOutstanding.selector, id, 4));
        settlement.settleCapacity(id);
        settlement.settleUnused(id, _holders(renter));

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 8, 0, BOND);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.CapacityClosed(id, CloseReason.Completed);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, BOND);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumSettled(id, provider, 0, 0, 0);
        settlement.settleCapacity(id);
        _assertFundsEmpty(id);
        assertEq(escrow.claimable(provider), _net(4 * B) + _net(4 * B) + _net(4 * B) + BOND);
    }

    function test_settleCapacity_noSalesReturnsBond() public {
        vm.warp(end + MAX_DELAY);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, id, _readyAt(end)));
        settlement.settleCapacity(id);
        vm.warp(_readyAt(end));
        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 0, 0, BOND);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), BOND);
        Capacity memory c = gpuHours.capacity(id);
        assertEq(uint8(c.status), uint8(CapacityStatus.Closed));
        assertEq(uint8(c.closeReason), uint8(CloseReason.Completed));
    }

    function test_settleCapacity_providerFailedWithoutSales() public {
        _attestPattern(nodeId, start, "BB-GGGGG");
        vm.warp(_readyAt(end));
        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 5, 2, BOND);
        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.ProviderFailed));
        assertEq(escrow.claimable(provider), BOND, "no holder suffered: the bond comes back whole");
    }

    function test_settleCapacity_revertsTwice() public {
        vm.warp(_readyAt(end));
        settlement.settleCapacity(id);
        bytes memory closed =
            abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id, CapacityStatus.Closed);
        vm.expectRevert(closed);
        settlement.settleCapacity(id);
        vm.expectRevert(closed);
        settlement.settleUnused(id, _holders(renter));
        assertEq(escrow.claimable(provider), BOND, "the bond returned once");
    }

    function test_settleCapacity_followsTransferredNode() public {
        uint256 b = _bookWindow();
        address next = makeAddr("next owner");
        vm.prank(provider);
        gpuHours.transferNode(nodeId, next);
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(next), _net(16 * B) + BOND, "the node's owner at settlement is paid");
    }

    // ================================================================ sums

    /// @dev A mixed capacity: bookings that pass, blip and fail, unused hours of three holders,
    ///      sales above and below the backing, a revenue split. Afterwards the capacity's funds are
    ///      zero and every stablecoin unit is accounted for, before and after everyone withdraws.
    function test_accounting_everyUnitAccountedFor() public {
        Payee[] memory split = new Payee[](2);
        split[0] = Payee(payeeA, 5_001);
        split[1] = Payee(payeeB, 4_999);
        vm.prank(provider);
        escrow.setRevenueSplit(split);
        address[7] memory everyone = [provider, renter, buyer, carol, treasury, payeeA, payeeB];
        uint256 supply = usdc.totalSupply();

        uint256 b1 = _bookOn(id, renter, 3, 5, 0, PRICE + 17); // hours 0-4
        uint256 b2 = _bookOn(id, buyer, 2, 3, 5, PRICE * 2 + 1); // hours 5-7
        uint256 b3 = _bookOn(id, carol, 1, 8, 0, PRICE - 3); // the whole window
        _buyPrimary(renter, id, 7, PRICE + 5);
        _buyPrimary(carol, id, 11, 999_999);
        assertEq(escrow.funds(id).backing, 47 * B, "every unit backed alike whatever it sold for");
        _attestPattern(nodeId, start, "GGB-GBBB");
        vm.warp(_readyAt(end));

        settlement.settleBooking(b2);
        settlement.settleUnused(id, _holders(carol, renter));
        settlement.settleBooking(b3);
        settlement.settleBooking(b1);
        settlement.settleCapacity(id);
        _assertFundsEmpty(id);

        uint256 credited;
        for (uint256 i; i < everyone.length; ++i) {
            credited += escrow.claimable(everyone[i]);
        }
        assertEq(usdc.balanceOf(address(escrow)), credited, "escrow holds exactly what it owes");
        for (uint256 i; i < everyone.length; ++i) {
            if (escrow.claimable(everyone[i]) == 0) continue;
            vm.prank(everyone[i]);
            escrow.withdraw(everyone[i]);
        }
        assertEq(usdc.balanceOf(address(escrow)), 0, "nothing stranded");
        uint256 held =
            usdc.balanceOf(address(exchange)) + usdc.balanceOf(address(settlement)) + usdc.balanceOf(address(gpuHours));
        for (uint256 i; i < everyone.length; ++i) {
            held += usdc.balanceOf(everyone[i]);
        }
        assertEq(held, supply, "no stablecoin created or lost");
    }
}
