// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {
    IAttestationOracle, Attestation, MarkPrice, Report, NodeRecord
} from "./interfaces/IAttestationOracle.sol";

/// @title AttestationOracle
/// @notice Records M-of-N signed reports of node delivery and GPU mark prices.
/// @dev Per-epoch records are packed eight to a word (32 bits each: attested flag, uptime bps,
///      verified GFLOP per joule), so a node's hourly attestation usually rewrites one warm word.
///      Signers sign the whole batch once, which spreads the signature checks over its nodes.
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

    uint256 private constant EPOCH = 1 hours;
    uint256 private constant MAX_BPS = 10_000;
    uint256 private constant MAX_GPU_SECONDS = 255 * 1 hours;
    uint256 private constant ATTESTED = 1 << 31;

    // ---------------------------------------------------------------- storage

    struct SetState {
        uint32 version;
        uint8 threshold;
        uint8 size;
        uint64 maxDelay;
    }

    SetState private _set;
    mapping(uint32 version => mapping(address signer => bool)) public isSigner;
    mapping(uint64 nodeId => NodeRecord) private _nodes;
    mapping(uint64 nodeId => mapping(uint256 word => uint256 lanes)) private _epochs;
    mapping(bytes32 gpuClass => MarkPrice) private _marks;

    constructor(address owner_, address[] memory signers, uint8 threshold, uint64 maxDelay_)
        EIP712("gpuhours AttestationOracle", "1")
        Ownable(owner_)
    {
        _set.maxDelay = maxDelay_;
        _setSigners(signers, threshold);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IAttestationOracle
    function setSigners(address[] calldata signers, uint8 threshold) external onlyOwner returns (uint32) {
        return _setSigners(signers, threshold);
    }

    /// @notice How long after an epoch ends its attestation is still accepted.
    function setMaxDelay(uint64 maxDelay_) external onlyOwner {
        _set.maxDelay = maxDelay_;
        emit MaxDelaySet(maxDelay_);
    }

    // ---------------------------------------------------------------- submit

    /// @inheritdoc IAttestationOracle
    function submit(Report calldata report, bytes[] calldata signatures) external {
        SetState memory set = _set;
        if (report.signerSet != set.version) revert WrongSignerSet(report.signerSet, set.version);
        if (report.attestations.length == 0 && report.marks.length == 0) revert EmptyReport();
        _checkSignatures(set, _hashTypedDataV4(_hashReport(report)), signatures);

        for (uint256 i; i < report.attestations.length; ++i) {
            _record(report.attestations[i], set.maxDelay);
        }
        for (uint256 i; i < report.marks.length; ++i) {
            _mark(report.marks[i], set.maxDelay);
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
        returns (bool attested, uint16 uptimeBps, uint16 gflopsPerJoule)
    {
        uint256 lane = (_epochs[nodeId][epoch >> 3] >> ((epoch & 7) << 5)) & 0xffffffff;
        return (lane & ATTESTED != 0, uint16(lane >> 16) & 0x7fff, uint16(lane));
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
            if (e == fromEpoch || e & 7 == 0) word = words[e >> 3];
            uint256 lane = word >> ((e & 7) << 5);
            if (lane & ATTESTED == 0) continue;
            if ((lane >> 16) & 0x7fff >= minUptimeBps && lane & 0xffff >= minGflopsPerJoule) ++delivered;
            else ++failed;
        }
    }

    function node(uint64 nodeId) external view returns (NodeRecord memory) {
        return _nodes[nodeId];
    }

    /// @inheritdoc IAttestationOracle
    function reliabilityBps(uint64 nodeId) external view returns (uint256) {
        NodeRecord storage r = _nodes[nodeId];
        return r.epochs == 0 ? 0 : r.uptimeBpsSum / r.epochs;
    }

    function markPrice(bytes32 gpuClass) external view returns (uint128 price, uint64 epoch) {
        MarkPrice storage m = _marks[gpuClass];
        return (m.price, m.epoch);
    }

    function signerSet() external view returns (uint32 version, uint8 threshold, uint8 size) {
        return (_set.version, _set.threshold, _set.size);
    }

    function maxDelay() external view returns (uint256) {
        return _set.maxDelay;
    }

    // ---------------------------------------------------------------- internal

    function _setSigners(address[] memory signers, uint8 threshold) private returns (uint32 version) {
        uint256 n = signers.length;
        if (n == 0 || n > type(uint8).max || threshold == 0 || threshold > n || uint256(threshold) * 2 <= n) {
            revert InvalidSignerSet();
        }
        version = _set.version + 1;
        address previous;
        for (uint256 i; i < n; ++i) {
            if (signers[i] <= previous) revert InvalidSignerSet(); // ascending: no duplicates, no zero
            isSigner[version][signers[i]] = true;
            previous = signers[i];
        }
        _set.version = version;
        _set.threshold = threshold;
        _set.size = uint8(n);
        emit SignerSetChanged(version, signers, threshold);
    }

    function _checkSignatures(SetState memory set, bytes32 digest, bytes[] calldata signatures) private view {
        if (signatures.length < set.threshold) revert BelowThreshold(signatures.length, set.threshold);
        address previous;
        for (uint256 i; i < signatures.length; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= previous) revert SignersNotAscending(signer, previous);
            if (!isSigner[set.version][signer]) revert UnknownSigner(signer);
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
        NodeRecord memory r = _nodes[nodeId];
        if (r.epochs != 0 && epoch <= r.lastEpoch) revert EpochNotIncreasing(nodeId, epoch, r.lastEpoch);

        uint256 perJoule = a.mflopsPerJoule / 1000;
        if (perJoule > 0xffff) perJoule = 0xffff;
        r.lastEpoch = epoch;
        r.epochs += 1;
        r.uptimeBpsSum += a.uptimeBps;
        r.gflopsPerJouleSum += uint64(perJoule);
        _nodes[nodeId] = r;

        uint256 shift = (epoch & 7) << 5;
        _epochs[nodeId][epoch >> 3] |= (ATTESTED | (uint256(a.uptimeBps) << 16) | perJoule) << shift;
        emit Attested(nodeId, epoch, a.uptimeBps, a.loadBps, a.gpuSeconds, a.mflopsPerJoule, a.gflops, a.samplesRoot);
    }

    function _mark(MarkPrice calldata m, uint256 delay) private {
        if (m.price == 0) revert OutOfBounds(0, m.epoch);
        _checkEpoch(0, m.epoch, delay);
        MarkPrice storage current = _marks[m.gpuClass];
        if (current.price != 0 && m.epoch <= current.epoch) {
            revert MarkNotIncreasing(m.gpuClass, m.epoch, current.epoch);
        }
        current.gpuClass = m.gpuClass;
        current.epoch = m.epoch;
        current.price = m.price;
        emit MarkPriceSet(m.gpuClass, m.epoch, m.price);
    }

    function _checkEpoch(uint64 nodeId, uint64 epoch, uint256 delay) private view {
        uint256 end = (uint256(epoch) + 1) * EPOCH;
        if (end > block.timestamp) revert EpochNotOver(nodeId, epoch);
        if (block.timestamp - end > delay) revert StaleEpoch(nodeId, epoch, delay);
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
