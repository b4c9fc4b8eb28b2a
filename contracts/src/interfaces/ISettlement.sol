// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Terms, CapacityStatus} from "./IGpuHours.sol";

/// @notice Service levels every capacity is held to.
struct Sla {
    /// @notice An hour counts as delivered when attested at or above this uptime.
    uint16 minUptimeBps;
    /// @notice ...and at or above this verified efficiency (GFLOP per joule; 0 disables it).
    uint16 minGflopsPerJoule;
    /// @notice Failed hours in a booking forgiven before the bond is slashed: no slash for a blip.
    uint8 graceHours;
    /// @notice Bond slashed per GPU-hour failed beyond the grace, in stablecoin units.
    uint64 slashPerGpuHour;
}

/// @title ISettlement
/// @notice Settles GPU-hours against attested delivery, under each capacity's recorded terms. An
///         hour is delivered when the oracle attested the node at or above the minimum uptime and
///         efficiency AND attested GPU-seconds delivered to bookings of at least (GPUs booked in
///         that hour) × 3,600 × minUptimeBps / 10,000, rounded up: a node that is up but gives the
///         renters no access fails. One node-hour's GPU-seconds serve all its bookings, so the hour
///         passes or fails for all of them; an hour with nothing booked needs uptime and efficiency
///         only. A unit's backing reaches the provider only for hours delivered;
///         hours attested as failed, or never attested, give the holder its backing back; failed
///         hours beyond the window's grace slash the provider's bond to the holder who suffered them.
///         Unused hours left at the end of a window pay the provider in proportion to the hours it
///         was attested available, and are slashed for the failed ones.
interface ISettlement {
    error NotSettleable(uint256 id, uint256 readyAt);
    error BookingNotOpen(uint256 bookingId);
    error CapacityNotSettleable(uint256 capacityId, CapacityStatus status);
    /// @notice Units of the capacity are still unsettled (held, or booked and not settled).
    error UnitsOutstanding(uint256 capacityId, uint256 outstanding);
    /// @notice An SLA's minimum uptime is at most 10,000 bps.
    error InvalidSla(uint256 minUptimeBps);

    /// @notice A booking settled: its delivered hours' backing to the provider (Escrow `Released`), the
    ///         rest back to the holder (`Refunded`), and `slashed` of the bond to the holder.
    event BookingSettled(
        uint256 indexed bookingId,
        uint256 indexed capacityId,
        uint256 deliveredHours,
        uint256 failedHours,
        uint256 slashed
    );
    /// @notice A holder's unused units expired: `paidUnits` of them paid the provider, the rest were
    ///         refunded, and `slashed` of the bond went to the holder.
    event UnusedSettled(
        uint256 indexed capacityId, address indexed holder, uint256 units, uint256 paidUnits, uint256 slashed
    );
    event CapacitySettled(
        uint256 indexed capacityId, uint256 deliveredHours, uint256 failedHours, uint256 bondReturned
    );
    event SlaSet(Sla sla);

    /// @notice Sets the SLA for capacities created from now on; existing ones keep theirs. Owner only.
    function setSla(Sla calldata sla_) external;

    /// @notice Settles a booking of an active capacity once its last hour can no longer be attested.
    function settleBooking(uint256 bookingId) external;

    /// @notice Ends the caller's running booking early: its hours not yet started are freed and their
    ///         backing refunded at once; the hours that started settle as usual. A renter who is not
    ///         given access stops paying for what is ahead, and the early end is recorded against the
    ///         node; ending costs the renter the hours already started, so it is no free option.
    function endBooking(uint256 bookingId) external;

    /// @notice After the window, expires the hours `holders` never activated and settles them.
    function settleUnused(uint256 capacityId, address[] calldata holders) external;

    /// @notice Once every sold unit is settled, closes the capacity and returns what is left of the bond.
    function settleCapacity(uint256 capacityId) external;

    /// @notice What a holder of `units` unused units of `capacityId` is credited when they expire:
    ///         the backing of those not paid to the provider, plus the slash for failed hours past
    ///         grace; the figures {settleUnused} pays, whoever calls it. Reverts as settleUnused does
    ///         before the window can be settled, and for a capacity that was cancelled (its holders
    ///         redeem through GpuHours) or never created.
    function unusedRefund(uint256 capacityId, uint256 units) external view returns (uint256);

    /// @notice The SLA that capacities created from now on are held to. Changing it never touches a
    ///         capacity already created: each keeps the terms recorded at its creation.
    function sla() external view returns (Sla memory);
    /// @notice The terms a capacity created now records: the SLA and the oracle's delay (backing 0,
    ///         which the provider sets).
    function newTerms() external view returns (Terms memory);
    function settledUnits(uint256 capacityId) external view returns (uint256);
}
