// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

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

/// @notice Attested history of a node: its last epoch and running sums for its reliability score.
struct NodeRecord {
    uint64 lastEpoch;
    uint32 epochs;
    uint64 uptimeBpsSum;
    uint64 gflopsPerJouleSum;
}

/// @title IAttestationOracle
/// @notice M-of-N signed EIP-712 reports of node delivery and GPU mark prices. Signer sets are
///         versioned; a report names the set it was signed under and only the current set counts.
///         Epochs strictly increase per node, so no attestation is ever counted twice.
interface IAttestationOracle {
    error WrongSignerSet(uint32 given, uint32 current);
    /// @notice Signatures must come from distinct signers of the set, in ascending address order.
    error SignersNotAscending(address signer, address previous);
    error UnknownSigner(address signer);
    error BelowThreshold(uint256 signatures, uint256 threshold);
    /// @notice A signer set must be 1-255 strictly ascending non-zero addresses, threshold in (n/2, n].
    error InvalidSignerSet();
    error EpochNotOver(uint64 nodeId, uint64 epoch);
    /// @notice The epoch ended more than `maxDelay` seconds ago.
    error StaleEpoch(uint64 nodeId, uint64 epoch, uint256 maxDelay);
    error EpochNotIncreasing(uint64 nodeId, uint64 epoch, uint64 lastEpoch);
    /// @notice A field is out of range: uptime or load above 10,000 bps, more GPU-seconds than 255 GPUs
    ///         deliver in an hour, or a zero mark price.
    error OutOfBounds(uint64 nodeId, uint64 epoch);
    error MarkNotIncreasing(bytes32 gpuClass, uint64 epoch, uint64 lastEpoch);
    error EmptyReport();

    event SignerSetChanged(uint32 indexed version, address[] signers, uint8 threshold);
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

    /// @notice Replaces the signer set; `signers` strictly ascending. Owner only.
    function setSigners(address[] calldata signers, uint8 threshold) external returns (uint32 version);

    /// @notice Records a report signed by at least the threshold of the current signer set.
    ///         `signatures` are 65-byte ECDSA signatures over `reportDigest(report)`, ordered by
    ///         ascending signer address.
    function submit(Report calldata report, bytes[] calldata signatures) external;

    function reportDigest(Report calldata report) external view returns (bytes32);

    /// @notice Uptime (bps) and verified GFLOP per joule attested for `nodeId` in `epoch`;
    ///         `attested` is false when no report covered that epoch.
    function epochRecord(uint64 nodeId, uint64 epoch)
        external
        view
        returns (bool attested, uint16 uptimeBps, uint16 gflopsPerJoule);

    /// @notice Over `count` epochs from `fromEpoch`: how many were attested at or above both
    ///         minimums (`delivered`) and how many were attested below either (`failed`). The rest
    ///         were not attested.
    function countEpochs(uint64 nodeId, uint64 fromEpoch, uint256 count, uint16 minUptimeBps, uint16 minGflopsPerJoule)
        external
        view
        returns (uint256 delivered, uint256 failed);

    function node(uint64 nodeId) external view returns (NodeRecord memory);

    /// @notice Mean attested uptime of a node over its history, in bps (0 with no history).
    function reliabilityBps(uint64 nodeId) external view returns (uint256);

    function markPrice(bytes32 gpuClass) external view returns (uint128 price, uint64 epoch);

    function signerSet() external view returns (uint32 version, uint8 threshold, uint8 size);
    function isSigner(uint32 version, address signer) external view returns (bool);
    function maxDelay() external view returns (uint256);
}
