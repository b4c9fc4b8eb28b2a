// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ISettlement, Sla} from "./interfaces/ISettlement.sol";
import {IGpuHours, Capacity, Booking, Terms, CapacityStatus, CloseReason} from "./interfaces/IGpuHours.sol";
import {IEscrow} from "./interfaces/IEscrow.sol";
import {IAttestationOracle} from "./interfaces/IAttestationOracle.sol";
import {BookingId} from "./libraries/BookingId.sol";
import {EpochLane} from "./libraries/EpochLane.sol";

/// @title Settlement
/// @notice The escrow's settler: turns attested hours into payouts, refunds and slashes, under the
///         terms each capacity recorded when it was created.
/// @dev An hour is delivered when the node is attested at or above the SLA's uptime and efficiency
///      and its attested GPU-seconds cover the GPUs booked in that hour at the SLA's uptime; a
///      node-hour's GPU-seconds serve every booking in it, so the hour passes or fails for all alike.
///      Every unit carries the same fixed backing, so each settlement moves exactly its units'
///      backing: a delivered unit's to the provider, the others' back to their holder. The bond
///      covers a slash of every unit (GpuHours sizes it so), so no holder races another for it.
contract Settlement is ISettlement, Ownable2Step {
    uint256 private constant HOUR = 1 hours;

    IGpuHours public immutable gpuHours;
    IEscrow public immutable escrow;
    IAttestationOracle public immutable oracle;

    Sla private _sla;
    /// @inheritdoc ISettlement
    mapping(uint256 capacityId => uint256) public settledUnits;
    /// @dev Delivered and failed hours of a whole window, plus one, once counted.
    mapping(uint256 capacityId => uint256) private _windowCounts;

    constructor(IGpuHours gpuHours_, IEscrow escrow_, IAttestationOracle oracle_, address owner_, Sla memory sla_)
        Ownable(owner_)
    {
        gpuHours = gpuHours_;
        escrow = escrow_;
        oracle = oracle_;
        _setSla(sla_);
    }

    /// @inheritdoc ISettlement
    function setSla(Sla calldata sla_) external onlyOwner {
        _setSla(sla_);
    }

    // ---------------------------------------------------------------- settle

    /// @inheritdoc ISettlement
    function settleBooking(uint256 bookingId) external {
        Booking memory b = gpuHours.booking(bookingId);
        if (b.holder == address(0) || b.closeReason != CloseReason.None) revert BookingNotOpen(bookingId);
        uint256 capacityId = BookingId.wrap(bookingId).capacityId();
        Capacity memory c = gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active) revert CapacityNotSettleable(capacityId, c.status);
        Terms memory t = gpuHours.terms(capacityId);
        {
            // The oracle still accepts the last hour exactly maxDelay after it ends: one second later.
            uint256 readyAt = uint256(b.start) + uint256(b.hours_) * HOUR + t.maxDelay + 1;
            if (block.timestamp < readyAt) revert NotSettleable(bookingId, readyAt);
        }

        (uint256 delivered, uint256 failed) = _count(capacityId, c, b.start, b.hours_, t);
        uint256 units = uint256(b.gpus) * b.hours_;
        uint256 slashed =
            failed == 0 ? 0 : uint256(b.gpus) * _slashedHours(capacityId, c, t, b.start, failed) * t.slashPerGpuHour;
        settledUnits[capacityId] += units;
        emit BookingSettled(bookingId, capacityId, delivered, failed, slashed);
        gpuHours.closeBooking(bookingId, failed == 0 ? CloseReason.Completed : CloseReason.ProviderFailed);
        escrow.settle(capacityId, b.holder, units, uint256(b.gpus) * delivered);
        if (slashed != 0) escrow.slashBond(capacityId, b.holder, slashed);
    }

    /// @inheritdoc ISettlement
    function endBooking(uint256 bookingId) external {
        uint256 capacityId = BookingId.wrap(bookingId).capacityId();
        uint256 units = gpuHours.endBookingEarly(bookingId, msg.sender);
        settledUnits[capacityId] += units;
        escrow.settle(capacityId, msg.sender, units, 0);
    }

    /// @inheritdoc ISettlement
    function settleUnused(uint256 capacityId, address[] calldata holders) external {
        (Capacity memory c, Terms memory t) = _endedCapacity(capacityId);
        uint256 windowHours = (c.end - c.start) / HOUR;
        (uint256 delivered, uint256 failed) = _countWindow(capacityId, c, t);
        uint256 slashedHours = failed > t.graceHours ? failed - t.graceHours : 0;
        uint256[] memory units = new uint256[](holders.length);
        uint256 total;
        for (uint256 i; i < holders.length; ++i) {
            units[i] = IERC1155(address(gpuHours)).balanceOf(holders[i], capacityId);
            // A holder listed twice is expired once, so it must be paid once.
            for (uint256 j; j < i && units[i] != 0; ++j) {
                if (holders[j] == holders[i]) units[i] = 0;
            }
            if (units[i] == 0) continue;
            total += units[i];
            (uint256 paid, uint256 slashed) = _unusedShares(units[i], delivered, slashedHours, windowHours, t);
            emit UnusedSettled(capacityId, holders[i], units[i], paid, slashed);
        }
        settledUnits[capacityId] += total;
        gpuHours.expireHours(capacityId, holders);
        for (uint256 i; i < holders.length; ++i) {
            if (units[i] == 0) continue;
            (uint256 paid, uint256 slashed) = _unusedShares(units[i], delivered, slashedHours, windowHours, t);
            escrow.settle(capacityId, holders[i], units[i], paid);
            if (slashed != 0) escrow.slashBond(capacityId, holders[i], slashed);
        }
    }

    /// @inheritdoc ISettlement
    function settleCapacity(uint256 capacityId) external {
        (Capacity memory c, Terms memory t) = _endedCapacity(capacityId);
        uint256 outstanding = c.minted - settledUnits[capacityId];
        if (outstanding != 0) revert UnitsOutstanding(capacityId, outstanding);
        (uint256 delivered, uint256 failed) = _countWindow(capacityId, c, t);
        uint256 bond = escrow.funds(capacityId).bond;
        emit CapacitySettled(capacityId, delivered, failed, bond);
        gpuHours.closeCapacity(capacityId, failed > t.graceHours ? CloseReason.ProviderFailed : CloseReason.Completed);
        escrow.settleWindow(capacityId, gpuHours.providerOf(capacityId), delivered, (c.end - c.start) / HOUR);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ISettlement
    function unusedRefund(uint256 capacityId, uint256 units) external view returns (uint256) {
        Capacity memory c = gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active && c.status != CapacityStatus.Closed) {
            revert CapacityNotSettleable(capacityId, c.status);
        }
        Terms memory t = gpuHours.terms(capacityId);
        uint256 readyAt = uint256(c.end) + t.maxDelay + 1;
        if (block.timestamp < readyAt) revert NotSettleable(capacityId, readyAt);
        (uint256 delivered, uint256 failed,) = _windowCount(capacityId, c, t);
        uint256 slashedHours = failed > t.graceHours ? failed - t.graceHours : 0;
        (uint256 paid, uint256 slashed) = _unusedShares(units, delivered, slashedHours, (c.end - c.start) / HOUR, t);
        return (units - paid) * t.backing + slashed;
    }

    /// @inheritdoc ISettlement
    function sla() external view returns (Sla memory) {
        return _sla;
    }

    /// @inheritdoc ISettlement
    function newTerms() external view returns (Terms memory t) {
        Sla memory s = _sla;
        t.slashPerGpuHour = s.slashPerGpuHour;
        t.maxDelay = uint32(oracle.maxDelay()); // the oracle bounds its delay far below 2^32 s
        t.minUptimeBps = s.minUptimeBps;
        t.minGflopsPerJoule = s.minGflopsPerJoule;
        t.graceHours = s.graceHours;
    }

    // ---------------------------------------------------------------- internal

    function _setSla(Sla memory sla_) private {
        if (sla_.minUptimeBps > 10_000) revert InvalidSla(sla_.minUptimeBps);
        _sla = sla_;
        emit SlaSet(sla_);
    }

    function _endedCapacity(uint256 capacityId) private view returns (Capacity memory c, Terms memory t) {
        c = gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active) revert CapacityNotSettleable(capacityId, c.status);
        t = gpuHours.terms(capacityId);
        uint256 readyAt = uint256(c.end) + t.maxDelay + 1;
        if (block.timestamp < readyAt) revert NotSettleable(capacityId, readyAt);
    }

    /// @dev Of `units` unused units of a window, those paid to the provider, in proportion to the hours
    ///      it was attested available (rounded down, against the provider), and the slash owed to
    ///      their holder for the failed hours past grace.
    function _unusedShares(uint256 units, uint256 delivered, uint256 slashedHours, uint256 windowHours, Terms memory t)
        private
        pure
        returns (uint256 paid, uint256 slashed)
    {
        paid = units * delivered / windowHours;
        slashed = Math.mulDiv(units * slashedHours, t.slashPerGpuHour, windowHours);
    }

    /// @dev Delivered and failed hours of `capacityId` over `count` hours from the hour starting at
    ///      `from` (inside its window).
    function _count(uint256 capacityId, Capacity memory c, uint256 from, uint256 count, Terms memory t)
        private
        view
        returns (uint256 delivered, uint256 failed)
    {
        if (count == 0) return (0, 0);
        EpochLane[] memory lanes = oracle.epochLanes(c.nodeId, uint64(from / HOUR), count);
        uint8[] memory booked = gpuHours.bookedRange(capacityId, (from - c.start) / HOUR, count);
        return _tally(lanes, booked, t);
    }

    /// @dev The per-hour rule, over an hour's oracle lane and the GPUs booked on the node in it: an
    ///      unattested hour is neither; an attested one is delivered when at or above the minimum
    ///      uptime and efficiency and its GPU-seconds reach booked × 3,600 × minUptimeBps / 10,000
    ///      (rounded up, against the provider), failed otherwise.
    function _tally(EpochLane[] memory lanes, uint8[] memory booked, Terms memory t)
        private
        pure
        returns (uint256 delivered, uint256 failed)
    {
        uint256 minUptime = t.minUptimeBps;
        uint256 minGflops = t.minGflopsPerJoule;
        for (uint256 i; i < lanes.length; ++i) {
            EpochLane lane = lanes[i];
            if (!lane.attested()) continue;
            uint256 required = Math.ceilDiv(uint256(booked[i]) * HOUR * minUptime, 10_000);
            if (lane.uptimeBps() >= minUptime && lane.gflopsPerJoule() >= minGflops && lane.gpuSeconds() >= required) {
                ++delivered;
            } else {
                ++failed;
            }
        }
    }

    /// @dev Of `failed` hours of a booking starting at `start`, those past the window's grace. Grace
    ///      counts per window: hours that failed earlier in it use it up first, so splitting a booking
    ///      into short ones forgives nothing more.
    function _slashedHours(uint256 capacityId, Capacity memory c, Terms memory t, uint256 start, uint256 failed)
        private
        view
        returns (uint256)
    {
        (, uint256 failedBefore) = _count(capacityId, c, c.start, (start - c.start) / HOUR, t);
        uint256 forgiven = failedBefore >= t.graceHours ? 0 : Math.min(failed, t.graceHours - failedBefore);
        return failed - forgiven;
    }

    /// @dev Counts a window once, after it can no longer be attested, and remembers the result.
    function _countWindow(uint256 capacityId, Capacity memory c, Terms memory t)
        private
        returns (uint256 delivered, uint256 failed)
    {
        bool counted;
        (delivered, failed, counted) = _windowCount(capacityId, c, t);
        if (!counted) _windowCounts[capacityId] = ((delivered << 128) | failed) + 1;
    }

    /// @dev A window's delivered and failed hours, remembered or counted now; the same either way
    ///      once the window can no longer be attested.
    function _windowCount(uint256 capacityId, Capacity memory c, Terms memory t)
        private
        view
        returns (uint256 delivered, uint256 failed, bool counted)
    {
        uint256 packed = _windowCounts[capacityId];
        if (packed == 0) {
            (delivered, failed) = _count(capacityId, c, c.start, (c.end - c.start) / HOUR, t);
        } else {
            packed -= 1;
            (delivered, failed, counted) = (packed >> 128, packed & type(uint128).max, true);
        }
    }
}
