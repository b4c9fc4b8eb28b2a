// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAttestationOracle, Attestation, MarkPrice, Report, NodeRecord} from "./interfaces/IAttestationOracle.sol";
import {EpochLane, EpochLaneLib} from "./libraries/EpochLane.sol";
import {Decay} from "./libraries/Decay.sol";

/// @title AttestationOracle
/// @notice Records M-of-N signed reports of node delivery and GPU mark prices.
/// @dev Per-epoch records are {EpochLane}s packed four to a word, so a node's hourly attestation
///      usually rewrites one warm word; a lane's attested bit is what makes each (node, epoch)
///      count once, in whatever order reports land. Signers sign the whole batch once, which spreads
///      the signature checks over its nodes. The signer set and its queued successor share one slot
///      with maxDelay, and the effective set is worked out on read, so a rotation needs no keeper.
contract AttestationOracle is IAttestationOracle, EIP712, Ownable2Step {
    bytes32 public constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(uint64 nodeId,uint64 epoch,uint16 uptimeBps,uint16 loadBps,uint32 gpuSeconds,uint32 mflopsPerJoule,uint32 gflops,bytes32 samplesRoot)"
    );
    bytes32 public constant MARK_TYPEHASH = keccak256("MarkPrice(bytes32 gpuClass,uint64 epoch,uint128 price)");
    bytes32 public constant REPORT_TYPEHASH = keccak256(
        "Report(uint32 signerSet,Attestation[] attestations,MarkPrice[] marks)"
        "Attestation(uint64 nodeId,uint64 epoch,uint16 uptimeBps,uint16 loadBps,uint32 gpuSeconds,uint32 mflopsPerJoule,uint32 gflops,bytes32 samplesRoot)"
        "MarkPrice(bytes32 gpuClass,uint64 epoch,uint128 price)"
    );

    /// @inheritdoc IAttestationOracle
    uint256 public constant MAX_DELAY = 1 days;
    /// @inheritdoc IAttestationOracle
    uint256 public constant SIGNER_SET_DELAY = 2 days;
    /// @inheritdoc IAttestationOracle
    uint256 public constant MAX_MARK_STEP = 2;

    uint256 private constant EPOCH = 1 hours;
    uint256 private constant MAX_BPS = 10_000;
    uint256 private constant MAX_GPU_SECONDS = 255 * 1 hours;

    // ---------------------------------------------------------------- storage

    /// @dev The set in force when last written, its queued successor (version 0: none) and maxDelay.
    struct Config {
        uint32 version;
        uint8 threshold;
        uint8 size;
        uint64 maxDelay;
        uint32 nextVersion;
        uint8 nextThreshold;
        uint8 nextSize;
        uint64 activatesAt;
    }

    Config private _config;
    /// @inheritdoc IAttestationOracle
    mapping(uint32 version => mapping(address signer => bool)) public isSigner;
    mapping(uint64 nodeId => NodeRecord) private _nodes;
    mapping(uint64 nodeId => mapping(uint256 word => uint256 lanes)) private _epochs;
    mapping(bytes32 gpuClass => MarkPrice) private _marks;

    constructor(address owner_, address[] memory signers, uint8 threshold, uint64 maxDelay_)
        EIP712("gpuhours AttestationOracle", "1")
        Ownable(owner_)
    {
        _checkMaxDelay(maxDelay_);
        uint8 size = _writeSigners(1, signers, threshold);
        _config = Config(1, threshold, size, maxDelay_, 0, 0, 0, 0);
        emit SignerSetChanged(1, signers, threshold);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IAttestationOracle
    function setSigners(address[] calldata signers, uint8 threshold) external onlyOwner returns (uint32 version) {
        Config memory c = _config;
        (c.version, c.threshold, c.size) = _effective(c); // a matured queued set becomes the base
        version = (c.nextVersion > c.version ? c.nextVersion : c.version) + 1;
        uint8 size = _writeSigners(version, signers, threshold);
        uint64 activatesAt = uint64(block.timestamp + SIGNER_SET_DELAY);
        (c.nextVersion, c.nextThreshold, c.nextSize, c.activatesAt) = (version, threshold, size, activatesAt);
        _config = c;
        emit SignerSetQueued(version, signers, threshold, activatesAt);
    }

    /// @inheritdoc IAttestationOracle
    function setMaxDelay(uint64 maxDelay_) external onlyOwner {
        _checkMaxDelay(maxDelay_);
        _config.maxDelay = maxDelay_;
        emit MaxDelaySet(maxDelay_);
    }

    // ---------------------------------------------------------------- submit

    /// @inheritdoc IAttestationOracle
    function submit(Report calldata report, bytes[] calldata signatures) external {
        Config memory c = _config;
        (uint32 version, uint8 threshold,) = _effective(c);
        if (report.signerSet != version) revert WrongSignerSet(report.signerSet, version);
        if (report.attestations.length == 0 && report.marks.length == 0) revert EmptyReport();
        _checkSignatures(version, threshold, _hashTypedDataV4(_hashReport(report)), signatures);

        for (uint256 i; i < report.attestations.length; ++i) {
            _record(report.attestations[i], c.maxDelay);
        }
        for (uint256 i; i < report.marks.length; ++i) {
            _mark(report.marks[i], c.maxDelay);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAttestationOracle
    function reportDigest(Report calldata report) external view returns (bytes32) {
        return _hashTypedDataV4(_hashReport(report));
    }

    /// @inheritdoc IAttestationOracle
    function epochRecord(uint64 nodeId, uint64 epoch)
        external
        view
        returns (bool attested, uint16 uptimeBps, uint16 gflopsPerJoule, uint32 gpuSeconds)
    {
        EpochLane lane = EpochLaneLib.laneOf(_epochs[nodeId][EpochLaneLib.wordOf(epoch)], epoch);
        return (lane.attested(), lane.uptimeBps(), lane.gflopsPerJoule(), lane.gpuSeconds());
    }

    /// @inheritdoc IAttestationOracle
    function epochLanes(uint64 nodeId, uint64 fromEpoch, uint256 count)
        external
        view
        returns (EpochLane[] memory lanes)
    {
        mapping(uint256 => uint256) storage words = _epochs[nodeId];
        lanes = new EpochLane[](count);
        uint256 word;
        for (uint256 i; i < count; ++i) {
            uint256 e = uint256(fromEpoch) + i;
            if (i == 0 || EpochLaneLib.opensWord(e)) word = words[EpochLaneLib.wordOf(e)];
            lanes[i] = EpochLaneLib.laneOf(word, e);
        }
    }

    /// @inheritdoc IAttestationOracle
    function countEpochs(uint64 nodeId, uint64 fromEpoch, uint256 count, uint16 minUptimeBps, uint16 minGflopsPerJoule)
        external
        view
        returns (uint256 delivered, uint256 failed)
    {
        mapping(uint256 => uint256) storage words = _epochs[nodeId];
        uint256 end = uint256(fromEpoch) + count;
        uint256 word;
        for (uint256 e = fromEpoch; e < end; ++e) {
            if (e == fromEpoch || EpochLaneLib.opensWord(e)) word = words[EpochLaneLib.wordOf(e)];
            EpochLane lane = EpochLaneLib.laneOf(word, e);
            if (!lane.attested()) continue;
            if (lane.uptimeBps() >= minUptimeBps && lane.gflopsPerJoule() >= minGflopsPerJoule) ++delivered;
            else ++failed;
        }
    }

    /// @inheritdoc IAttestationOracle
    function node(uint64 nodeId) external view returns (NodeRecord memory) {
        return _nodes[nodeId];
    }

    /// @inheritdoc IAttestationOracle
    function reliabilityBps(uint64 nodeId) external view returns (uint256) {
        NodeRecord memory r = _nodes[nodeId];
        if (r.epochs == 0) return 0;
        uint256 t = Math.max(r.lastEpoch, _lastClosedEpoch());
        uint256 weighted = Decay.decayDown(r.weightedUptime, t - r.lastEpoch);
        // Σ_{k<n} w^k = (1 - w^n) / (1 - w), with 1 - w taken as 1 - decayDown(1, 1) like 1 - w^n,
        // so that a node with a constant uptime u scores u (or u - 1), not just under it.
        uint256 span = Decay.WAD - Decay.decayDown(Decay.WAD, t - r.firstEpoch + 1);
        uint256 score = Math.mulDiv(weighted, Decay.ONE_MINUS_STEP, span * Decay.WAD, Math.Rounding.Floor);
        return Math.min(score, MAX_BPS); // the 18-decimal constants could overshoot 100 % by 1e-15
    }

    /// @inheritdoc IAttestationOracle
    function markPrice(bytes32 gpuClass) external view returns (uint128 price, uint64 epoch) {
        MarkPrice storage m = _marks[gpuClass];
        return (m.price, m.epoch);
    }

    /// @inheritdoc IAttestationOracle
    function signerSet() external view returns (uint32 version, uint8 threshold, uint8 size) {
        return _effective(_config);
    }

    /// @inheritdoc IAttestationOracle
    function pendingSignerSet()
        external
        view
        returns (uint32 version, uint8 threshold, uint8 size, uint64 activatesAt)
    {
        Config memory c = _config;
        if (c.nextVersion == 0 || block.timestamp >= c.activatesAt) return (0, 0, 0, 0);
        return (c.nextVersion, c.nextThreshold, c.nextSize, c.activatesAt);
    }

    /// @inheritdoc IAttestationOracle
    function maxDelay() external view returns (uint256) {
        return _config.maxDelay;
    }

    // ---------------------------------------------------------------- internal

    /// @dev The queued set once its time has come, else the one written as current.
    function _effective(Config memory c) private view returns (uint32, uint8, uint8) {
        if (c.nextVersion != 0 && block.timestamp >= c.activatesAt) {
            return (c.nextVersion, c.nextThreshold, c.nextSize);
        }
        return (c.version, c.threshold, c.size);
    }

    function _writeSigners(uint32 version, address[] memory signers, uint8 threshold) private returns (uint8) {
        uint256 n = signers.length;
        if (n == 0 || n > type(uint8).max || threshold == 0 || threshold > n || uint256(threshold) * 2 <= n) {
            revert InvalidSignerSet(n, threshold);
        }
        address previous;
        for (uint256 i; i < n; ++i) {
            if (signers[i] <= previous) revert SignerSetNotAscending(signers[i], previous);
            isSigner[version][signers[i]] = true;
            previous = signers[i];
        }
        return uint8(n);
    }

    function _checkMaxDelay(uint256 maxDelay_) private pure {
        if (maxDelay_ > MAX_DELAY) revert InvalidMaxDelay(maxDelay_, MAX_DELAY);
    }

    function _checkSignatures(uint32 version, uint256 threshold, bytes32 digest, bytes[] calldata signatures)
        private
        view
    {
        if (signatures.length < threshold) revert BelowThreshold(signatures.length, threshold);
        address previous;
        for (uint256 i; i < signatures.length; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= previous) revert SignersNotAscending(signer, previous);
            if (!isSigner[version][signer]) revert UnknownSigner(signer);
            previous = signer;
        }
    }

    function _record(Attestation calldata a, uint256 delay) private {
        uint64 nodeId = a.nodeId;
        uint64 epoch = a.epoch;
        _checkEpoch(nodeId, epoch, delay);
        if (a.uptimeBps > MAX_BPS || a.loadBps > MAX_BPS || a.gpuSeconds > MAX_GPU_SECONDS) {
            revert OutOfBounds(nodeId, epoch);
        }
        mapping(uint256 => uint256) storage words = _epochs[nodeId];
        uint256 index = EpochLaneLib.wordOf(epoch);
        uint256 word = words[index];
        if (EpochLaneLib.laneOf(word, epoch).attested()) revert AlreadyAttested(nodeId, epoch);
        words[index] = EpochLaneLib.attest(a.uptimeBps, a.mflopsPerJoule / 1000, a.gpuSeconds).place(word, epoch);
        _nodes[nodeId] = _counted(_nodes[nodeId], epoch, a.uptimeBps);
        emit Attested(nodeId, epoch, a.uptimeBps, a.loadBps, a.gpuSeconds, a.mflopsPerJoule, a.gflops, a.samplesRoot);
    }

    /// @dev `r` with `epoch` counted: the weighted sum is kept anchored at the latest epoch, so a
    ///      newer epoch decays what came before and an older one enters already decayed.
    function _counted(NodeRecord memory r, uint64 epoch, uint256 uptimeBps) private pure returns (NodeRecord memory) {
        uint256 sum = r.weightedUptime;
        uint256 term = uptimeBps * Decay.WAD;
        if (r.epochs == 0) {
            (r.firstEpoch, r.lastEpoch) = (epoch, epoch);
        } else if (epoch > r.lastEpoch) {
            sum = Decay.decayDown(sum, epoch - r.lastEpoch);
            r.lastEpoch = epoch;
        } else {
            term = Decay.decayDown(term, r.lastEpoch - epoch);
            if (epoch < r.firstEpoch) r.firstEpoch = epoch;
        }
        // At most 10,000e18 / (1 - 2^(-1/168)) < 2.5e24 < 2^96.
        r.weightedUptime = uint96(sum + term);
        r.epochs += 1;
        return r;
    }

    function _mark(MarkPrice calldata m, uint256 delay) private {
        bytes32 gpuClass = m.gpuClass;
        if (m.price == 0) revert InvalidMarkPrice(gpuClass, m.price);
        _checkEpoch(0, m.epoch, delay);
        MarkPrice storage current = _marks[gpuClass];
        uint128 previous = current.price;
        if (previous != 0) {
            if (m.epoch <= current.epoch) revert MarkNotIncreasing(gpuClass, m.epoch, current.epoch);
            uint256 lo = Math.ceilDiv(previous, MAX_MARK_STEP);
            uint256 hi = uint256(previous) * MAX_MARK_STEP;
            if (m.price < lo || m.price > hi) revert MarkOutOfBounds(gpuClass, m.price, lo, hi);
        }
        current.gpuClass = gpuClass;
        current.epoch = m.epoch;
        current.price = m.price;
        emit MarkPriceSet(gpuClass, m.epoch, m.price);
    }

    function _checkEpoch(uint64 nodeId, uint64 epoch, uint256 delay) private view {
        uint256 end = (uint256(epoch) + 1) * EPOCH;
        if (end > block.timestamp) revert EpochNotOver(nodeId, epoch);
        if (block.timestamp - end > delay) revert StaleEpoch(nodeId, epoch, delay);
    }

    /// @dev The latest epoch that ended more than maxDelay ago (can no longer be attested); 0 if none.
    ///      Epoch e is closed when (e + 1) * EPOCH < now - maxDelay.
    function _lastClosedEpoch() private view returns (uint256) {
        uint256 delay = _config.maxDelay;
        if (block.timestamp <= delay + EPOCH) return 0;
        return Math.ceilDiv(block.timestamp - delay, EPOCH) - 2;
    }

    /// @dev EIP-712 hashStruct(Report): arrays of structs hash as keccak of their members' hashes.
    function _hashReport(Report calldata report) private pure returns (bytes32) {
        uint256 n = report.attestations.length;
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            hashes[i] = keccak256(abi.encode(ATTESTATION_TYPEHASH, report.attestations[i]));
        }
        uint256 m = report.marks.length;
        bytes32[] memory markHashes = new bytes32[](m);
        for (uint256 i; i < m; ++i) {
            markHashes[i] = keccak256(abi.encode(MARK_TYPEHASH, report.marks[i]));
        }
        return keccak256(
            abi.encode(
                REPORT_TYPEHASH,
                report.signerSet,
                keccak256(abi.encodePacked(hashes)),
                keccak256(abi.encodePacked(markHashes))
            )
        );
    }
}
