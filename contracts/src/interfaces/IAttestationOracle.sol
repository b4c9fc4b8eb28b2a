// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EpochLane} from "../libraries/EpochLane.sol";

/// @notice One node's delivery over one epoch (a unix hour: epoch = timestamp / 3600), as measured
///         by independent oracle nodes from hardware telemetry and proof-of-compute challenges.
struct Attestation {
    uint64 nodeId;
    uint64 epoch;
    /// @notice Share of the hour the node answered heartbeats, in basis points.
    uint16 uptimeBps;
    /// @notice Mean SM activity over the hour, in basis points.
    uint16 loadBps;
    /// @notice GPU-seconds delivered to active bookings.
    uint32 gpuSeconds;
    /// @notice Verified MFLOP per joule of the proof-of-compute challenges.
    uint32 mflopsPerJoule;
    /// @notice Verified GFLOP/s of the proof-of-compute challenges (0: none passed).
    uint32 gflops;
    /// @notice keccak Merkle root (OpenZeppelin MerkleProof-compatible) of the raw samples.
    bytes32 samplesRoot;
}

/// @notice The mark price of a GPU class (e.g. "H100-SXM5-80GB") per GPU-hour, in stablecoin units.
struct MarkPrice {
    bytes32 gpuClass;
    uint64 epoch;
    uint128 price;
}

/// @notice What the signers sign: a batch of attestations and mark prices under one signer set.
struct Report {
    uint32 signerSet;
    Attestation[] attestations;
    MarkPrice[] marks;
}

/// @notice Attested history of a node, what its reliability score is computed from.
struct NodeRecord {
    /// @notice The earliest epoch attested (0 with no history).
    uint64 firstEpoch;
    /// @notice The latest epoch attested, whatever the order the reports landed in.
    uint64 lastEpoch;
    /// @notice How many distinct epochs were attested.
    uint32 epochs;
    /// @notice Σ over attested epochs e of uptimeBps(e) · 2^(-(lastEpoch - e) / 168), in bps × 1e18,
    ///         each term and each rescaling rounded down.
    uint96 weightedUptime;
}

/// @title IAttestationOracle
/// @notice M-of-N signed EIP-712 reports of node delivery and GPU mark prices.
///
///         Signer sets are versioned; a report names the set it was signed under and only the
///         effective set counts. A new set is queued by the owner and becomes effective by itself
///         {SIGNER_SET_DELAY} seconds later, so holders see a rotation coming; until then the
///         previous set keeps signing.
///
///         Any epoch that is over and at most {maxDelay} seconds past its end can be attested, in any
///         order, once per node: the epoch's attested bit is the record of what was counted, so no
///         attestation is ever counted twice and a late report can still fill an earlier hour.
interface IAttestationOracle {
    // ---------------------------------------------------------------- errors

    /// @notice The report names signer set `given`; `current` is the effective one.
    error WrongSignerSet(uint32 given, uint32 current);
    /// @notice Signatures must come from distinct signers of the set, in ascending address order.
    error SignersNotAscending(address signer, address previous);
    error UnknownSigner(address signer);
    error BelowThreshold(uint256 signatures, uint256 threshold);
    /// @notice A signer set must hold 1-255 signers with a threshold in (size/2, size].
    error InvalidSignerSet(uint256 size, uint256 threshold);
    /// @notice A signer set's addresses must be non-zero and strictly ascending (no duplicates).
    error SignerSetNotAscending(address signer, address previous);
    /// @notice `maxDelay` must be at most {MAX_DELAY}, so settlement can never be put off for long.
    error InvalidMaxDelay(uint256 given, uint256 max);
    error EpochNotOver(uint64 nodeId, uint64 epoch);
    /// @notice The epoch ended more than `maxDelay` seconds ago.
    error StaleEpoch(uint64 nodeId, uint64 epoch, uint256 maxDelay);
    /// @notice `nodeId`'s `epoch` already has an attestation; a second one (a replay or a second
    ///         opinion) is refused.
    error AlreadyAttested(uint64 nodeId, uint64 epoch);
    /// @notice A field is out of range: uptime or load above 10,000 bps, or more GPU-seconds than
    ///         255 GPUs deliver in an hour.
    error OutOfBounds(uint64 nodeId, uint64 epoch);
    /// @notice A mark price of zero.
    error InvalidMarkPrice(bytes32 gpuClass, uint128 price);
    /// @notice A mark price outside [lo, hi]: more than {MAX_MARK_STEP} times away from the class's
    ///         previous mark.
    error MarkOutOfBounds(bytes32 gpuClass, uint128 price, uint256 lo, uint256 hi);
    /// @notice A class's marks must move forward in time: `epoch` is not after its `lastEpoch`.
    error MarkNotIncreasing(bytes32 gpuClass, uint64 epoch, uint64 lastEpoch);
    /// @notice A report with neither attestations nor marks.
    error EmptyReport();

    // ---------------------------------------------------------------- events

    /// @notice A signer set became effective at once: only the constructor's first set does. Sets
    ///         from {setSigners} announce themselves with {SignerSetQueued} and take effect at its
    ///         `activatesAt`, with no further event.
    event SignerSetChanged(uint32 indexed version, address[] signers, uint8 threshold);
    /// @notice Set `version` is queued and becomes effective at `activatesAt` (a unix time),
    ///         replacing any set queued before it that was not yet effective.
    event SignerSetQueued(uint32 indexed version, address[] signers, uint8 threshold, uint64 activatesAt);
    event Attested(
        uint64 indexed nodeId,
        uint64 indexed epoch,
        uint16 uptimeBps,
        uint16 loadBps,
        uint32 gpuSeconds,
        uint32 mflopsPerJoule,
        uint32 gflops,
        bytes32 samplesRoot
    );
    event MarkPriceSet(bytes32 indexed gpuClass, uint64 indexed epoch, uint128 price);
    event MaxDelaySet(uint256 maxDelay);

