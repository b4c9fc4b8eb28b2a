// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEscrow} from "./IEscrow.sol";

/// @notice Why a capacity or a booking ended. Every one ends with exactly one of these.
enum CloseReason {
    None,
    Completed,
    ExpiredUnused,
    ProviderFailed,
    Liquidated,
    ProviderCancelled
}

/// @notice Lifecycle of a capacity (one ERC-1155 id).
enum CapacityStatus {
    None,
    Active,
    Cancelled,
    Closed
}

/// @notice A GPU machine registered by its provider. Names are ASCII packed into bytes32.
struct Node {
    address owner;
    uint8 gpuCount;
    uint16 vramGb;
    uint40 lastWindowEnd;
    /// @notice Bookings of this node its holders ended early: each one recorded against the provider.
    uint32 earlyEnds;
    bytes32 gpuModel;
    bytes32 region;
    bytes32 interconnect;
    bytes32 gpuUuidsHash;
}

/// @notice A delivery window of a node, sold as GPU-hours under one token id. Fits one slot.
///         `retired` counts units burned by redemption or expiry and hours given back by an early end;
///         activated units are counted by the per-hour booking counters instead, so activation never
///         writes this slot.
struct Capacity {
    uint64 nodeId;
    uint40 start;
    uint40 end;
    uint8 gpuCount;
    CapacityStatus status;
    CloseReason closeReason;
    uint32 minted;
    uint32 retired;
}

/// @notice What a capacity's buyers are promised, fixed when it is created and never changed for it.
///         Fits one slot.
struct Terms {
    /// @notice Stablecoin escrowed behind every unit of the id, whatever the unit sold for.
    uint96 backing;
    /// @notice Bond slashed per GPU-hour failed beyond the grace, and per unit sold on a cancel.
    uint64 slashPerGpuHour;
    /// @notice Seconds after an hour ends that its attestation is awaited before settling.
    uint32 maxDelay;
    /// @notice An hour counts as delivered when attested at or above this uptime...
    uint16 minUptimeBps;
    /// @notice ...and at or above this verified efficiency (GFLOP per joule; 0 disables it).
    uint16 minGflopsPerJoule;
    /// @notice Failed hours forgiven before the bond is slashed: no slash for a blip.
    uint8 graceHours;
}

/// @notice A holder's activation: `gpus` GPUs for `hours` hours from `start`. Fits one slot.
struct Booking {
    address holder;
    uint40 start;
    uint16 hours_;
    uint8 gpus;
    CloseReason closeReason;
}

/// @title IGpuHours
/// @notice ERC-1155 GPU-hour leases. One token id per capacity (a node's delivery window);
///         one unit is one GPU-hour. Supply of an id never exceeds gpuCount × window hours, and
///         booked GPUs never exceed gpuCount in any hour of the window.
interface IGpuHours {
    // ------------------------------------------------------------------ errors

    /// @notice The caller is not the owner of node `nodeId`.
    error NotNodeOwner(uint64 nodeId, address caller);
    /// @notice Node `nodeId` does not exist.
    error UnknownNode(uint64 nodeId);
    /// @notice A node needs between 1 and 255 GPUs.
    error InvalidGpuCount(uint256 gpuCount);
    /// @notice A window must start and end on whole hours, start no earlier than the current hour,
    ///         and last between one hour and `maxHours`.
    error InvalidWindow(uint256 start, uint256 end, uint256 maxHours);
    /// @notice A node's windows must not overlap: the next may start at `lastWindowEnd` at the earliest.
    error WindowOverlaps(uint64 nodeId, uint256 start, uint256 lastWindowEnd);
    /// @notice The bond is below the minimum for the capacity's supply.
    error BondTooLow(uint256 bond, uint256 minimum);
    /// @notice Capacity `capacityId` does not exist.
    error UnknownCapacity(uint256 capacityId);
    /// @notice Capacity `capacityId` is `status`, which does not allow this.
    error CapacityNotActive(uint256 capacityId, CapacityStatus status);
    /// @notice `maker` is not the provider of `capacityId`, so cannot mint its hours.
    error NotProvider(uint256 capacityId, address maker);
    /// @notice Minting `amount` would take the units of `capacityId` that exist (`existing`: minted, less
    ///         given back) above `cap`.
    error SupplyCapExceeded(uint256 capacityId, uint256 existing, uint256 amount, uint256 cap);
    /// @notice The window of `capacityId` has already started; it can no longer be cancelled.
    error WindowStarted(uint256 capacityId, uint256 start);
    /// @notice The window of `capacityId` is over (it ended at `end`).
    error WindowEnded(uint256 capacityId, uint256 end);
    /// @notice The window of `capacityId` is still open until `end`.
    error WindowNotEnded(uint256 capacityId, uint256 end);
    /// @notice A booking must start on a whole hour inside the window, not in the past, and span
    ///         at least one hour and one GPU.
    error InvalidBooking(uint256 capacityId, uint256 start, uint256 hours_, uint256 gpus);
    /// @notice Hour `hourStart` already has `booked` of `gpuCount` GPUs booked; `gpus` more do not fit.
    error Overbooked(uint256 capacityId, uint256 hourStart, uint256 booked, uint256 gpus, uint256 gpuCount);
    /// @notice Booking `bookingId` does not exist or has already been closed.
    error BookingNotOpen(uint256 bookingId);
    /// @notice Only the holder of booking `bookingId` may end it.
    error NotBookingHolder(uint256 bookingId, address caller);
    /// @notice Booking `bookingId` starts at `start`: only a running booking can be ended early (before
    ///         it starts there is no delivery to judge, and an early end is recorded against the node).
    error BookingNotStarted(uint256 bookingId, uint256 start);
    /// @notice Every hour of booking `bookingId` has started (its last ends at `end`): none to give back.
    error NothingToEnd(uint256 bookingId, uint256 end);
    /// @notice Only the exchange may mint.
    error OnlyExchange(address caller);
    /// @notice Only the settlement contract may do this.
    error OnlySettlement(address caller);
    /// @notice The settlement contract is wired once: it is already `current`.
    error SettlementAlreadySet(address current);
    /// @notice Capacities take their terms from the settlement contract, which is not wired yet.
    error SettlementNotSet();
    /// @notice A unit's backing must be between 1 and 2^96 - 1 stablecoin base units.
    error InvalidBacking(uint256 backing);
    /// @notice These GPUs (by the hash of their UUIDs) are already registered as node `nodeId`.
    error GpusAlreadyRegistered(bytes32 gpuUuidsHash, uint64 nodeId);
    /// @notice Minting `amount` more would leave more units out than the `usable` GPU-hours the node
    ///         can still deliver in what is left of the window (free GPUs in the hours not yet over).
    error HoursNotUsable(uint256 capacityId, uint256 amount, uint256 usable);
    /// @notice A zero address was given where one is required.
    error ZeroAddress();

