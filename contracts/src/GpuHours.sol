// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IGpuHours, Capacity, Booking, Terms, CapacityStatus, CloseReason} from "./interfaces/IGpuHours.sol";
import {IEscrow} from "./interfaces/IEscrow.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {BookingId, makeBookingId} from "./libraries/BookingId.sol";
import {HourBook} from "./libraries/HourBook.sol";
import {NodeRegistry} from "./NodeRegistry.sol";

/// @title GpuHours
/// @notice ERC-1155 GPU-hour leases: capacities of registered nodes (one token id each), activation
///         into per-hour bookings, cancellation with refunds and expiry of unused hours.
contract GpuHours is NodeRegistry, ERC1155, Ownable2Step {
    using HourBook for HourBook.Book;

    // ---------------------------------------------------------------- storage

    IEscrow public immutable escrow;
    /// @inheritdoc IGpuHours
    address public immutable exchange;
    /// @inheritdoc IGpuHours
    address public settlement;
    /// @notice Minimum bond per GPU-hour of supply, in stablecoin base units.
    uint256 public minBondPerUnit;
    uint256 public capacityCount;

    mapping(uint256 capacityId => Capacity) private _capacities;
    mapping(uint256 capacityId => Terms) private _terms;
    mapping(uint256 bookingId => Booking) private _bookings;
    mapping(uint256 capacityId => HourBook.Book) private _booked;

    /// @dev The three core contracts are wired by immutables, deployed in the order Escrow,
    ///      GpuHours, Exchange at predicted addresses; the Exchange constructor checks the wiring.
    constructor(IEscrow escrow_, address exchange_, address owner_, string memory uri_) ERC1155(uri_) Ownable(owner_) {
        if (address(escrow_) == address(0) || exchange_ == address(0)) revert ZeroAddress();
        escrow = escrow_;
        exchange = exchange_;
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IGpuHours
    function setSettlement(address settlement_) external onlyOwner {
        if (settlement != address(0)) revert SettlementAlreadySet(settlement);
        if (settlement_ == address(0)) revert ZeroAddress();
        settlement = settlement_;
        emit SettlementSet(settlement_);
    }

    /// @inheritdoc IGpuHours
    function setMinBondPerUnit(uint256 amount) external onlyOwner {
        minBondPerUnit = amount;
        emit MinBondPerUnitSet(amount);
    }

    /// @inheritdoc IGpuHours
    function setURI(string calldata uri_) external onlyOwner {
        _setURI(uri_);
    }

    // ---------------------------------------------------------------- provider

    /// @inheritdoc IGpuHours
    function createCapacity(uint64 nodeId, uint40 start, uint40 end, uint96 backing, uint256 bond)
        external
        returns (uint256 capacityId)
    {
        if (settlement == address(0)) revert SettlementNotSet();
        if (backing == 0) revert InvalidBacking(backing);
        uint8 gpuCount = _claimWindow(nodeId, start, end);
        uint32 cap = uint32(gpuCount) * uint32((end - start) / HOUR);
        Terms memory t = ISettlement(settlement).newTerms();
        t.backing = backing;
        // The bond answers for a full slash of every unit, so no holder races another for it.
        uint256 minimum = cap * Math.max(minBondPerUnit, t.slashPerGpuHour);
        if (bond < minimum) revert BondTooLow(bond, minimum);
        capacityId = ++capacityCount;
        _capacities[capacityId] = Capacity({
            nodeId: nodeId,
            start: start,
            end: end,
            gpuCount: gpuCount,
            status: CapacityStatus.Active,
            closeReason: CloseReason.None,
            minted: 0,
            retired: 0
        });
        _terms[capacityId] = t;
        _booked[capacityId].open((end - start) / HOUR);
        emit CapacityCreated(capacityId, nodeId, msg.sender, start, end, cap, bond, t);
        if (bond != 0) escrow.postBond(capacityId, msg.sender, bond);
    }

    /// @inheritdoc IGpuHours
    function cancelCapacity(uint256 capacityId) external {
        Capacity storage c = _activeCapacity(capacityId);
        address provider = _nodes[c.nodeId].owner;
        if (msg.sender != provider) revert NotNodeOwner(c.nodeId, msg.sender);
        if (block.timestamp >= c.start) revert WindowStarted(capacityId, c.start);

        c.status = CapacityStatus.Cancelled;
        c.closeReason = CloseReason.ProviderCancelled;
        uint32 sold = c.minted;
        emit CapacityCancelled(capacityId, sold);
        emit CapacityClosed(capacityId, CloseReason.ProviderCancelled);
        escrow.openRefunds(capacityId, sold, provider, _terms[capacityId].slashPerGpuHour);
    }

    // ---------------------------------------------------------------- holders

    /// @inheritdoc IGpuHours
    function activate(uint256 capacityId, uint40 start, uint16 hours_, uint8 gpus)
        external
        returns (uint256 bookingId)
    {
        Capacity memory c = _capacities[capacityId];
        if (c.status != CapacityStatus.Active) _revertNotActive(capacityId, c.status);
        _burn(msg.sender, capacityId, uint256(gpus) * hours_);
        bookingId = _bookHours(capacityId, c, start, hours_, gpus);
        _bookings[bookingId] =
            Booking({holder: msg.sender, start: start, hours_: hours_, gpus: gpus, closeReason: CloseReason.None});
        emit HoursActivated(bookingId, capacityId, msg.sender, start, hours_, gpus);
    }

    /// @inheritdoc IGpuHours
    function redeemCancelled(uint256 capacityId, uint256 amount) external {
        Capacity storage c = _capacities[capacityId];
        if (c.status != CapacityStatus.Cancelled) _revertNotActive(capacityId, c.status);
        _burn(msg.sender, capacityId, amount);
        c.retired += uint32(amount); // amount <= balance <= minted, which fits 32 bits
        emit HoursRedeemed(capacityId, msg.sender, amount);
        escrow.refund(capacityId, msg.sender, amount);
    }

    /// @inheritdoc IGpuHours
    function refundBooking(uint256 bookingId) external {
        Booking storage b = _bookings[bookingId];
        if (b.holder == address(0) || b.closeReason != CloseReason.None) revert BookingNotOpen(bookingId);
        uint256 capacityId = BookingId.wrap(bookingId).capacityId();
        CapacityStatus status = _capacities[capacityId].status;
        if (status != CapacityStatus.Cancelled) _revertNotActive(capacityId, status);
        b.closeReason = CloseReason.ProviderCancelled;
        emit BookingClosed(bookingId, capacityId, CloseReason.ProviderCancelled);
        escrow.refund(capacityId, b.holder, uint256(b.gpus) * b.hours_);
    }

    /// @inheritdoc IGpuHours
    function expireHours(uint256 capacityId, address[] calldata holders) external {
        _onlySettlement();
        Capacity storage c = _activeCapacity(capacityId);
        if (block.timestamp < c.end) revert WindowNotEnded(capacityId, c.end);
        uint32 expired; // at most minted, which fits 32 bits
        for (uint256 i; i < holders.length; ++i) {
            uint256 balance = balanceOf(holders[i], capacityId);
            if (balance == 0) continue;
            _burn(holders[i], capacityId, balance);
            expired += uint32(balance);
            emit HoursExpired(capacityId, holders[i], balance);
        }
        c.retired += expired;
    }

    /// @inheritdoc IGpuHours
    function closeCapacity(uint256 capacityId, CloseReason reason) external {
        _onlySettlement();
        Capacity storage c = _activeCapacity(capacityId);
        if (block.timestamp < c.end) revert WindowNotEnded(capacityId, c.end);
        c.status = CapacityStatus.Closed;
        c.closeReason = reason;
        emit CapacityClosed(capacityId, reason);
    }

    /// @inheritdoc IGpuHours
    function closeBooking(uint256 bookingId, CloseReason reason) external {
        _onlySettlement();
        Booking storage b = _bookings[bookingId];
        if (b.holder == address(0) || b.closeReason != CloseReason.None) revert BookingNotOpen(bookingId);
        b.closeReason = reason;
        emit BookingClosed(bookingId, BookingId.wrap(bookingId).capacityId(), reason);
    }

    /// @inheritdoc IGpuHours
    function endBookingEarly(uint256 bookingId, address holder) external returns (uint256 units) {
        _onlySettlement();
        Booking storage b = _bookings[bookingId];
        if (b.holder != holder) revert NotBookingHolder(bookingId, holder);
        if (b.closeReason != CloseReason.None) revert BookingNotOpen(bookingId);
        uint256 capacityId = BookingId.wrap(bookingId).capacityId();
        Capacity storage c = _activeCapacity(capacityId);
        if (block.timestamp < b.start) revert BookingNotStarted(bookingId, b.start);
        uint256 end = uint256(b.start) + uint256(b.hours_) * HOUR;
        uint256 from = _currentHour() + HOUR; // the current hour has started
        if (from >= end) revert NothingToEnd(bookingId, end);
        uint256 hoursBack = (end - from) / HOUR;
        _booked[capacityId].unbook((from - c.start) / HOUR, hoursBack, b.gpus);
        b.hours_ -= uint16(hoursBack);
        _nodes[c.nodeId].earlyEnds += 1;
        units = hoursBack * b.gpus;
        c.retired += uint32(units); // given back, like a redemption: no longer minted and out
        emit BookingEnded(bookingId, capacityId, holder, hoursBack);
    }

    // ---------------------------------------------------------------- exchange

    /// @inheritdoc IGpuHours
    function mint(address to, uint256 capacityId, uint256 amount, address maker) external returns (uint256 backing) {
        if (msg.sender != exchange) revert OnlyExchange(msg.sender);
        Capacity memory c = _capacities[capacityId];
        if (c.status != CapacityStatus.Active) _revertNotActive(capacityId, c.status);
        if (block.timestamp >= c.end) revert WindowEnded(capacityId, c.end);
        if (_nodes[c.nodeId].owner != maker) revert NotProvider(capacityId, maker);
        uint256 cap = _cap(c);
        // Units given back by an early end free their hours, which may be sold again.
        uint256 existing = c.minted - c.retired;
        if (amount > cap - existing) revert SupplyCapExceeded(capacityId, existing, amount, cap);
        // Before the window every hour is still ahead, so the cap is the whole check. Inside it, the
        // units out (minted, less retired, less what was booked into hours now over) plus these must
        // fit the GPU-hours left from the current hour on.
        if (block.timestamp >= c.start) {
            uint256 hourIndex = (_currentHour() - c.start) / HOUR;
            uint256 left = uint256(c.gpuCount) * (cap / c.gpuCount - hourIndex);
            (uint256 bookedBefore,) = _booked[capacityId].split(hourIndex, cap / c.gpuCount);
            uint256 out = c.minted - c.retired - bookedBefore;
            if (out + amount > left) revert HoursNotUsable(capacityId, amount, out < left ? left - out : 0);
        }
        _capacities[capacityId].minted = c.minted + uint32(amount);
        backing = _terms[capacityId].backing;
        _mint(to, capacityId, amount, "");
    }

    /// @inheritdoc IGpuHours
    function exchangeTransfer(address from, address to, uint256 capacityId, uint256 amount) external {
        if (msg.sender != exchange) revert OnlyExchange(msg.sender);
        _safeTransferFrom(from, to, capacityId, amount, "");
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IGpuHours
    function capacity(uint256 capacityId) external view returns (Capacity memory) {
        return _capacities[capacityId];
    }

    /// @inheritdoc IGpuHours
    function terms(uint256 capacityId) external view returns (Terms memory) {
        return _terms[capacityId];
    }

    /// @inheritdoc IGpuHours
    function usableUnits(uint256 capacityId) external view returns (uint256) {
        Capacity storage c = _capacities[capacityId];
        if (c.status != CapacityStatus.Active || block.timestamp >= c.end) return 0;
        uint256 n = (c.end - c.start) / HOUR;
        uint256 first = block.timestamp < c.start ? 0 : (_currentHour() - c.start) / HOUR;
        (uint256 bookedBefore, uint256 bookedAhead) = _booked[capacityId].split(first, n);
        uint256 circulating = c.minted - c.retired - bookedBefore - bookedAhead;
        uint256 free = uint256(c.gpuCount) * (n - first) - bookedAhead;
        return Math.min(circulating, free);
    }

    /// @inheritdoc IGpuHours
    function booking(uint256 bookingId) external view returns (Booking memory) {
        return _bookings[bookingId];
    }

    /// @inheritdoc IGpuHours
    function providerOf(uint256 capacityId) external view returns (address) {
        Capacity storage c = _capacities[capacityId];
        if (c.status == CapacityStatus.None) revert UnknownCapacity(capacityId);
        return _nodes[c.nodeId].owner;
    }

    /// @inheritdoc IGpuHours
    function supplyCap(uint256 capacityId) external view returns (uint256) {
        return _cap(_capacities[capacityId]);
    }

    /// @inheritdoc IGpuHours
    function totalSupply(uint256 capacityId) external view returns (uint256) {
        Capacity storage c = _capacities[capacityId];
        return c.minted - c.retired - bookedUnits(capacityId);
    }

    /// @inheritdoc IGpuHours
    function bookedUnits(uint256 capacityId) public view returns (uint256) {
        Capacity storage c = _capacities[capacityId];
        (, uint256 booked) = _booked[capacityId].split(0, (c.end - c.start) / HOUR);
        return booked;
    }

    /// @inheritdoc IGpuHours
    function bookedAt(uint256 capacityId, uint256 hourStart) external view returns (uint256) {
        Capacity storage c = _capacities[capacityId];
        if (hourStart < c.start || hourStart >= c.end) return 0;
        return _booked[capacityId].at((hourStart - c.start) / HOUR);
    }

    /// @inheritdoc IGpuHours
    function bookedRange(uint256 capacityId, uint256 firstHour, uint256 count) external view returns (uint8[] memory) {
        return _booked[capacityId].range(firstHour, count);
    }

    // ---------------------------------------------------------------- internal

    /// @dev Books `gpus` GPUs over [start, start + hours_) of an active capacity and returns the
    ///      booking id, or reverts.
    function _bookHours(uint256 capacityId, Capacity memory c, uint256 start, uint256 hours_, uint256 gpus)
        private
        returns (uint256 bookingId)
    {
        if (
            gpus == 0 || hours_ == 0 || start % HOUR != 0 || start < c.start || start < _currentHour()
                || start + hours_ * HOUR > c.end
        ) revert InvalidBooking(capacityId, start, hours_, gpus);
        uint256 first = (start - c.start) / HOUR;
        HourBook.Book storage book = _booked[capacityId];
        bookingId = BookingId.unwrap(makeBookingId(capacityId, first, book.at(first)));
        (bool ok, uint256 fullHour, uint256 held) = book.book(first, hours_, gpus, c.gpuCount);
        if (!ok) revert Overbooked(capacityId, c.start + fullHour * HOUR, held, gpus, c.gpuCount);
    }

    function _onlySettlement() private view {
        if (msg.sender != settlement) revert OnlySettlement(msg.sender);
    }

    function _activeCapacity(uint256 capacityId) private view returns (Capacity storage c) {
        c = _capacities[capacityId];
        if (c.status != CapacityStatus.Active) _revertNotActive(capacityId, c.status);
    }

    function _revertNotActive(uint256 capacityId, CapacityStatus status) private pure {
        if (status == CapacityStatus.None) revert UnknownCapacity(capacityId);
        revert CapacityNotActive(capacityId, status);
    }

    function _cap(Capacity memory c) private pure returns (uint256) {
        return uint256(c.gpuCount) * ((c.end - c.start) / HOUR);
    }
}
