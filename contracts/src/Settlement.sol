// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";

import {ISettlement, Sla} from "./interfaces/ISettlement.sol";
import {IGpuHours, Capacity, Booking, CapacityStatus, CloseReason} from "./interfaces/IGpuHours.sol";
import {IEscrow} from "./interfaces/IEscrow.sol";
import {IAttestationOracle} from "./interfaces/IAttestationOracle.sol";

/// @title Settlement
/// @notice The escrow's settler: turns attested hours into payouts, refunds and slashes.
/// @dev Money per unit is the capacity's escrowed sales divided by its unsettled units (the last
///      unit takes the remainder), so every settlement takes exactly its share and the escrow of a
///      fully settled capacity ends at zero.
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

    function setSla(Sla calldata sla_) external onlyOwner {
        _setSla(sla_);
    }

    // ---------------------------------------------------------------- settle

    /// @inheritdoc ISettlement
    function settleBooking(uint256 bookingId) external {
        Booking memory b = gpuHours.booking(bookingId);
        if (b.holder == address(0) || b.closeReason != CloseReason.None) revert BookingNotOpen(bookingId);
        uint256 capacityId = bookingId >> 24;
        Capacity memory c = gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active) revert CapacityNotSettleable(capacityId);
        // The oracle still accepts the last hour exactly maxDelay after it ends: one second later.
        uint256 readyAt = uint256(b.start) + uint256(b.hours_) * HOUR + oracle.maxDelay() + 1;
        if (block.timestamp < readyAt) revert NotSettleable(bookingId, readyAt);

        Sla memory s = _sla;
        (uint256 delivered, uint256 failed) =
            oracle.countEpochs(c.nodeId, uint64(b.start / HOUR), b.hours_, s.minUptimeBps, s.minGflopsPerJoule);
        uint256 amount = _take(capacityId, c.minted, uint256(b.gpus) * b.hours_);
        uint256 paid = amount * delivered / b.hours_;
        uint256 slashed;
        CloseReason reason = CloseReason.Completed;
        if (failed > s.graceHours) {
            reason = CloseReason.ProviderFailed;
            slashed = _slash(capacityId, b.holder, uint256(b.gpus) * (failed - s.graceHours) * s.slashPerGpuHour);
        }
        gpuHours.closeBooking(bookingId, reason);
        _pay(capacityId, b.holder, amount, paid);
        emit BookingSettled(bookingId, capacityId, delivered, failed, paid, amount - paid, slashed);
    }

    /// @inheritdoc ISettlement
    function settleUnused(uint256 capacityId, address[] calldata holders) external {
        Capacity memory c = _endedCapacity(capacityId);
        uint256 windowHours = (c.end - c.start) / HOUR;
        (uint256 delivered,) = _countWindow(capacityId, c);
        uint256[] memory units = new uint256[](holders.length);
        for (uint256 i; i < holders.length; ++i) {
            units[i] = IERC1155(address(gpuHours)).balanceOf(holders[i], capacityId);
            // A holder listed twice is expired once, so it must be paid once.
            for (uint256 j; j < i && units[i] != 0; ++j) {
                if (holders[j] == holders[i]) units[i] = 0;
            }
        }
        gpuHours.expireHours(capacityId, holders);
        for (uint256 i; i < holders.length; ++i) {
            if (units[i] == 0) continue;
            uint256 amount = _take(capacityId, c.minted, units[i]);
            uint256 paid = amount * delivered / windowHours;
            _pay(capacityId, holders[i], amount, paid);
            emit UnusedSettled(capacityId, holders[i], units[i], paid, amount - paid);
        }
    }

    /// @inheritdoc ISettlement
    function settleCapacity(uint256 capacityId) external {
        Capacity memory c = _endedCapacity(capacityId);
        uint256 outstanding = c.minted - settledUnits[capacityId];
        if (outstanding != 0) revert UnitsOutstanding(capacityId, outstanding);
        (uint256 delivered, uint256 failed) = _countWindow(capacityId, c);
        uint256 bond = escrow.funds(capacityId).bond;
        gpuHours.closeCapacity(
            capacityId, failed > _sla.graceHours ? CloseReason.ProviderFailed : CloseReason.Completed
        );
        escrow.returnBond(capacityId, gpuHours.providerOf(capacityId));
        emit CapacitySettled(capacityId, delivered, failed, bond);
    }

    // ---------------------------------------------------------------- views

    function sla() external view returns (Sla memory) {
        return _sla;
    }

    // ---------------------------------------------------------------- internal

    function _setSla(Sla memory sla_) private {
        if (sla_.minUptimeBps > 10_000) revert InvalidSla();
        _sla = sla_;
        emit SlaSet(sla_);
    }

    function _endedCapacity(uint256 capacityId) private view returns (Capacity memory c) {
        c = gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active) revert CapacityNotSettleable(capacityId);
        uint256 readyAt = uint256(c.end) + oracle.maxDelay() + 1;
        if (block.timestamp < readyAt) revert NotSettleable(capacityId, readyAt);
    }

    /// @dev The escrowed sales `units` of `capacityId` answer for, marked settled.
    function _take(uint256 capacityId, uint256 minted, uint256 units) private returns (uint256 amount) {
        uint256 settled = settledUnits[capacityId];
        uint256 outstanding = minted - settled;
        uint256 sales = escrow.funds(capacityId).sales;
        amount = units == outstanding ? sales : sales * units / outstanding;
        settledUnits[capacityId] = settled + units;
    }

    function _pay(uint256 capacityId, address holder, uint256 amount, uint256 paid) private {
        if (paid != 0) escrow.release(capacityId, gpuHours.providerOf(capacityId), paid);
        if (amount != paid) escrow.refundUndelivered(capacityId, holder, amount - paid);
    }

    function _slash(uint256 capacityId, address to, uint256 wanted) private returns (uint256 slashed) {
        uint256 bond = escrow.funds(capacityId).bond;
        slashed = wanted < bond ? wanted : bond;
        if (slashed != 0) escrow.slashBond(capacityId, to, slashed);
    }

    /// @dev Counts a window once, after it can no longer be attested, and remembers the result.
    function _countWindow(uint256 capacityId, Capacity memory c)
        private
        returns (uint256 delivered, uint256 failed)
    {
        uint256 packed = _windowCounts[capacityId];
        if (packed == 0) {
            Sla memory s = _sla;
            (delivered, failed) = oracle.countEpochs(
                c.nodeId, uint64(c.start / HOUR), (c.end - c.start) / HOUR, s.minUptimeBps, s.minGflopsPerJoule
            );
            _windowCounts[capacityId] = ((delivered << 128) | failed) + 1;
        } else {
            packed -= 1;
            (delivered, failed) = (packed >> 128, packed & type(uint128).max);
        }
    }
}