    // ---------------------------------------------------------------- constants

    /// @notice The most `maxDelay` may be, in seconds (one day).
    function MAX_DELAY() external view returns (uint256);

    /// @notice Seconds between {setSigners} and its set becoming effective (two days).
    function SIGNER_SET_DELAY() external view returns (uint256);

    /// @notice The factor a class's mark may move by from its previous mark, either way.
    function MAX_MARK_STEP() external view returns (uint256);

    // ---------------------------------------------------------------- admin

    /// @notice Queues a new signer set, effective {SIGNER_SET_DELAY} seconds from now; a set queued
    ///         before and not yet effective is dropped. `signers` strictly ascending, threshold a
    ///         majority. Owner only.
    /// @return version The queued set's version: one above the effective or the dropped set's.
    function setSigners(address[] calldata signers, uint8 threshold) external returns (uint32 version);

    /// @notice How long after an epoch ends its attestation is still accepted, at most {MAX_DELAY}.
    ///         Owner only.
    function setMaxDelay(uint64 maxDelay_) external;

    // ---------------------------------------------------------------- submit

    /// @notice Records a report signed by at least the threshold of the effective signer set.
    ///         `signatures` are 65-byte ECDSA signatures over `reportDigest(report)`, ordered by
    ///         ascending signer address. Each attestation must be for an epoch that is over, at most
    ///         {maxDelay} seconds past its end and not attested yet; each mark for a newer epoch than
    ///         its class's last, at most {MAX_MARK_STEP} times away from its price. All or nothing.
    function submit(Report calldata report, bytes[] calldata signatures) external;

    // ---------------------------------------------------------------- views

    function reportDigest(Report calldata report) external view returns (bytes32);

    /// @notice Uptime (bps), verified GFLOP per joule and GPU-seconds delivered to bookings attested
    ///         for `nodeId` in `epoch`; `attested` is false when no report covered that epoch.
    function epochRecord(uint64 nodeId, uint64 epoch)
        external
        view
        returns (bool attested, uint16 uptimeBps, uint16 gflopsPerJoule, uint32 gpuSeconds);

    /// @notice The records of `count` epochs of `nodeId` from `fromEpoch`, as {EpochLane}s (an
    ///         unattested epoch's lane is 0). Reads one storage word per four epochs.
    function epochLanes(uint64 nodeId, uint64 fromEpoch, uint256 count) external view returns (EpochLane[] memory);

    /// @notice Over `count` epochs from `fromEpoch`: how many were attested at or above both
    ///         minimums (`delivered`) and how many were attested below either (`failed`). The rest
    ///         were not attested. Uptime and efficiency only: GPU-seconds are not looked at (the
    ///         settlement checks them against what was booked, from {epochLanes}).
    function countEpochs(uint64 nodeId, uint64 fromEpoch, uint256 count, uint16 minUptimeBps, uint16 minGflopsPerJoule)
        external
        view
        returns (uint256 delivered, uint256 failed);

    function node(uint64 nodeId) external view returns (NodeRecord memory);

    /// @notice A node's reliability in bps: the exponentially weighted mean of its per-epoch uptime,
    ///         recent hours weighing more (half-life 168 epochs, one week), an unattested hour
    ///         counting as 0 uptime. With w = 2^(-1/168), first = the node's first attested epoch,
    ///         u(e) = attested uptime of e or 0:
    ///
    ///             reliability = Σ_{e=first..T} u(e)·w^(T-e) / Σ_{e=first..T} w^(T-e)
    ///                         = weightedUptime·w^(T-lastEpoch)·(1-w) / (1-w^(T-first+1)) / 1e18
    ///
    ///         where T = max(lastEpoch, the latest epoch that can no longer be attested, i.e. ended
    ///         more than {maxDelay} seconds ago). So an hour after the node's latest attestation
    ///         counts as a failure only once it can no longer be attested; a gap before the latest
    ///         attestation counts as 0 until a late report fills it. Powers of w are 18-decimal
    ///         and every product and quotient rounds down, with 1 - w taken as 1 - w rounded down
    ///         (as 1 - w^n is), so a constant uptime u scores u or u - 1; at most 10,000; 0 with no
    ///         history.
    function reliabilityBps(uint64 nodeId) external view returns (uint256);

    /// @notice The latest mark of `gpuClass` and its epoch; (0, 0) before the first.
    function markPrice(bytes32 gpuClass) external view returns (uint128 price, uint64 epoch);

    /// @notice The effective signer set: the queued one once its time came, else the previous one.
    function signerSet() external view returns (uint32 version, uint8 threshold, uint8 size);

    /// @notice The queued set that is not effective yet; all zero when there is none.
    function pendingSignerSet() external view returns (uint32 version, uint8 threshold, uint8 size, uint64 activatesAt);

    /// @notice Whether `signer` is in set `version` (queued, dropped and past sets included).
    function isSigner(uint32 version, address signer) external view returns (bool);

    /// @notice Seconds after an epoch's end that its attestation is still accepted.
    function maxDelay() external view returns (uint256);
}