    // ------------------------------------------------------------------ events

    event NodeRegistered(
        uint64 indexed nodeId,
        address indexed owner,
        bytes32 gpuModel,
        uint8 gpuCount,
        uint16 vramGb,
        bytes32 region,
        bytes32 interconnect,
        bytes32 gpuUuidsHash
    );
    event NodeTransferred(uint64 indexed nodeId, address indexed from, address indexed to);
    event CapacityCreated(
        uint256 indexed capacityId,
        uint64 indexed nodeId,
        address indexed provider,
        uint40 start,
        uint40 end,
        uint32 supplyCap,
        uint256 bond,
        Terms terms
    );
    event CapacityCancelled(uint256 indexed capacityId, uint32 unitsSold);
    event CapacityClosed(uint256 indexed capacityId, CloseReason reason);
    event HoursActivated(
        uint256 indexed bookingId,
        uint256 indexed capacityId,
        address indexed holder,
        uint40 start,
        uint16 hours_,
        uint8 gpus
    );
    event BookingClosed(uint256 indexed bookingId, uint256 indexed capacityId, CloseReason reason);
    /// @notice The holder ended a booking early: its `hoursReturned` hours not yet started were freed
    ///         and refunded; the node's `earlyEnds` went up by one.
    event BookingEnded(
        uint256 indexed bookingId, uint256 indexed capacityId, address indexed holder, uint256 hoursReturned
    );
    event HoursExpired(uint256 indexed capacityId, address indexed holder, uint256 amount);
    event HoursRedeemed(uint256 indexed capacityId, address indexed holder, uint256 amount);
    event MinBondPerUnitSet(uint256 amount);
    event SettlementSet(address settlement);

    // ------------------------------------------------------------------ owner

    /// @notice Wires the settlement contract. Once: what it settles must not change hands.
    function setSettlement(address settlement_) external;
    /// @notice Sets the least bond per unit of cap for capacities created from now on (existing ones
    ///         keep the bond they posted).
    function setMinBondPerUnit(uint256 amount) external;
    /// @notice Sets the ERC-1155 metadata URI; moves no funds.
    function setURI(string calldata uri_) external;

    // ------------------------------------------------------------------ provider

    /// @notice Registers a node owned by the caller and returns its id (ids start at 1).
    function registerNode(
        bytes32 gpuModel,
        uint8 gpuCount,
        uint16 vramGb,
        bytes32 region,
        bytes32 interconnect,
        bytes32 gpuUuidsHash
    ) external returns (uint64 nodeId);

    /// @notice Hands node `nodeId` to `to`; its open capacities follow the node.
    function transferNode(uint64 nodeId, address to) external;

    /// @notice Opens capacity for `nodeId` over [start, end) (whole hours), pulling `bond` stablecoin
    ///         from the caller into escrow. The id's supply cap is gpuCount × window hours. Every unit
    ///         ever minted of it is backed by `backing` stablecoin in escrow; the SLA and the oracle
    ///         delay in force now are recorded with it (`terms`) and hold for it whatever changes later.
    function createCapacity(uint64 nodeId, uint40 start, uint40 end, uint96 backing, uint256 bond)
        external
        returns (uint256 capacityId);

