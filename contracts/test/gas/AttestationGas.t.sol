// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";
import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {Attestation, MarkPrice, Report} from "../../src/interfaces/IAttestationOracle.sol";

/// @notice Batch attestation: 32 nodes, signed by 3 of a 5-signer set, one report an hour. Figures
///         are whole transactions (receipts, 21,000 and calldata included) divided by 32. Epoch
///         records pack four hours to a storage word, so the hour that opens a word costs more
///         (a new slot per node); the mean over the four hours is what a node costs over time.
contract AttestationGasTest is Test {
    uint256 internal constant NODES = 32;
    AttestationOracle internal oracle;
    uint256[5] internal keys;
    uint64 internal epoch;

    function setUp() public {
        address[] memory signers = new address[](5);
        for (uint256 i; i < 5; ++i) {
            keys[i] = uint256(keccak256(abi.encode("oracle signer", i)));
        }
        _sortKeys();
        for (uint256 i; i < 5; ++i) {
            signers[i] = vm.addr(keys[i]);
        }
        oracle = new AttestationOracle(address(this), signers, 3, 6 hours);
        epoch = uint64(1_767_225_600 / 1 hours) + 1; // (epoch & 3) == 1
        vm.warp((uint256(epoch) + 1) * 1 hours + 60);
        _submit(_report(epoch)); // the previous epoch, so the next one lands in a warm word
        epoch += 1;
        vm.warp((uint256(epoch) + 1) * 1 hours + 60);
    }

    /// @dev Four hourly reports, one full storage word per node: the first lands in a new word.
    function test_gas_batch32_3of5() public {
        uint64 first = (epoch | 3) + 1;
        uint256 sum;
        uint256 newWord;
        uint256 steady;
        for (uint64 e = first; e < first + 4; ++e) {
            vm.warp((uint256(e) + 1) * 1 hours + 60);
            Report memory report = _report(e);
            bytes[] memory sigs = _sign(report);
            oracle.submit(report, sigs);
            uint256 perNode = vm.lastCallGas().gasTotalUsed / NODES;
            sum += perNode;
            if (e == first) newWord = perNode;
            if (e == first + 1) steady = perNode;
        }
        vm.snapshotValue("attest 32 nodes 3-of-5, per node (tx), steady hour", steady);
        vm.snapshotValue("attest 32 nodes 3-of-5, per node (tx), hour opening a word", newWord);
        vm.snapshotValue("attest 32 nodes 3-of-5, per node (tx), mean of 4 hours", sum / 4);
        assertLe(steady, 30_000, "steady hour over its gas target");
        assertLe(sum / 4, 30_000, "mean over a word of hours over its gas target");
    }

    function _report(uint64 e) internal pure returns (Report memory report) {
        report.signerSet = 1;
        report.attestations = new Attestation[](NODES);
        for (uint256 i; i < NODES; ++i) {
            report.attestations[i] = Attestation({
                nodeId: uint64(i + 1),
                epoch: e,
                uptimeBps: 9_990,
                loadBps: 8_700,
                gpuSeconds: 28_000,
                mflopsPerJoule: 1_350_000,
                gflops: 610_000,
                samplesRoot: keccak256(abi.encode(i, e))
            });
        }
        report.marks = new MarkPrice[](0);
    }

    function _sign(Report memory report) internal view returns (bytes[] memory sigs) {
        bytes32 digest = oracle.reportDigest(report);
        sigs = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs[i] = abi.encodePacked(r, s, v);
        }
    }

    function _submit(Report memory report) internal {
        oracle.submit(report, _sign(report));
    }

    function _sortKeys() internal {
        for (uint256 i; i < 5; ++i) {
            for (uint256 j = i + 1; j < 5; ++j) {
                if (vm.addr(keys[j]) < vm.addr(keys[i])) (keys[i], keys[j]) = (keys[j], keys[i]);
            }
        }
    }
}
