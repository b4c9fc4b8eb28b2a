// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {SettlementFixtures} from "./utils/SettlementFixtures.sol";
import {Settlement} from "../src/Settlement.sol";
import {ISettlement, Sla} from "../src/interfaces/ISettlement.sol";
import {IGpuHours, Capacity, Booking, CapacityStatus, CloseReason} from "../src/interfaces/IGpuHours.sol";
import {IEscrow, Funds, Payee} from "../src/interfaces/IEscrow.sol";

contract SettlementTest is SettlementFixtures {
    uint256 internal constant WINDOW = 8;
    uint256 internal constant BOND = 100 * USDC;
    uint256 internal constant SLASH = 1 * USDC; // per GPU-hour beyond the grace

    uint64 internal nodeId;
    uint256 internal id;
    uint40 internal start;
    uint40 internal end;
    address internal carol = makeAddr("carol");
    address internal payeeA = makeAddr("payeeA");
    address internal payeeB = makeAddr("payeeB");

    /// @dev What one settlement of `units` should move, mirrored from the escrow's pro-rata rules.
    struct Expect {
        uint256 amount; // the units' share of the capacity's sales
        uint256 paid; // released to the provider
        uint256 releaseFee; // to the treasury
        uint256 refund; // sales back to the holder
        uint256 refundFee; // fee back to the holder
    }

    function setUp() public override {
        super.setUp();
        _fund(carol);
        (nodeId, id) = _capacity(provider, WINDOW, BOND);
        start = _start(id);
        end = _end(id);
    }

    // ================================================================ helpers

    function _expect(uint256 capId, uint256 units, uint256 delivered, uint256 hours_)
        internal
        view
        returns (Expect memory e)
    {
        Funds memory f = escrow.funds(capId);
        uint256 outstanding = gpuHours.capacity(capId).minted - settlement.settledUnits(capId);
        e.amount = units == outstanding ? f.sales : uint256(f.sales) * units / outstanding;
        e.paid = e.amount * delivered / hours_;
        e.releaseFee = e.paid == 0 ? 0 : uint256(f.fees) * e.paid / f.sales;
        e.refund = e.amount - e.paid;
        uint256 sales1 = f.sales - e.paid;
        uint256 fees1 = f.fees - e.releaseFee;
        e.refundFee = e.refund == 0 ? 0 : fees1 * e.refund / sales1;
    }

    /// @dev `who` buys `gpus × hours_` hours and books them from hour `fromHour` of the window
    ///      (activated at the window's start, or now if later).
    function _book(address who, uint8 gpus, uint16 hours_, uint256 fromHour, uint256 price)
        internal
        returns (uint256 bookingId, uint256 fee)
    {
        fee = _buyPrimary(who, id, uint256(gpus) * hours_, price);
        if (block.timestamp < start) vm.warp(start);
        vm.prank(who);
        bookingId = gpuHours.activate(id, uint40(start + fromHour * 1 hours), hours_, gpus);
    }

    /// @dev The renter books the whole node (2 GPUs, 8 hours) at PRICE; returns (booking, sales, fee).
    function _bookWindow() internal returns (uint256 bookingId, uint256 sales, uint256 fee) {
        (bookingId, fee) = _book(renter, 2, uint16(WINDOW), 0, PRICE);
        sales = 2 * WINDOW * PRICE - fee;
    }

    function _setSla(uint16 minUptime, uint16 minEff, uint8 grace, uint128 slash) internal {
        vm.prank(owner);
        settlement.setSla(Sla({minUptimeBps: minUptime, minGflopsPerJoule: minEff, graceHours: grace, slashPerGpuHour: slash}));
    }

    function _holders(address a) internal pure returns (address[] memory h) {
        h = new address[](1);
        h[0] = a;
    }

    function _holders(address a, address b) internal pure returns (address[] memory h) {
        h = new address[](2);
        h[0] = a;
        h[1] = b;
    }

    function _assertFundsEmpty(uint256 capId) internal view {
        Funds memory f = escrow.funds(capId);
        assertEq(f.sales, 0, "sales left in escrow");
        assertEq(f.fees, 0, "fees left in escrow");
        assertEq(f.bond, 0, "bond left in escrow");
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
        assertEq(escrow.settler(), address(settlement));
        assertEq(gpuHours.settlement(), address(settlement));
    }

    function test_constructor_revertsInvalidSla() public {
        vm.expectRevert(ISettlement.InvalidSla.selector);
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
    }

    function test_setSla_revertsInvalidSla() public {
        vm.prank(owner);
        vm.expectRevert(ISettlement.InvalidSla.selector);
        settlement.setSla(Sla(10_001, 0, 1, 1));
        vm.prank(owner);
        vm.expectRevert(ISettlement.InvalidSla.selector);
        settlement.setSla(Sla(type(uint16).max, 0, 1, 1));
    }

    function test_setSla_revertsForNonOwner() public {
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, provider));
        settlement.setSla(Sla(0, 0, 0, 0));
    }

    // ================================================================ settleBooking

    function test_settleBooking_healthyPaysProviderInFull() public {
        (uint256 b, uint256 sales, uint256 fee) = _bookWindow();
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));

        vm.expectEmit(address(gpuHours));
        emit IGpuHours.BookingClosed(b, id, CloseReason.Completed);
        vm.expectEmit(address(escrow));
        emit IEscrow.Released(id, provider, sales, fee);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 8, 0, sales, 0, 0);
        vm.prank(makeAddr("keeper")); // anyone may settle
        settlement.settleBooking(b);

        assertEq(escrow.claimable(provider), sales, "provider paid in full");
        assertEq(escrow.claimable(treasury), fee, "fee to the treasury");
        assertEq(escrow.claimable(renter), 0, "nothing back to a served holder");
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, 0);
        assertEq(f.fees, 0);
        assertEq(f.bond, BOND, "no slash");
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.Completed));
        assertEq(settlement.settledUnits(id), 16);
    }

    function test_settleBooking_paysRevenueSplit() public {
        Payee[] memory split = new Payee[](2);
        split[0] = Payee(payeeA, 7_000);
        split[1] = Payee(payeeB, 3_000);
        vm.prank(provider);
        escrow.setRevenueSplit(split);

        (uint256 b, uint256 sales, uint256 fee) = _bookWindow();
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);

        uint256 toB = sales * 3_000 / 10_000;
        assertEq(escrow.claimable(payeeB), toB);
        assertEq(escrow.claimable(payeeA), sales - toB, "first payee takes the remainder");
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), fee);

        // The bond goes back to the provider itself, not through the split.
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), BOND);
    }

    function test_settleBooking_failingRefundsFeeAndSlashesBond() public {
        (uint256 b, uint256 sales, uint256 fee) = _bookWindow();
        _attestPattern(nodeId, start, "GGGBBBBB"); // 3 delivered, 5 failed
        vm.warp(_readyAt(end));

        Expect memory e = _expect(id, 16, 3, 8);
        assertEq(e.amount, sales);
        assertEq(e.paid, sales * 3 / 8);
        uint256 slash = 2 * (5 - 1) * SLASH; // 2 GPUs, 4 failed hours beyond the 1-hour grace
        vm.expectEmit(address(escrow));
        emit IEscrow.BondSlashed(id, renter, slash);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 3, 5, e.paid, e.refund, slash);
        settlement.settleBooking(b);

        assertEq(escrow.claimable(provider), e.paid, "provider paid for delivered hours only");
        assertEq(escrow.claimable(treasury), e.releaseFee, "fee only on delivered hours");
        assertEq(escrow.claimable(renter), e.refund + e.refundFee + slash, "holder refunded with fee, plus slash");
        assertEq(e.releaseFee + e.refundFee, fee, "fee split between treasury and holder");
        assertEq(
            escrow.claimable(provider) + escrow.claimable(treasury) + escrow.claimable(renter),
            2 * WINDOW * PRICE + slash,
            "every unit the renter paid, plus the slash, is credited"
        );
        Funds memory f = escrow.funds(id);
        assertEq(f.sales, 0);
        assertEq(f.fees, 0);
        assertEq(f.bond, BOND - slash);
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.ProviderFailed));

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 3, 5, BOND - slash);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), e.paid + BOND - slash, "rest of the bond back");
        Capacity memory c = gpuHours.capacity(id);
        assertEq(uint8(c.status), uint8(CapacityStatus.Closed));
        assertEq(uint8(c.closeReason), uint8(CloseReason.ProviderFailed));
        _assertFundsEmpty(id);
    }

    function test_settleBooking_singleBlipNotSlashed() public {
        (uint256 b, uint256 sales, uint256 fee) = _bookWindow();
        _attestPattern(nodeId, start, "GGGBGGGG"); // one failed hour: within the grace
        vm.warp(_readyAt(end));
        Expect memory e = _expect(id, 16, 7, 8);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 7, 1, sales * 7 / 8, sales - sales * 7 / 8, 0);
        settlement.settleBooking(b);

        assertEq(escrow.funds(id).bond, BOND, "a blip is not slashed");
        assertEq(escrow.claimable(renter), e.refund + e.refundFee, "the failed hour is still refunded");
        assertEq(escrow.claimable(treasury) + e.refundFee, fee);
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.Completed));

        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.Completed));
        assertEq(escrow.claimable(provider), e.paid + BOND);
    }

    function test_settleBooking_slashesOnlyBeyondGrace() public {
        (uint256 b,,) = _bookWindow();
        _attestPattern(nodeId, start, "GBGGGGGB"); // two failed hours, not consecutive
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.funds(id).bond, BOND - 2 * 1 * SLASH);
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.ProviderFailed));
    }

    function test_settleBooking_graceOfZeroSlashesEveryFailedHour() public {
        _setSla(9_000, 0, 0, uint128(SLASH));
        (uint256 b,,) = _bookWindow();
        _attestPattern(nodeId, start, "GGGGGGGB");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.funds(id).bond, BOND - 2 * SLASH);
    }

    function test_settleBooking_unattestedRefundedNotSlashed() public {
        (uint256 b, uint256 sales,) = _bookWindow();
        _attestPattern(nodeId, start, "GG---GGG");
        vm.warp(_readyAt(end));
        Expect memory e = _expect(id, 16, 5, 8);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 5, 0, sales * 5 / 8, sales - sales * 5 / 8, 0);
        settlement.settleBooking(b);
        assertEq(escrow.funds(id).bond, BOND, "unattested hours are not slashed");
        assertEq(escrow.claimable(renter), e.refund + e.refundFee);
        assertEq(escrow.claimable(provider), e.paid);
        assertEq(uint8(gpuHours.booking(b).closeReason), uint8(CloseReason.Completed));
    }

    function test_settleBooking_nothingAttestedRefundsEverything() public {
        (uint256 b,,) = _bookWindow();
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        assertEq(escrow.claimable(provider), 0, "no attestation, no pay");
        assertEq(escrow.claimable(treasury), 0, "fee waived");
        assertEq(escrow.claimable(renter), 2 * WINDOW * PRICE, "the holder gets back all it paid");
        assertEq(escrow.funds(id).bond, BOND);
    }

    function test_settleBooking_lowEfficiencyFails() public {
        _setSla(9_000, 1_000, 1, uint128(SLASH)); // 1,000 GFLOP/J minimum
        (uint256 b,,) = _bookWindow();
        _attestPattern(nodeId, start, "GGLLLLGG"); // full uptime, 100 GFLOP/J for four hours
        vm.warp(_readyAt(end));
        Expect memory e = _expect(id, 16, 4, 8);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 4, 4, e.paid, e.refund, 2 * 3 * SLASH);
        settlement.settleBooking(b);
    }

    function test_settleBooking_slashCappedAtBond() public {
        _setSla(9_000, 0, 1, uint128(1_000 * USDC));
        (uint256 b,,) = _bookWindow();
        _attestPattern(nodeId, start, "BBBBBBBB");
        vm.warp(_readyAt(end));
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b, id, 0, 8, 0, 2 * WINDOW * PRICE - _fee(2 * WINDOW * PRICE), BOND);
        settlement.settleBooking(b);
        assertEq(escrow.funds(id).bond, 0);
        assertEq(escrow.claimable(renter), 2 * WINDOW * PRICE + BOND);

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 0, 8, 0);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(provider), 0);
        _assertFundsEmpty(id);
    }

    function _fee(uint256 total) internal pure returns (uint256) {
        return (total * FEE_BPS + 9_999) / 10_000;
    }

    function test_settleBooking_bookingsCountTheirOwnHours() public {
        (uint256 b1,) = _book(renter, 2, 4, 0, PRICE); // hours 0-3
        (uint256 b2,) = _book(buyer, 1, 4, 4, 2 * PRICE); // hours 4-7, at twice the price
        _attestPattern(nodeId, start, "GGGGGBBB");
        vm.warp(_readyAt(end));

        Expect memory e1 = _expect(id, 8, 4, 4);
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b1, id, 4, 0, e1.paid, 0, 0);
        settlement.settleBooking(b1);
        assertEq(escrow.claimable(renter), 0);

        Expect memory e2 = _expect(id, 4, 1, 4);
        assertEq(e2.amount, escrow.funds(id).sales, "the last units take what is left");
        vm.expectEmit(address(settlement));
        emit ISettlement.BookingSettled(b2, id, 1, 3, e2.paid, e2.refund, 1 * 2 * SLASH);
        settlement.settleBooking(b2);
        assertEq(escrow.claimable(buyer), e2.refund + e2.refundFee + 2 * SLASH);
        assertEq(escrow.claimable(provider), e1.paid + e2.paid);

        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.ProviderFailed));
        _assertFundsEmpty(id);
    }

    function test_settleBooking_earlyBookingWhileWindowOpen() public {
        vm.prank(owner);
        oracle.setMaxDelay(1 hours);
        (uint256 b,) = _book(renter, 2, 3, 0, PRICE); // hours 0-2
        _buyPrimary(buyer, id, 10, PRICE);
        _attestPattern(nodeId, start, "GGG");
        uint256 bookingEnd = start + 3 hours;
        vm.warp(_readyAt(bookingEnd));
        assertLt(block.timestamp, end, "still inside the window");
        settlement.settleBooking(b);
        assertEq(settlement.settledUnits(id), 6);
        assertEq(uint8(gpuHours.capacity(id).status), uint8(CapacityStatus.Active));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, id, _readyAt(end)));
        settlement.settleCapacity(id);
    }

    function test_settleBooking_notSettleableUntilLastHourCanNoLongerBeAttested() public {
        (uint256 b, uint256 sales,) = _bookWindow();
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
        assertEq(escrow.claimable(provider), sales);
    }

    function test_settleBooking_revertsBookingNotOpen() public {
        (uint256 b,,) = _bookWindow();
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.BookingNotOpen.selector, b));
        settlement.settleBooking(b);

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
        vm.warp(_readyAt(end) + 1 days);

        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id));
        settlement.settleBooking(b);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id));
        settlement.settleUnused(id, _holders(renter));
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id));
        settlement.settleCapacity(id);

        // Its holders go the cancellation way instead.
        vm.prank(renter);
        gpuHours.refundBooking(b);
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 8);
        assertEq(escrow.claimable(renter), 16 * PRICE);
    }

    function test_settle_revertsForUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, 999));
        settlement.settleCapacity(999);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, 999));
        settlement.settleUnused(999, new address[](0));
    }

    // ================================================================ settleUnused

    function test_settleUnused_paysDeliveredWindowShare() public {
        uint256 fee1 = _buyPrimary(renter, id, 8, PRICE);
        uint256 fee2 = _buyPrimary(buyer, id, 4, 3 * PRICE);
        uint256 sales = 8 * PRICE - fee1 + 12 * PRICE - fee2;
        _attestPattern(nodeId, start, "GGGGGG-B"); // 6 of 8 hours available
        vm.warp(_readyAt(end));

        Expect memory e1 = _expect(id, 8, 6, 8);
        assertEq(e1.amount, sales * 8 / 12, "pro rata of all sales");
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.HoursExpired(id, renter, 8);
        vm.expectEmit(address(settlement));
        emit ISettlement.UnusedSettled(id, renter, 8, e1.paid, e1.refund);
        settlement.settleUnused(id, _holders(renter));
        assertEq(gpuHours.balanceOf(renter, id), 0);
        assertEq(escrow.claimable(provider), e1.paid);
        assertEq(escrow.claimable(renter), e1.refund + e1.refundFee);
        assertEq(escrow.funds(id).bond, BOND, "unused hours never slash");

        Expect memory e2 = _expect(id, 4, 6, 8);
        assertEq(e2.amount, sales - e1.amount);
        vm.expectEmit(address(settlement));
        emit ISettlement.UnusedSettled(id, buyer, 4, e2.paid, e2.refund);
        settlement.settleUnused(id, _holders(buyer));

        assertEq(escrow.claimable(provider), e1.paid + e2.paid);
        assertEq(escrow.claimable(buyer), e2.refund + e2.refundFee);
        assertEq(escrow.claimable(treasury), e1.releaseFee + e2.releaseFee);
        assertEq(settlement.settledUnits(id), 12);
        assertEq(gpuHours.capacity(id).retired, 12);
        assertEq(gpuHours.totalSupply(id), 0);
        assertEq(escrow.funds(id).sales, 0);
        assertEq(escrow.funds(id).fees, 0);

        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 6, 1, BOND);
        settlement.settleCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).closeReason), uint8(CloseReason.Completed));
    }

    function test_settleUnused_severalHoldersInOneCall() public {
        _buyPrimary(renter, id, 5, PRICE);
        _buyPrimary(buyer, id, 7, PRICE + 1);
        _buyPrimary(carol, id, 3, 2 * PRICE);
        uint256 paidIn = 5 * PRICE + 7 * (PRICE + 1) + 6 * PRICE;
        _attestPattern(nodeId, start, "GGGBB---");
        vm.warp(_readyAt(end));
        address[] memory h = new address[](4);
        h[0] = renter;
        h[1] = makeAddr("nobody"); // holds nothing: skipped
        h[2] = carol;
        h[3] = buyer;
        settlement.settleUnused(id, h);
        assertEq(settlement.settledUnits(id), 15);
        uint256 credited = escrow.claimable(provider) + escrow.claimable(treasury) + escrow.claimable(renter)
            + escrow.claimable(buyer) + escrow.claimable(carol);
        assertEq(credited, paidIn, "every unit paid in is credited");
        Funds memory f = escrow.funds(id);
        assertEq(f.sales + f.fees, 0);
        // the provider earns 3/8 of the sales, rounded down per holder
        assertApproxEqAbs(escrow.claimable(provider) * 8, (paidIn - _totalFees()) * 3, 8 * 3);
        assertEq(escrow.claimable(makeAddr("nobody")), 0);
    }

    function _totalFees() internal pure returns (uint256) {
        return _fee(5 * PRICE) + _fee(7 * (PRICE + 1)) + _fee(6 * PRICE);
    }

    function test_settleUnused_duplicateHolderCountedOnce() public {
        _buyPrimary(renter, id, 8, PRICE);
        _buyPrimary(buyer, id, 8, PRICE);
        _attestPattern(nodeId, start, "GGGG----");
        vm.warp(_readyAt(end));
        Expect memory e = _expect(id, 8, 4, 8);
        address[] memory h = new address[](3);
        h[0] = renter;
        h[1] = renter;
        h[2] = renter;
        settlement.settleUnused(id, h);
        assertEq(settlement.settledUnits(id), 8, "a holder listed twice is settled once");
        assertEq(escrow.claimable(renter), e.refund + e.refundFee);
        assertEq(escrow.claimable(provider), e.paid);

        // The other holder still gets its full share, and the capacity closes.
        Expect memory e2 = _expect(id, 8, 4, 8);
        settlement.settleUnused(id, _holders(buyer, buyer));
        assertEq(escrow.claimable(buyer), e2.refund + e2.refundFee);
        settlement.settleCapacity(id);
        _assertFundsEmpty(id);
    }

    function test_settleUnused_nothingAttestedRefundsAll() public {
        _buyPrimary(renter, id, 8, PRICE);
        vm.warp(_readyAt(end));
        settlement.settleUnused(id, _holders(renter));
        assertEq(escrow.claimable(renter), 8 * PRICE);
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

        vm.expectEmit(address(gpuHours));
        emit IGpuHours.CapacityClosed(id, CloseReason.Completed);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id, provider, BOND);
        vm.expectEmit(address(settlement));
        emit ISettlement.CapacitySettled(id, 8, 0, BOND);
        settlement.settleCapacity(id);
        _assertFundsEmpty(id);
        assertEq(escrow.claimable(provider), 12 * PRICE - _fee(8 * PRICE) - _fee(4 * PRICE) + BOND);
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
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id));
        settlement.settleCapacity(id);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CapacityNotSettleable.selector, id));
        settlement.settleUnused(id, _holders(renter));
    }

    function test_settleCapacity_followsTransferredNode() public {
        (uint256 b, uint256 sales,) = _bookWindow();
        address next = makeAddr("next owner");
        vm.prank(provider);
        gpuHours.transferNode(nodeId, next);
        _attestPattern(nodeId, start, "GGGGGGGG");
        vm.warp(_readyAt(end));
        settlement.settleBooking(b);
        settlement.settleCapacity(id);
        assertEq(escrow.claimable(next), sales + BOND, "the node's owner at settlement is paid");
    }

    // ================================================================ sums

    /// @dev A mixed capacity: bookings that pass, blip and fail, unused hours of three holders,
    ///      a revenue split. Afterwards the capacity's funds are zero and every stablecoin unit is
    ///      accounted for, before and after everyone withdraws.
    function test_accounting_everyUnitAccountedFor() public {
        Payee[] memory split = new Payee[](2);
        split[0] = Payee(payeeA, 5_001);
        split[1] = Payee(payeeB, 4_999);
        vm.prank(provider);
        escrow.setRevenueSplit(split);
        address[7] memory everyone = [provider, renter, buyer, carol, treasury, payeeA, payeeB];
        uint256 supply = usdc.totalSupply();

        (uint256 b1,) = _book(renter, 3, 5, 0, PRICE + 17); // hours 0-4
        (uint256 b2,) = _book(buyer, 2, 3, 5, PRICE * 2 + 1); // hours 5-7
        (uint256 b3,) = _book(carol, 1, 8, 0, PRICE - 3); // the whole window
        _buyPrimary(renter, id, 7, PRICE + 5);
        _buyPrimary(carol, id, 11, 999_999);
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
        uint256 held = usdc.balanceOf(address(exchange)) + usdc.balanceOf(address(settlement))
            + usdc.balanceOf(address(gpuHours));
        for (uint256 i; i < everyone.length; ++i) {
            held += usdc.balanceOf(everyone[i]);
        }
        assertEq(held, supply, "no stablecoin created or lost");
    }
}