    /// @notice Cancels a capacity before its window starts. Its holders (of tokens and of bookings)
    ///         get each unit's backing back plus a penalty of `slashPerGpuHour` a unit taken from the
    ///         bond (as far as it goes); the rest of the bond returns to the provider.
    function cancelCapacity(uint256 capacityId) external;

    // ------------------------------------------------------------------ holders

    /// @notice Burns `gpus × hours_` of the caller's hours and books `gpus` GPUs for `hours_` hours
    ///         from `start`. Returns the booking id: capacityId << 24 | start hour index << 8 | GPUs
    ///         booked in the start hour before this booking (unique, since that count only grows).
    function activate(uint256 capacityId, uint40 start, uint16 hours_, uint8 gpus) external returns (uint256 bookingId);

    /// @notice Burns `amount` of the caller's hours of a cancelled capacity for their refund.
    function redeemCancelled(uint256 capacityId, uint256 amount) external;

    /// @notice Closes a booking of a cancelled capacity and refunds its holder.
    function refundBooking(uint256 bookingId) external;

    // ------------------------------------------------------------------ settlement

    /// @notice After the window ends, burns what `holders` still hold of `capacityId` as expired.
    ///         Settlement only, which pays for those hours in the same call.
    function expireHours(uint256 capacityId, address[] calldata holders) external;

    /// @notice After the window ends, closes an active capacity with `reason`. Settlement only.
    function closeCapacity(uint256 capacityId, CloseReason reason) external;

    /// @notice Closes an open booking of an active capacity with `reason`. Settlement only.
    function closeBooking(uint256 bookingId, CloseReason reason) external;

    /// @notice Ends `holder`'s running booking early: frees its hours not yet started (from the next
    ///         whole hour), shortens it to the hours that did start, which settle as usual, and records
    ///         the early end against the node. Returns the GPU-hours given back, which the settlement
    ///         refunds. Settlement only.
    function endBookingEarly(uint256 bookingId, address holder) external returns (uint256 units);

    // ------------------------------------------------------------------ exchange

    /// @notice Mints `amount` hours of `capacityId` to `to`, sold by `maker`, who must be its provider,
    ///         and returns the backing per unit the exchange must escrow. Exchange only. Refuses
    ///         hours that could no longer be activated (`HoursNotUsable`).
    function mint(address to, uint256 capacityId, uint256 amount, address maker) external returns (uint256 backing);

    /// @notice Moves `amount` hours of `capacityId` from `from` to `to` for a fill. Exchange only.
    function exchangeTransfer(address from, address to, uint256 capacityId, uint256 amount) external;

    // ------------------------------------------------------------------ views

    /// @notice Node `nodeId` as registered (owner zero when unknown).
    function node(uint64 nodeId) external view returns (Node memory);
    /// @notice Capacity `capacityId` (status None when unknown).
    function capacity(uint256 capacityId) external view returns (Capacity memory);
    /// @notice The terms fixed for `capacityId` when it was created.
    function terms(uint256 capacityId) external view returns (Terms memory);
    /// @notice Units of `capacityId` that can still be activated: its units in circulation, capped by
    ///         the free GPU-hours left in its window (hours not yet over, less what is booked in them).
    ///         Reads the capacity, the current hour's word and one totals slot per 512 hours of the
    ///         window: at most seven reads, about 22,000 gas cold over the longest window.
    function usableUnits(uint256 capacityId) external view returns (uint256);
    /// @notice The node registered with these GPUs (hash of their UUIDs), 0 if none.
    function nodeOfGpus(bytes32 gpuUuidsHash) external view returns (uint64);
    /// @notice Booking `bookingId` (holder zero when unknown).
    function booking(uint256 bookingId) external view returns (Booking memory);
    /// @notice The owner of the capacity's node now: who sells its hours and is paid for them.
    function providerOf(uint256 capacityId) external view returns (address);
    /// @notice The exchange: the only minter, and the one contract that moves hours between holders
    ///         without an ERC-1155 approval, which it does only on the holder's own signed order or
    ///         the holder's own call.
    function exchange() external view returns (address);
    /// @notice The escrow holding every unit's backing and every capacity's bond.
    function escrow() external view returns (IEscrow);
    /// @notice The settlement contract: expires, closes and settles against attested delivery.
    function settlement() external view returns (address);
    /// @notice GPUs × window hours: the most units of `capacityId` that can exist at once.
    function supplyCap(uint256 capacityId) external view returns (uint256);
    /// @notice Units of `capacityId` in circulation: minted minus activated, redeemed and expired.
    function totalSupply(uint256 capacityId) external view returns (uint256);
    /// @notice GPU-hours booked on `capacityId` over its whole window.
    function bookedUnits(uint256 capacityId) external view returns (uint256);
    /// @notice GPUs booked on `capacityId` in the hour starting at `hourStart`.
    function bookedAt(uint256 capacityId, uint256 hourStart) external view returns (uint256);
    /// @notice GPUs booked on `capacityId` in each of `count` hours from hour index `firstHour` of its
    ///         window (hour i starts at start + i hours; hours past the window read 0). One storage
    ///         read per 32 hours.
    function bookedRange(uint256 capacityId, uint256 firstHour, uint256 count) external view returns (uint8[] memory);
}
