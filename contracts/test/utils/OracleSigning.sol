// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CommonBase} from "forge-std/Base.sol";

import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {Attestation, MarkPrice, Report} from "../../src/interfaces/IAttestationOracle.sol";

/// @notice Oracle signer keys (sorted by address, as the contract wants them) and signed reports.
abstract contract OracleSigning is CommonBase {
    uint256 internal constant EPOCH = 1 hours;

    /// @dev `n` keys derived from `label`, ordered by ascending address.
    function _sortedKeys(string memory label, uint256 n) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            keys[i] = uint256(keccak256(abi.encode(label, i)));
        }
        for (uint256 i; i < n; ++i) {
            for (uint256 j = i + 1; j < n; ++j) {
                if (vm.addr(keys[j]) < vm.addr(keys[i])) (keys[i], keys[j]) = (keys[j], keys[i]);
            }
        }
    }

    function _addrs(uint256[] memory keys) internal pure returns (address[] memory a) {
        a = new address[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            a[i] = vm.addr(keys[i]);
        }
    }

    function _sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signatures of `report` by `keys`, in the order given.
    function _signWith(AttestationOracle oracle, Report memory report, uint256[] memory keys)
        internal
        view
        returns (bytes[] memory sigs)
    {
        bytes32 digest = oracle.reportDigest(report);
        sigs = new bytes[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            sigs[i] = _sig(keys[i], digest);
        }
    }

    /// @dev The first `n` of `keys` (ascending addresses when `keys` is sorted).
    function _first(uint256[] memory keys, uint256 n) internal pure returns (uint256[] memory k) {
        k = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            k[i] = keys[i];
        }
    }

    function _pick(uint256[] memory keys, uint256 a, uint256 b) internal pure returns (uint256[] memory k) {
        k = new uint256[](2);
        k[0] = keys[a];
        k[1] = keys[b];
    }

    function _pick(uint256[] memory keys, uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory k) {
        k = new uint256[](3);
        k[0] = keys[a];
        k[1] = keys[b];
        k[2] = keys[c];
    }

    function _att(uint64 nodeId, uint64 epoch, uint16 uptimeBps, uint32 mflopsPerJoule)
        internal
        pure
        returns (Attestation memory)
    {
        return Attestation({
            nodeId: nodeId,
            epoch: epoch,
            uptimeBps: uptimeBps,
            loadBps: 8_700,
            gpuSeconds: 28_000,
            mflopsPerJoule: mflopsPerJoule,
            gflops: 610_000,
            samplesRoot: keccak256(abi.encode(nodeId, epoch, uptimeBps))
        });
    }

    function _report(uint32 signerSet, Attestation memory a) internal pure returns (Report memory r) {
        r.signerSet = signerSet;
        r.attestations = new Attestation[](1);
        r.attestations[0] = a;
        r.marks = new MarkPrice[](0);
    }

    function _report(uint32 signerSet, Attestation[] memory atts) internal pure returns (Report memory r) {
        r.signerSet = signerSet;
        r.attestations = atts;
        r.marks = new MarkPrice[](0);
    }

    function _markReport(uint32 signerSet, bytes32 gpuClass, uint64 epoch, uint128 price)
        internal
        pure
        returns (Report memory r)
    {
        r.signerSet = signerSet;
        r.attestations = new Attestation[](0);
        r.marks = new MarkPrice[](1);
        r.marks[0] = MarkPrice({gpuClass: gpuClass, epoch: epoch, price: price});
    }

    /// @dev The time `secs` seconds after epoch `epoch` ended.
    function _after(uint64 epoch, uint256 secs) internal pure returns (uint256) {
        return (uint256(epoch) + 1) * EPOCH + secs;
    }
}
