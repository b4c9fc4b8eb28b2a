// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {OracleSigning} from "./utils/OracleSigning.sol";
import {Decay} from "../src/libraries/Decay.sol";
import {AttestationOracle} from "../src/AttestationOracle.sol";
import {IAttestationOracle, Attestation, MarkPrice, Report, NodeRecord} from "../src/interfaces/IAttestationOracle.sol";

contract AttestationOracleTest is Test, OracleSigning {
    uint256 internal constant T0 = 1_767_225_600; // a whole hour; T0 / 3600 is a multiple of 8
    uint64 internal constant E0 = uint64(T0 / 1 hours);
    uint64 internal constant MAX_DELAY = 6 hours;
    uint64 internal constant NODE = 7;
    bytes32 internal constant H100 = "H100-SXM5-80GB";

    // Independent EIP-712 type strings, spelled out here rather than read from the contract.
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    string internal constant ATTESTATION_TYPE =
        "Attestation(uint64 nodeId,uint64 epoch,uint16 uptimeBps,uint16 loadBps,uint32 gpuSeconds,uint32 mflopsPerJoule,uint32 gflops,bytes32 samplesRoot)";
    string internal constant MARK_TYPE = "MarkPrice(bytes32 gpuClass,uint64 epoch,uint128 price)";

    AttestationOracle internal oracle;
    address internal owner = makeAddr("owner");
    uint256[] internal keys; // 5 signers, ascending addresses
    address[] internal signers;
    uint64 internal epoch; // the last epoch that has ended, 60 s ago

    function setUp() public {
        keys = _sortedKeys("oracle signer", 5);
        signers = _addrs(keys);
        oracle = new AttestationOracle(owner, signers, 3, MAX_DELAY);
        epoch = E0 + 9;
        vm.warp(_after(epoch, 60));
    }

    // ================================================================ helpers

    function _k(uint256 a, uint256 b, uint256 c) internal view returns (uint256[] memory) {
        return _pick(keys, a, b, c);
    }

    function _submit(Report memory r) internal {
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        oracle.submit(r, sigs);
    }

    function _submitAtt(Attestation memory a) internal {
        _submit(_report(1, a));
    }

    function _expectSubmitRevert(Report memory r, bytes memory err) internal {
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        vm.expectRevert(err);
        oracle.submit(r, sigs);
    }

    function _ascending(uint256 n, uint160 first) internal pure returns (address[] memory a) {
        a = new address[](n);
        for (uint256 i; i < n; ++i) {
            a[i] = address(uint160(first + i));
        }
    }

    function _setSignersReverts(address[] memory s, uint8 threshold) internal {
        _setSignersReverts(
            s, threshold, abi.encodeWithSelector(IAttestationOracle.InvalidSignerSet.selector, s.length, threshold)
        );
    }

    function _setSignersReverts(address[] memory s, uint8 threshold, bytes memory reason) internal {
        vm.prank(owner);
        vm.expectRevert(reason);
        oracle.setSigners(s, threshold);
    }

    function _notAscending(address signer, address previous) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAttestationOracle.SignerSetNotAscending.selector, signer, previous);
    }

    // ================================================================ constructor / signer sets

    function test_constructor_state() public view {
        (uint32 version, uint8 threshold, uint8 size) = oracle.signerSet();
        assertEq(version, 1);
        assertEq(threshold, 3);
        assertEq(size, 5);
        for (uint256 i; i < 5; ++i) {
            assertTrue(oracle.isSigner(1, signers[i]));
        }
        assertFalse(oracle.isSigner(1, address(0xdead)));
        assertFalse(oracle.isSigner(2, signers[0]));
        assertEq(oracle.maxDelay(), MAX_DELAY);
        assertEq(oracle.owner(), owner);
    }

    function test_constructor_emitsSignerSetChanged() public {
        vm.expectEmit();
        emit IAttestationOracle.SignerSetChanged(1, signers, 3);
        new AttestationOracle(owner, signers, 3, MAX_DELAY);
    }

    function test_constructor_revertsInvalidSignerSet() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.InvalidSignerSet.selector, 0, 1));
        new AttestationOracle(owner, new address[](0), 1, MAX_DELAY);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.InvalidSignerSet.selector, 5, 2));
        new AttestationOracle(owner, signers, 2, MAX_DELAY); // 2 <= 5 / 2
    }

    function test_setSigners_revertsForNonOwner() public {
        vm.prank(signers[0]);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, signers[0]));
        oracle.setSigners(signers, 3);
    }

    function test_setSigners_revertsEmpty() public {
        _setSignersReverts(new address[](0), 1);
        _setSignersReverts(new address[](0), 0);
    }

    function test_setSigners_revertsUnsorted() public {
        address[] memory s = _ascending(3, 10);
        (s[1], s[2]) = (s[2], s[1]);
        _setSignersReverts(s, 2, _notAscending(s[2], s[1]));
        address[] memory d = _ascending(3, 10);
        (d[0], d[2]) = (d[2], d[0]); // descending
        _setSignersReverts(d, 2, _notAscending(d[1], d[0]));
    }

    function test_setSigners_revertsDuplicate() public {
        address[] memory s = _ascending(3, 10);
        s[2] = s[1];
        _setSignersReverts(s, 2, _notAscending(s[1], s[1]));
    }

    function test_setSigners_revertsZeroAddress() public {
        address[] memory s = _ascending(3, 0); // 0x0, 0x1, 0x2: ascending, but starts at zero
        _setSignersReverts(s, 2, _notAscending(address(0), address(0)));
        address[] memory one = new address[](1);
        _setSignersReverts(one, 1, _notAscending(address(0), address(0)));
    }

    function test_setSigners_revertsThresholdZero() public {
        _setSignersReverts(_ascending(1, 1), 0);
        _setSignersReverts(_ascending(3, 1), 0);
    }

    function test_setSigners_revertsThresholdAboveSize() public {
        _setSignersReverts(_ascending(1, 1), 2);
        _setSignersReverts(_ascending(3, 1), 4);
        _setSignersReverts(_ascending(5, 1), 255);
    }

    function test_setSigners_revertsThresholdNotMajority() public {
        _setSignersReverts(_ascending(2, 1), 1); // 1 <= 2/2
        _setSignersReverts(_ascending(4, 1), 2); // 2 <= 4/2
        _setSignersReverts(_ascending(5, 1), 2); // 2 <= 5/2
        _setSignersReverts(_ascending(254, 1), 127);
    }

    function test_setSigners_revertsMoreThan255() public {
        _setSignersReverts(_ascending(256, 1), 255);
    }

    function test_setSigners_acceptsSmallestMajority() public {
        vm.startPrank(owner);
        assertEq(oracle.setSigners(_ascending(1, 1), 1), 2);
        assertEq(oracle.setSigners(_ascending(2, 1), 2), 3);
        assertEq(oracle.setSigners(_ascending(4, 1), 3), 4);
        assertEq(oracle.setSigners(_ascending(5, 1), 3), 5);
        vm.stopPrank();
    }

    /// @dev Thresholds of 128 and more: twice the threshold does not fit 8 bits.
    function test_setSigners_acceptsLargeSets() public {
        vm.startPrank(owner);
        assertEq(oracle.setSigners(_ascending(255, 1), 128), 2);
        assertEq(oracle.setSigners(_ascending(255, 1), 255), 3);
        assertEq(oracle.setSigners(_ascending(200, 1), 150), 4);
        vm.stopPrank();
        vm.warp(block.timestamp + oracle.SIGNER_SET_DELAY());
        (uint32 version, uint8 threshold, uint8 size) = oracle.signerSet();
        assertEq(version, 4);
        assertEq(threshold, 150);
        assertEq(size, 200);
        _setSignersReverts(_ascending(255, 1), 127);
    }

    function test_setSigners_bumpsVersionAndEmits() public {
        uint256[] memory newKeys = _sortedKeys("new signer", 3);
        address[] memory newSigners = _addrs(newKeys);
        uint64 activatesAt = uint64(block.timestamp + 2 days);
        vm.expectEmit(address(oracle));
        emit IAttestationOracle.SignerSetQueued(2, newSigners, 2, activatesAt);
        vm.prank(owner);
        assertEq(oracle.setSigners(newSigners, 2), 2);
        vm.warp(activatesAt);

        (uint32 version, uint8 threshold, uint8 size) = oracle.signerSet();
        assertEq(version, 2);
        assertEq(threshold, 2);
        assertEq(size, 3);
        for (uint256 i; i < 3; ++i) {
            assertTrue(oracle.isSigner(2, newSigners[i]));
        }
        for (uint256 i; i < 5; ++i) {
            assertFalse(oracle.isSigner(2, signers[i]));
            assertTrue(oracle.isSigner(1, signers[i])); // history stays readable
        }

        // The new set signs under version 2.
        epoch = uint64(block.timestamp / 1 hours) - 1;
        Report memory r = _report(2, _att(NODE, epoch, 9_990, 1_350_000));
        bytes[] memory sigs = _signWith(oracle, r, _pick(newKeys, 0, 2));
        oracle.submit(r, sigs);
        assertEq(oracle.node(NODE).epochs, 1);
    }

    function test_setSigners_oldSetRejected() public {
        uint256[] memory newKeys = _sortedKeys("new signer", 3);
        vm.prank(owner);
        oracle.setSigners(_addrs(newKeys), 2);
        vm.warp(block.timestamp + 2 days);
        epoch = uint64(block.timestamp / 1 hours) - 1;

        // A report that still names the old set...
        Report memory old = _report(1, _att(NODE, epoch, 9_990, 1_350_000));
        bytes[] memory oldSigs = _signWith(oracle, old, _k(0, 1, 2));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.WrongSignerSet.selector, 1, 2));
        oracle.submit(old, oldSigs);

        // ...and one naming the new set but signed by the old signers.
        Report memory r = _report(2, _att(NODE, epoch, 9_990, 1_350_000));
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.UnknownSigner.selector, signers[0]));
        oracle.submit(r, sigs);
    }

    // ================================================================ submit: success

    function test_submit_recordsAttestation() public {
        Attestation memory a = _att(NODE, epoch, 9_990, 1_350_000);
        vm.expectEmit(address(oracle));
        emit IAttestationOracle.Attested(
            NODE, epoch, a.uptimeBps, a.loadBps, a.gpuSeconds, a.mflopsPerJoule, a.gflops, a.samplesRoot
        );
        _submitAtt(a);

        (bool attested, uint16 uptime, uint16 perJoule, uint32 gpuSeconds) = oracle.epochRecord(NODE, epoch);
        assertTrue(attested);
        assertEq(uptime, 9_990);
        assertEq(perJoule, 1_350);
        assertEq(gpuSeconds, a.gpuSeconds);
        NodeRecord memory n = oracle.node(NODE);
        assertEq(n.firstEpoch, epoch);
        assertEq(n.lastEpoch, epoch);
        assertEq(n.epochs, 1);
        assertEq(n.weightedUptime, 9_990e18);
        assertEq(oracle.reliabilityBps(NODE), 9_990);
        (attested,,,) = oracle.epochRecord(NODE, epoch - 1);
        assertFalse(attested);
        (attested,,,) = oracle.epochRecord(NODE + 1, epoch);
        assertFalse(attested);
    }

    function test_submit_anyCallerAllSignersAnyMajority() public {
        Report memory r = _report(1, _att(NODE, epoch - 2, 9_000, 0));
        bytes[] memory sigs = _signWith(oracle, r, keys); // all five
        vm.prank(makeAddr("relayer"));
        oracle.submit(r, sigs);

        r = _report(1, _att(NODE, epoch - 1, 9_000, 0));
        sigs = _signWith(oracle, r, _k(1, 3, 4));
        oracle.submit(r, sigs);

        r = _report(1, _att(NODE, epoch, 9_000, 0));
        sigs = _signWith(oracle, r, _pick(keys, 0, 4)); // two of five: below threshold
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.BelowThreshold.selector, 2, 3));
        oracle.submit(r, sigs);
        assertEq(oracle.node(NODE).epochs, 2);
    }

    function test_submit_skippingEpochsIsFine() public {
        _submitAtt(_att(NODE, epoch - 5, 9_000, 0));
        _submitAtt(_att(NODE, epoch - 1, 9_000, 0));
        _submitAtt(_att(NODE, epoch, 9_000, 0));
        NodeRecord memory n = oracle.node(NODE);
        assertEq(n.epochs, 3);
        assertEq(n.lastEpoch, epoch);
    }

    function test_submit_batchOfNodesAndMarks() public {
        Report memory r;
        r.signerSet = 1;
        r.attestations = new Attestation[](3);
        r.attestations[0] = _att(1, epoch, 10_000, 1_000_000);
        r.attestations[1] = _att(2, epoch, 5_000, 2_000_000);
        r.attestations[2] = _att(1, epoch, 0, 0); // node 1 twice for one epoch in a batch
        r.marks = new MarkPrice[](1);
        r.marks[0] = MarkPrice(H100, epoch, 2_100_000);
        _expectSubmitRevert(r, abi.encodeWithSelector(IAttestationOracle.AlreadyAttested.selector, 1, epoch));

        r.attestations[2] = _att(1, epoch - 1, 0, 0); // node 1: epoch then epoch - 1, in one batch
        _submit(r);
        assertEq(oracle.node(1).epochs, 2);
        assertEq(oracle.node(2).epochs, 1);
        // (10,000 + 0 * w) / (1 + w), w = 2^(-1/168): the newer hour weighs a little more.
        assertEq(oracle.reliabilityBps(1), 5_010);
        (uint128 price, uint64 e) = oracle.markPrice(H100);
        assertEq(price, 2_100_000);
        assertEq(e, epoch);
    }

    // ================================================================ submit: named errors

    function test_submit_revertsForgedSigner() public {
        uint256 forgedKey = uint256(keccak256("forger"));
        address forged = vm.addr(forgedKey);
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes32 digest = oracle.reportDigest(r);
        // The forger first: its signature recovers fine, to an address not in the set.
        bytes[] memory sigs = new bytes[](3);
        sigs[0] = _sig(forgedKey, digest);
        sigs[1] = _sig(keys[3], digest);
        sigs[2] = _sig(keys[4], digest);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.UnknownSigner.selector, forged));
        oracle.submit(r, sigs);
        assertEq(oracle.node(NODE).epochs, 0);
    }

    function test_submit_revertsForgedSignerBetweenRealOnes() public {
        // A forger whose address sorts after signers[0]: placed in order, still rejected by name.
        uint256 forgedKey;
        for (uint256 i = 1;; ++i) {
            forgedKey = uint256(keccak256(abi.encode("forger", i)));
            if (vm.addr(forgedKey) > signers[0]) break;
        }
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes32 digest = oracle.reportDigest(r);
        bytes[] memory three = new bytes[](3);
        three[0] = _sig(keys[0], digest);
        three[1] = _sig(forgedKey, digest);
        three[2] = _sig(keys[4], digest);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.UnknownSigner.selector, vm.addr(forgedKey)));
        oracle.submit(r, three);
    }

    function test_submit_revertsReplay() public {
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        oracle.submit(r, sigs);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.AlreadyAttested.selector, NODE, epoch));
        oracle.submit(r, sigs);
        // A replay later, still in time and after a newer epoch landed, also fails; counted once.
        vm.warp(block.timestamp + 1 hours);
        _submitAtt(_att(NODE, epoch + 1, 9_990, 0));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.AlreadyAttested.selector, NODE, epoch));
        oracle.submit(r, sigs);
        assertEq(oracle.node(NODE).epochs, 2);
    }

    function test_submit_revertsReplayWithOtherSigners() public {
        _submitAtt(_att(NODE, epoch, 9_990, 0));
        Report memory r = _report(1, _att(NODE, epoch, 100, 0)); // a second opinion on the same epoch
        bytes[] memory sigs = _signWith(oracle, r, _k(2, 3, 4));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.AlreadyAttested.selector, NODE, epoch));
        oracle.submit(r, sigs);
        (, uint16 uptime,,) = oracle.epochRecord(NODE, epoch);
        assertEq(uptime, 9_990, "the first opinion stands");
    }

    /// @dev A report that lands late (a relayer was down) still fills the earlier hour, once.
    function test_submit_acceptsOutOfOrderEpoch() public {
        _submitAtt(_att(NODE, epoch, 9_990, 0));
        _submitAtt(_att(NODE, epoch - 1, 8_000, 0));
        _submitAtt(_att(NODE, epoch - 5, 7_000, 0));
        NodeRecord memory n = oracle.node(NODE);
        assertEq(n.epochs, 3);
        assertEq(n.firstEpoch, epoch - 5);
        assertEq(n.lastEpoch, epoch);
        (bool attested, uint16 uptime,,) = oracle.epochRecord(NODE, epoch - 1);
        assertTrue(attested);
        assertEq(uptime, 8_000);
        _expectSubmitRevert(
            _report(1, _att(NODE, epoch - 1, 10_000, 0)),
            abi.encodeWithSelector(IAttestationOracle.AlreadyAttested.selector, NODE, epoch - 1)
        );
        _expectSubmitRevert(
            _report(1, _att(NODE, epoch - 5, 10_000, 0)),
            abi.encodeWithSelector(IAttestationOracle.AlreadyAttested.selector, NODE, epoch - 5)
        );
        // Still never older than maxDelay: out of order is not out of time.
        uint64 stale = uint64((block.timestamp - MAX_DELAY) / 1 hours) - 2;
        _expectSubmitRevert(
            _report(1, _att(NODE, stale, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.StaleEpoch.selector, NODE, stale, uint256(MAX_DELAY))
        );
        // Other nodes are independent.
        _submitAtt(_att(NODE + 1, epoch - 5, 9_990, 0));
    }

    function test_submit_staleEpochBoundary() public {
        // The epoch ended at _after(epoch, 0): accepted up to exactly maxDelay later.
        vm.warp(_after(epoch, MAX_DELAY));
        _submitAtt(_att(NODE, epoch, 9_990, 0));

        vm.warp(_after(epoch, MAX_DELAY + 1));
        _expectSubmitRevert(
            _report(1, _att(NODE + 1, epoch, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.StaleEpoch.selector, NODE + 1, epoch, uint256(MAX_DELAY))
        );
        // Much later, too.
        vm.warp(_after(epoch, 30 days));
        _expectSubmitRevert(
            _report(1, _att(NODE + 1, epoch, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.StaleEpoch.selector, NODE + 1, epoch, uint256(MAX_DELAY))
        );
    }

    function test_submit_revertsEpochNotOver() public {
        uint64 current = epoch + 1; // the hour we are in
        _expectSubmitRevert(
            _report(1, _att(NODE, current, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.EpochNotOver.selector, NODE, current)
        );
        _expectSubmitRevert(
            _report(1, _att(NODE, current + 100, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.EpochNotOver.selector, NODE, current + 100)
        );
        // One second before its end, still not over; at its end it is.
        vm.warp(_after(current, 0) - 1);
        _expectSubmitRevert(
            _report(1, _att(NODE, current, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.EpochNotOver.selector, NODE, current)
        );
        vm.warp(_after(current, 0));
        _submitAtt(_att(NODE, current, 9_990, 0));
    }

    function test_submit_revertsDuplicateSigner() public {
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 0, 1));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.SignersNotAscending.selector, signers[0], signers[0]));
        oracle.submit(r, sigs);
        // The same signer padding up to the threshold at the end.
        sigs = _signWith(oracle, r, _k(0, 1, 1));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.SignersNotAscending.selector, signers[1], signers[1]));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsDuplicateSignatureBytes() public {
        // The very same signature twice (not a second signature of the same key).
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        sigs[2] = sigs[1];
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.SignersNotAscending.selector, signers[1], signers[1]));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsUnsortedSignatures() public {
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes[] memory sigs = _signWith(oracle, r, _k(1, 0, 2));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.SignersNotAscending.selector, signers[0], signers[1]));
        oracle.submit(r, sigs);
        sigs = _signWith(oracle, r, _k(4, 3, 2));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.SignersNotAscending.selector, signers[3], signers[4]));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsBelowThreshold() public {
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes[] memory two = _signWith(oracle, r, _pick(keys, 0, 1));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.BelowThreshold.selector, 2, 3));
        oracle.submit(r, two);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.BelowThreshold.selector, 0, 3));
        oracle.submit(r, new bytes[](0));
    }

    function test_submit_revertsWrongSignerSetVersion() public {
        Report memory r = _report(2, _att(NODE, epoch, 9_990, 0));
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.WrongSignerSet.selector, 2, 1));
        oracle.submit(r, sigs);
        r.signerSet = 0;
        sigs = _signWith(oracle, r, _k(0, 1, 2));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.WrongSignerSet.selector, 0, 1));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsWrongChain() public {
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes32 digest = oracle.reportDigest(r);
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        bytes32 foreign = oracle.reportDigest(r);
        assertTrue(foreign != digest, "chain id is in the domain");
        bytes[] memory sigs = new bytes[](3);
        for (uint256 i; i < 3; ++i) {
            sigs[i] = _sig(keys[i], foreign);
        }
        // Still valid where they were signed.
        uint256 snap = vm.snapshotState();
        oracle.submit(r, sigs);
        vm.revertToState(snap);

        vm.chainId(chainId);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keys[0], foreign);
        address recovered = ecrecover(digest, v, rr, s);
        assertTrue(recovered != signers[0] && recovered != address(0));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.UnknownSigner.selector, recovered));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsOtherVerifyingContract() public {
        AttestationOracle other = new AttestationOracle(owner, signers, 3, MAX_DELAY);
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes32 theirs = other.reportDigest(r);
        assertTrue(theirs != oracle.reportDigest(r), "verifying contract is in the domain");
        bytes[] memory sigs = _signWith(other, r, _k(0, 1, 2));

        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keys[0], theirs);
        address recovered = ecrecover(oracle.reportDigest(r), v, rr, s);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.UnknownSigner.selector, recovered));
        oracle.submit(r, sigs);

        other.submit(r, sigs); // where they belong
        assertEq(other.node(NODE).epochs, 1);
        assertEq(oracle.node(NODE).epochs, 0);
    }

    function test_submit_revertsTamperedReport() public {
        Report memory r = _report(1, _att(NODE, epoch, 5_000, 0));
        bytes32 signed = oracle.reportDigest(r);
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        r.attestations[0].uptimeBps = 10_000; // the relayer bumps the uptime
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keys[0], signed);
        address recovered = ecrecover(oracle.reportDigest(r), v, rr, s);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.UnknownSigner.selector, recovered));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsMalformedSignature() public {
        Report memory r = _report(1, _att(NODE, epoch, 9_990, 0));
        bytes[] memory sigs = _signWith(oracle, r, _k(0, 1, 2));
        sigs[1] = hex"1234";
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureLength.selector, 2));
        oracle.submit(r, sigs);
    }

    function test_submit_revertsOutOfBounds() public {
        Attestation memory a = _att(NODE, epoch, 10_001, 0);
        bytes memory err = abi.encodeWithSelector(IAttestationOracle.OutOfBounds.selector, NODE, epoch);
        _expectSubmitRevert(_report(1, a), err);

        a = _att(NODE, epoch, 10_000, 0);
        a.loadBps = 10_001;
        _expectSubmitRevert(_report(1, a), err);

        a = _att(NODE, epoch, 10_000, 0);
        a.gpuSeconds = 255 * 3600 + 1;
        _expectSubmitRevert(_report(1, a), err);

        a = _att(NODE, epoch, type(uint16).max, 0);
        _expectSubmitRevert(_report(1, a), err);

        // The limits themselves are in bounds.
        a = _att(NODE, epoch, 10_000, type(uint32).max);
        a.loadBps = 10_000;
        a.gpuSeconds = 255 * 3600;
        _submitAtt(a);
        (bool attested, uint16 uptime, uint16 perJoule, uint32 gpuSeconds) = oracle.epochRecord(NODE, epoch);
        assertTrue(attested);
        assertEq(uptime, 10_000);
        assertEq(perJoule, type(uint16).max, "efficiency saturates at 16 bits");
        assertEq(gpuSeconds, 255 * 3600, "the most GPU-seconds are stored whole");
    }

    function test_submit_revertsZeroMarkPrice() public {
        bytes memory err = abi.encodeWithSelector(IAttestationOracle.InvalidMarkPrice.selector, H100, 0);
        _expectSubmitRevert(_markReport(1, H100, epoch, 0), err);
        _submit(_markReport(1, H100, epoch - 1, 1));
        _expectSubmitRevert(_markReport(1, H100, epoch, 0), err); // not even as a step down from 1
    }

    /// @dev A compromised quorum (or a fat finger) cannot move a mark more than 2x per report.
    function test_submit_markStepBounded() public {
        _submit(_markReport(1, H100, epoch - 4, 2_000_000)); // the first mark is unbounded
        bytes4 sel = IAttestationOracle.MarkOutOfBounds.selector;
        _expectSubmitRevert(
            _markReport(1, H100, epoch - 3, 4_000_001),
            abi.encodeWithSelector(sel, H100, 4_000_001, 1_000_000, 4_000_000)
        );
        _expectSubmitRevert(
            _markReport(1, H100, epoch - 3, 999_999), abi.encodeWithSelector(sel, H100, 999_999, 1_000_000, 4_000_000)
        );
        _expectSubmitRevert(
            _markReport(1, H100, epoch - 3, type(uint128).max),
            abi.encodeWithSelector(sel, H100, type(uint128).max, 1_000_000, 4_000_000)
        );
        // Double and half are both allowed, so a mark can still follow a real market.
        _submit(_markReport(1, H100, epoch - 3, 4_000_000));
        _submit(_markReport(1, H100, epoch - 2, 2_000_000));
        _submit(_markReport(1, H100, epoch - 1, 1_000_000));
        // The floor of an odd price rounds up: 3 may halve to 2, not to 1.
        _submit(_markReport(1, "A100", epoch - 2, 3));
        _expectSubmitRevert(_markReport(1, "A100", epoch - 1, 1), abi.encodeWithSelector(sel, bytes32("A100"), 1, 2, 6));
        _submit(_markReport(1, "A100", epoch - 1, 2));
        // At the top of uint128 the ceiling does not overflow.
        _submit(_markReport(1, "L40S", epoch - 1, type(uint128).max));
        _submit(_markReport(1, "L40S", epoch, type(uint128).max / 2 + 1));
        (uint128 price,) = oracle.markPrice("L40S");
        assertEq(price, type(uint128).max / 2 + 1);
    }

    function test_submit_marks() public {
        vm.expectEmit(address(oracle));
        emit IAttestationOracle.MarkPriceSet(H100, epoch - 1, 2_000_000);
        _submit(_markReport(1, H100, epoch - 1, 2_000_000));
        (uint128 price, uint64 e) = oracle.markPrice(H100);
        assertEq(price, 2_000_000);
        assertEq(e, epoch - 1);
        (price, e) = oracle.markPrice("A100");
        assertEq(price, 0);
        assertEq(e, 0);

        _expectSubmitRevert(
            _markReport(1, H100, epoch - 1, 2_100_000),
            abi.encodeWithSelector(IAttestationOracle.MarkNotIncreasing.selector, H100, epoch - 1, epoch - 1)
        );
        _expectSubmitRevert(
            _markReport(1, H100, epoch - 2, 2_100_000),
            abi.encodeWithSelector(IAttestationOracle.MarkNotIncreasing.selector, H100, epoch - 2, epoch - 1)
        );
        _submit(_markReport(1, "A100", epoch - 2, 900_000)); // classes are independent
        _submit(_markReport(1, H100, epoch, 2_100_000));
        (price, e) = oracle.markPrice(H100);
        assertEq(price, 2_100_000);
        assertEq(e, epoch);
        (price,) = oracle.markPrice("A100");
        assertEq(price, 900_000);
    }

    function test_submit_markEpochChecks() public {
        _expectSubmitRevert(
            _markReport(1, H100, epoch + 1, 1),
            abi.encodeWithSelector(IAttestationOracle.EpochNotOver.selector, 0, epoch + 1)
        );
        vm.warp(_after(epoch, MAX_DELAY + 1));
        _expectSubmitRevert(
            _markReport(1, H100, epoch, 1),
            abi.encodeWithSelector(IAttestationOracle.StaleEpoch.selector, 0, epoch, uint256(MAX_DELAY))
        );
    }

    function test_submit_revertsEmptyReport() public {
        Report memory r;
        r.signerSet = 1;
        r.attestations = new Attestation[](0);
        r.marks = new MarkPrice[](0);
        _expectSubmitRevert(r, abi.encodeWithSelector(IAttestationOracle.EmptyReport.selector));
        vm.expectRevert(IAttestationOracle.EmptyReport.selector);
        oracle.submit(r, new bytes[](0)); // emptiness is checked before the signatures
    }

    function test_submit_batchIsAtomic() public {
        Attestation[] memory atts = new Attestation[](3);
        atts[0] = _att(1, epoch, 9_990, 0);
        atts[1] = _att(2, epoch, 9_990, 0);
        atts[2] = _att(3, epoch + 1, 9_990, 0); // not over yet
        _expectSubmitRevert(
            _report(1, atts), abi.encodeWithSelector(IAttestationOracle.EpochNotOver.selector, 3, epoch + 1)
        );
        assertEq(oracle.node(1).epochs, 0);
        assertEq(oracle.node(2).epochs, 0);
        (bool attested,,,) = oracle.epochRecord(1, epoch);
        assertFalse(attested);
    }

    // ================================================================ setMaxDelay

    function test_setMaxDelay() public {
        vm.expectEmit(address(oracle));
        emit IAttestationOracle.MaxDelaySet(1 days);
        vm.prank(owner);
        oracle.setMaxDelay(1 days);
        assertEq(oracle.maxDelay(), 1 days);

        vm.warp(_after(epoch, 1 days));
        _submitAtt(_att(NODE, epoch, 9_990, 0));
        vm.warp(_after(epoch, 1 days + 1));
        _expectSubmitRevert(
            _report(1, _att(NODE + 1, epoch, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.StaleEpoch.selector, NODE + 1, epoch, uint256(1 days))
        );

        vm.prank(owner);
        oracle.setMaxDelay(0); // only at the very second the epoch ends
        vm.warp(_after(epoch + 30, 0));
        _submitAtt(_att(NODE, epoch + 30, 9_990, 0));
        vm.warp(_after(epoch + 31, 1));
        _expectSubmitRevert(
            _report(1, _att(NODE, epoch + 31, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.StaleEpoch.selector, NODE, epoch + 31, uint256(0))
        );
    }

    /// @dev An owner (or a stolen owner key) cannot freeze settlement by pushing maxDelay out.
    function test_setMaxDelay_revertsAboveMax() public {
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.InvalidMaxDelay.selector, 1 days + 1, 1 days));
        oracle.setMaxDelay(1 days + 1);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.InvalidMaxDelay.selector, type(uint64).max, 1 days));
        oracle.setMaxDelay(type(uint64).max);
        vm.stopPrank();
        assertEq(oracle.maxDelay(), MAX_DELAY);
        assertEq(oracle.MAX_DELAY(), 1 days);
    }

    function test_constructor_revertsMaxDelayAboveMax() public {
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.InvalidMaxDelay.selector, 1 days + 1, 1 days));
        new AttestationOracle(owner, signers, 3, 1 days + 1);
        new AttestationOracle(owner, signers, 3, 1 days); // the bound itself is fine
    }

    function test_setMaxDelay_revertsForNonOwner() public {
        vm.prank(signers[0]);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, signers[0]));
        oracle.setMaxDelay(1);
    }

    // ================================================================ records

    uint64 internal hFirst;
    uint16[20] internal hUp;
    uint32[20] internal hEff;
    bool[20] internal hOn;

    /// @dev 20 epochs from E0 + 3 (crossing the 4-epoch words at E0 + 4, E0 + 8, ...), with gaps.
    function _history() internal {
        hFirst = E0 + 3;
        vm.prank(owner);
        oracle.setMaxDelay(1 days);
        vm.warp(_after(hFirst + 19, 60));
        uint256 n;
        for (uint256 i; i < 20; ++i) {
            hOn[i] = i % 7 != 4 && i != 13; // gaps at 4, 11, 13, 18
            hUp[i] = uint16((i * 1_237) % 10_001);
            hEff[i] = uint32((i * 311_000) % 2_000_000);
            if (hOn[i]) ++n;
        }
        Attestation[] memory atts = new Attestation[](n);
        uint256 k;
        for (uint256 i; i < 20; ++i) {
            if (hOn[i]) atts[k++] = _att(NODE, hFirst + uint64(i), hUp[i], hEff[i]);
        }
        _submit(_report(1, atts));
    }

    function _checkCounts(uint256 from, uint256 count, uint16 minUp, uint16 minEff) internal view {
        uint256 ed;
        uint256 ef;
        for (uint256 i = from; i < from + count && i < 20; ++i) {
            if (!hOn[i]) continue;
            if (hUp[i] >= minUp && hEff[i] / 1000 >= minEff) ++ed;
            else ++ef;
        }
        (uint256 d, uint256 f) = oracle.countEpochs(NODE, hFirst + uint64(from), count, minUp, minEff);
        assertEq(d, ed, "delivered");
        assertEq(f, ef, "failed");
    }

    function test_epochRecord_andCountEpochs_acrossWords() public {
        _history();
        uint64 first = hFirst;
        for (uint256 i; i < 20; ++i) {
            (bool attested, uint16 uptime, uint16 perJoule,) = oracle.epochRecord(NODE, first + uint64(i));
            assertEq(attested, hOn[i]);
            assertEq(uptime, hOn[i] ? hUp[i] : 0);
            assertEq(perJoule, hOn[i] ? hEff[i] / 1000 : 0);
        }
        uint16[4] memory minUps = [uint16(0), 5_000, 9_000, 10_000];
        uint16[3] memory minEffs = [uint16(0), 500, 1_500];
        // Windows starting before, on and after word boundaries, some running past the history.
        uint256[6] memory froms = [uint256(0), 4, 5, 8, 13, 19];
        uint256[5] memory counts = [uint256(0), 1, 3, 8, 30];
        for (uint256 a; a < froms.length; ++a) {
            for (uint256 b; b < counts.length; ++b) {
                for (uint256 u; u < minUps.length; ++u) {
                    for (uint256 f; f < minEffs.length; ++f) {
                        _checkCounts(froms[a], counts[b], minUps[u], minEffs[f]);
                    }
                }
            }
        }
        // All 20: 16 attested, 4 not.
        (uint256 dAll, uint256 fAll) = oracle.countEpochs(NODE, first, 20, 0, 0);
        assertEq(dAll, 16);
        assertEq(fAll, 0);
        (dAll, fAll) = oracle.countEpochs(NODE, first - 3, 40, 10_000, 0); // from the word's start
        assertEq(dAll + fAll, 16);
        // Other nodes have nothing.
        (dAll, fAll) = oracle.countEpochs(NODE + 1, first, 20, 0, 0);
        assertEq(dAll + fAll, 0);
    }

    function test_node_andReliability() public {
        assertEq(oracle.reliabilityBps(NODE), 0);
        NodeRecord memory empty = oracle.node(NODE);
        assertEq(empty.epochs, 0);
        assertEq(empty.lastEpoch, 0);
        _history();
        uint256 n;
        uint64 last;
        for (uint256 i; i < 20; ++i) {
            if (!hOn[i]) continue;
            ++n;
            last = hFirst + uint64(i);
        }
        NodeRecord memory r = oracle.node(NODE);
        assertEq(r.epochs, n);
        assertEq(r.firstEpoch, hFirst);
        assertEq(r.lastEpoch, last);
        uint256[] memory ups = new uint256[](20);
        for (uint256 i; i < 20; ++i) {
            ups[i] = hOn[i] ? hUp[i] : 0;
        }
        assertApproxEqAbs(oracle.reliabilityBps(NODE), _ewmaBps(ups), 1);
    }

    bool[40] internal fOn;
    uint16[40] internal fUp;
    uint16[40] internal fPj;

    /// @dev A random history of 40 epochs for NODE from `first`, submitted in one batch.
    function _randomHistory(uint256 seed, uint64 first) internal returns (uint256 n) {
        vm.prank(owner);
        oracle.setMaxDelay(1 days);
        for (uint256 i; i < 40; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            fOn[i] = r % 4 != 0;
            fUp[i] = uint16((r >> 8) % 10_001);
            fPj[i] = uint16((r >> 32) % 2_500);
            if (fOn[i]) ++n;
        }
        // Two reports of 20 hours each, each just after its last hour: maxDelay is at most a day.
        _submitRange(first, 0, 20);
        _submitRange(first, 20, 40);
        vm.warp(_after(first + 39, 1));
    }

    function _submitRange(uint64 first, uint256 from, uint256 to) internal {
        uint256 n;
        for (uint256 i = from; i < to; ++i) {
            if (fOn[i]) ++n;
        }
        Attestation[] memory atts = new Attestation[](n);
        uint256 k;
        for (uint256 i = from; i < to; ++i) {
            if (fOn[i]) atts[k++] = _att(NODE, first + uint64(i), fUp[i], uint32(fPj[i]) * 1000 + 999);
        }
        if (n == 0) return;
        vm.warp(_after(first + uint64(to) - 1, 1));
        _submit(_report(1, atts));
    }

    /// @dev Random histories of 40 epochs from a random offset within a word, random windows and minimums.
    function testFuzz_countEpochs_matchesRecords(
        uint256 seed,
        uint8 offset,
        uint256 from,
        uint256 count,
        uint16 minUp,
        uint16 minEff
    ) public {
        from = bound(from, 0, 45);
        count = bound(count, 0, 50);
        minUp = uint16(bound(minUp, 0, 10_000));
        minEff = uint16(bound(minEff, 0, 2_500));
        uint64 first = E0 + 8 + uint64(bound(offset, 0, 7)); // any lane of a word
        uint256 n = _randomHistory(seed, first);

        uint256 ed;
        uint256 ef;
        for (uint256 i = from; i < from + count && i < 40; ++i) {
            if (!fOn[i]) continue;
            if (fUp[i] >= minUp && fPj[i] >= minEff) ++ed;
            else ++ef;
        }
        (uint256 d, uint256 f) = oracle.countEpochs(NODE, first + uint64(from), count, minUp, minEff);
        assertEq(d, ed, "delivered");
        assertEq(f, ef, "failed");
        assertEq(oracle.node(NODE).epochs, n);
        uint256 i_ = from < 40 ? from : 39;
        (bool attested, uint16 uptime, uint16 perJoule,) = oracle.epochRecord(NODE, first + uint64(i_));
        assertEq(attested, fOn[i_]);
        assertEq(uptime, fOn[i_] ? fUp[i_] : 0);
        assertEq(perJoule, fOn[i_] ? fPj[i_] : 0);
    }

    // ================================================================ reliability

    /// @dev Σ u(e)·w^(T-e) / Σ w^(T-e), `ups` oldest first (0 for an unattested hour), the weights
    ///      by repeated multiplication with w = 2^(-1/168) rather than the contract's powers.
    function _ewmaBps(uint256[] memory ups) internal pure returns (uint256) {
        uint256 w = 1e18;
        uint256 num;
        uint256 den;
        for (uint256 i = ups.length; i > 0; --i) {
            num += ups[i - 1] * w;
            den += w;
            w = w * 995_882_623_658_297_423 / 1e18;
        }
        return num / den;
    }

    /// @dev The decay halves every 168 epochs, does not grow with age, and never exceeds its input.
    function testFuzz_decayDown_halfLife(uint96 x, uint16 k) public pure {
        uint256 d = Decay.decayDown(x, k);
        assertLe(d, x);
        // Monotone up to the floors: k and k + 1 may take different numbers of floored factors, a
        // few wei apart (nothing at the contract's 1e18 scale).
        assertLe(Decay.decayDown(x, uint256(k) + 1), d + 8, "not monotone");
        // A floor per factor (at most nine) and 18-decimal constants (1e-15 relative).
        assertApproxEqAbs(Decay.decayDown(x, uint256(k) + 168), d / 2, 10 + d / 1e15, "no half-life");
        if (k == 0) assertEq(d, x);
    }

    /// @dev Attests `count` hours of `node` from `first` at `uptime`, four hours a report.
    function _attestHours(uint64 node, uint64 first, uint256 count, uint16 uptime) internal {
        for (uint256 i; i < count; i += 4) {
            uint256 n = count - i < 4 ? count - i : 4;
            Attestation[] memory atts = new Attestation[](n);
            for (uint256 j; j < n; ++j) {
                atts[j] = _att(node, first + uint64(i + j), uptime, 0);
            }
            vm.warp(_after(first + uint64(i + n - 1), 60));
            _submit(_report(1, atts));
        }
    }

    /// @dev A week of perfect hours then a silent week: the perfect week weighs half as much as
    ///      the silent one, so the score is 10,000 * 0.5 * 0.5 / 0.75.
    function test_reliability_halfLifeAndSilence() public {
        uint64 first = epoch - 1;
        _attestHours(NODE, first, 168, 10_000);
        assertApproxEqAbs(oracle.reliabilityBps(NODE), 10_000, 1, "a perfect week");
        uint64 last = first + 167;
        vm.warp(_after(last + 168, MAX_DELAY + 1)); // hour last + 168 just stopped being attestable
        assertApproxEqAbs(oracle.reliabilityBps(NODE), 3_333, 1);
        uint256[] memory ups = new uint256[](336);
        for (uint256 i; i < 168; ++i) {
            ups[i] = 10_000;
        }
        assertApproxEqAbs(oracle.reliabilityBps(NODE), _ewmaBps(ups), 1);
        vm.warp(_after(last + 168 * 40, MAX_DELAY + 1)); // long gone: the score fades to nothing
        assertEq(oracle.reliabilityBps(NODE), 0);
    }

    /// @dev An hour still within maxDelay is not a failure yet; once it can no longer be attested it is.
    function test_reliability_pendingHoursAreNotFailuresYet() public {
        _submitAtt(_att(NODE, epoch, 9_990, 0));
        assertEq(oracle.reliabilityBps(NODE), 9_990);
        vm.warp(_after(epoch + 1, MAX_DELAY)); // epoch + 1 could still be attested
        assertEq(oracle.reliabilityBps(NODE), 9_990);
        vm.warp(_after(epoch + 1, MAX_DELAY + 1)); // now it cannot: it counts as 0
        uint256[] memory ups = new uint256[](2);
        ups[0] = 9_990;
        assertApproxEqAbs(oracle.reliabilityBps(NODE), _ewmaBps(ups), 1);
        assertLt(oracle.reliabilityBps(NODE), 5_000);
    }

    /// @dev A gap before the latest attestation counts as 0 until a late report fills it.
    function test_reliability_lateReportFillsGap() public {
        _submitAtt(_att(NODE, epoch - 2, 10_000, 0));
        _submitAtt(_att(NODE, epoch, 10_000, 0));
        uint256[] memory ups = new uint256[](3);
        ups[0] = 10_000;
        ups[2] = 10_000;
        uint256 withGap = oracle.reliabilityBps(NODE);
        assertApproxEqAbs(withGap, _ewmaBps(ups), 1);
        _submitAtt(_att(NODE, epoch - 1, 10_000, 0));
        assertApproxEqAbs(oracle.reliabilityBps(NODE), 10_000, 1);
        assertGt(oracle.reliabilityBps(NODE), withGap);
        // And an hour before the first attested one moves the start back.
        _submitAtt(_att(NODE, epoch - 3, 0, 0));
        assertEq(oracle.node(NODE).firstEpoch, epoch - 3);
        ups = new uint256[](4);
        (ups[1], ups[2], ups[3]) = (10_000, 10_000, 10_000);
        assertApproxEqAbs(oracle.reliabilityBps(NODE), _ewmaBps(ups), 1);
    }

    /// @dev The same hours attested in order for one node and in a shuffled order for another give
    ///      the same record and (within rounding) the same score.
    function testFuzz_reliability_orderDoesNotMatter(uint256 seed) public {
        vm.prank(owner);
        oracle.setMaxDelay(1 days);
        uint64 first = epoch - 19;
        uint16[20] memory ups;
        uint256[] memory order = new uint256[](20);
        for (uint256 i; i < 20; ++i) {
            ups[i] = uint16(uint256(keccak256(abi.encode(seed, i))) % 10_001);
            order[i] = i;
        }
        for (uint256 i = 19; i > 0; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, "shuffle", i))) % (i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        Attestation[] memory inOrder = new Attestation[](20);
        Attestation[] memory shuffled = new Attestation[](20);
        for (uint256 i; i < 20; ++i) {
            inOrder[i] = _att(NODE, first + uint64(i), ups[i], 0);
            shuffled[i] = _att(NODE + 1, first + uint64(order[i]), ups[order[i]], 0);
        }
        _submit(_report(1, inOrder));
        for (uint256 i; i < 20; i += 5) {
            Attestation[] memory part = new Attestation[](5);
            for (uint256 j; j < 5; ++j) {
                part[j] = shuffled[i + j];
            }
            _submit(_report(1, part));
        }
        NodeRecord memory a = oracle.node(NODE);
        NodeRecord memory b = oracle.node(NODE + 1);
        assertEq(a.epochs, b.epochs);
        assertEq(a.firstEpoch, b.firstEpoch);
        assertEq(a.lastEpoch, b.lastEpoch);
        assertApproxEqRel(a.weightedUptime, b.weightedUptime, 1e3); // 18-decimal constants: 1e-15
        assertApproxEqAbs(oracle.reliabilityBps(NODE), oracle.reliabilityBps(NODE + 1), 1);
        uint256[] memory expected = new uint256[](20);
        for (uint256 i; i < 20; ++i) {
            expected[i] = ups[i];
        }
        assertApproxEqAbs(oracle.reliabilityBps(NODE), _ewmaBps(expected), 1);
        assertLe(oracle.reliabilityBps(NODE + 1), 10_000);
    }

    // ================================================================ signer-set delay

    function _newSet() internal returns (uint256[] memory newKeys) {
        newKeys = _sortedKeys("new signer", 3);
        vm.prank(owner);
        oracle.setSigners(_addrs(newKeys), 2);
    }

    /// @dev A rotation (an owner key stolen, say) cannot sign anything until holders have seen it
    ///      queued for two days; the old set signs until then, with nobody having to call anything.
    function test_setSigners_takesEffectAfterDelay() public {
        uint256 queuedAt = block.timestamp;
        uint256[] memory newKeys = _newSet();
        (uint32 version,,) = oracle.signerSet();
        assertEq(version, 1);
        (uint32 pv, uint8 pt, uint8 ps, uint64 at) = oracle.pendingSignerSet();
        (pv, pt, ps, at) = (pv, pt, ps, at);
        assertEq(pv, 2);
        assertEq(pt, 2);
        assertEq(ps, 3);
        assertEq(at, queuedAt + 2 days);

        Report memory early = _report(2, _att(NODE, epoch, 9_990, 0));
        bytes[] memory newSigs = _signWith(oracle, early, _pick(newKeys, 0, 1));
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.WrongSignerSet.selector, 2, 1));
        oracle.submit(early, newSigs);

        vm.warp(at - 1); // the old set still signs, to the last second
        epoch = uint64(block.timestamp / 1 hours) - 1;
        _submitAtt(_att(NODE, epoch, 9_990, 0));

        vm.warp(at);
        epoch = uint64(block.timestamp / 1 hours) - 1;
        (version,,) = oracle.signerSet();
        assertEq(version, 2);
        (pv,,, at) = oracle.pendingSignerSet();
        assertEq(pv, 0);
        assertEq(at, 0);
        _expectSubmitRevert(
            _report(1, _att(NODE + 1, epoch, 9_990, 0)),
            abi.encodeWithSelector(IAttestationOracle.WrongSignerSet.selector, 1, 2)
        );
        Report memory r = _report(2, _att(NODE + 1, epoch, 9_990, 0));
        oracle.submit(r, _signWith(oracle, r, _pick(newKeys, 0, 1)));
        assertEq(oracle.node(NODE + 1).epochs, 1);
    }

    function test_setSigners_laterQueueReplacesPending() public {
        _newSet(); // version 2, due at +2 days
        vm.warp(block.timestamp + 1 days);
        uint256[] memory thirdKeys = _sortedKeys("third signer", 1);
        vm.prank(owner);
        assertEq(oracle.setSigners(_addrs(thirdKeys), 1), 3);
        (uint32 pv,,, uint64 at) = oracle.pendingSignerSet();
        assertEq(pv, 3);
        assertEq(at, block.timestamp + 2 days);

        vm.warp(block.timestamp + 1 days); // version 2 would have been due: it was dropped
        (uint32 version,,) = oracle.signerSet();
        assertEq(version, 1);
        vm.warp(at);
        (version,,) = oracle.signerSet();
        assertEq(version, 3);
    }

    function test_setSigners_queueAfterActivationKeepsIt() public {
        _newSet();
        vm.warp(block.timestamp + 2 days);
        vm.prank(owner);
        assertEq(oracle.setSigners(_ascending(1, 1), 1), 3);
        (uint32 version, uint8 threshold, uint8 size) = oracle.signerSet();
        assertEq(version, 2, "the matured set stays in force while its successor waits");
        assertEq(threshold, 2);
        assertEq(size, 3);
        vm.warp(block.timestamp + 2 days);
        (version, threshold, size) = oracle.signerSet();
        assertEq(version, 3);
        assertEq(threshold, 1);
        assertEq(size, 1);
    }

    // ================================================================ EIP-712 digest

    function _domainSeparator(address verifying) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256(bytes("gpuhours AttestationOracle")),
                keccak256(bytes("1")),
                block.chainid,
                verifying
            )
        );
    }

    function _expectedDigest(Report memory r, address verifying) internal view returns (bytes32) {
        bytes32 attTypehash = keccak256(bytes(ATTESTATION_TYPE));
        bytes32 markTypehash = keccak256(bytes(MARK_TYPE));
        // Referenced struct types follow the primary type, sorted by name.
        bytes32 reportTypehash = keccak256(
            abi.encodePacked(
                "Report(uint32 signerSet,Attestation[] attestations,MarkPrice[] marks)", ATTESTATION_TYPE, MARK_TYPE
            )
        );
        bytes memory attHashes;
        for (uint256 i; i < r.attestations.length; ++i) {
            Attestation memory a = r.attestations[i];
            attHashes = bytes.concat(
                attHashes,
                keccak256(
                    abi.encode(
                        attTypehash,
                        uint256(a.nodeId),
                        uint256(a.epoch),
                        uint256(a.uptimeBps),
                        uint256(a.loadBps),
                        uint256(a.gpuSeconds),
                        uint256(a.mflopsPerJoule),
                        uint256(a.gflops),
                        a.samplesRoot
                    )
                )
            );
        }
        bytes memory markHashes;
        for (uint256 i; i < r.marks.length; ++i) {
            MarkPrice memory m = r.marks[i];
            markHashes = bytes.concat(
                markHashes, keccak256(abi.encode(markTypehash, m.gpuClass, uint256(m.epoch), uint256(m.price)))
            );
        }
        // An array hashes as keccak of the concatenation of its members' hashStruct (empty: keccak("")).
        bytes32 structHash =
            keccak256(abi.encode(reportTypehash, uint256(r.signerSet), keccak256(attHashes), keccak256(markHashes)));
        return keccak256(abi.encodePacked(hex"1901", _domainSeparator(verifying), structHash));
    }

    function test_reportDigest_typehashes() public view {
        assertEq(oracle.ATTESTATION_TYPEHASH(), keccak256(bytes(ATTESTATION_TYPE)));
        assertEq(oracle.MARK_TYPEHASH(), keccak256(bytes(MARK_TYPE)));
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = oracle.eip712Domain();
        assertEq(name, "gpuhours AttestationOracle");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifying, address(oracle));
    }

    function test_reportDigest_matchesIndependentEip712() public {
        // attestations only
        Attestation[] memory atts = new Attestation[](2);
        atts[0] = _att(1, epoch, 9_990, 1_350_000);
        atts[1] = _att(2, epoch - 1, 1, 7);
        atts[1].samplesRoot = bytes32(type(uint256).max);
        Report memory r = _report(1, atts);
        assertEq(oracle.reportDigest(r), _expectedDigest(r, address(oracle)));

        // marks only
        r = _markReport(3, H100, epoch, type(uint128).max);
        assertEq(oracle.reportDigest(r), _expectedDigest(r, address(oracle)));

        // both, several of each
        r.attestations = atts;
        r.marks = new MarkPrice[](3);
        r.marks[0] = MarkPrice(H100, epoch, 2_100_000);
        r.marks[1] = MarkPrice("A100", epoch - 1, 900_000);
        r.marks[2] = MarkPrice("L40S", type(uint64).max, 1);
        r.signerSet = type(uint32).max;
        assertEq(oracle.reportDigest(r), _expectedDigest(r, address(oracle)));

        // nothing at all (submit refuses it, but it still hashes)
        Report memory empty;
        empty.attestations = new Attestation[](0);
        empty.marks = new MarkPrice[](0);
        assertEq(oracle.reportDigest(empty), _expectedDigest(empty, address(oracle)));

        // another chain
        vm.chainId(31_337_000);
        assertEq(oracle.reportDigest(r), _expectedDigest(r, address(oracle)));
    }

    function testFuzz_reportDigest_matchesIndependentEip712(Attestation memory a, MarkPrice memory m, uint32 set)
        public
        view
    {
        Report memory r = _report(set, a);
        r.marks = new MarkPrice[](1);
        r.marks[0] = m;
        bytes32 d = oracle.reportDigest(r);
        assertEq(d, _expectedDigest(r, address(oracle)));
        // Every field is signed: order of members matters, and so does each value.
        Report memory changed = _report(set, a);
        changed.marks = new MarkPrice[](1);
        changed.marks[0] = m;
        changed.attestations[0].gflops = a.gflops ^ 1;
        assertTrue(oracle.reportDigest(changed) != d);
    }

    function test_reportDigest_arrayOrderMatters() public view {
        Attestation[] memory atts = new Attestation[](2);
        atts[0] = _att(1, epoch, 9_990, 0);
        atts[1] = _att(2, epoch, 9_990, 0);
        Report memory r = _report(1, atts);
        Attestation[] memory swapped = new Attestation[](2);
        swapped[0] = atts[1];
        swapped[1] = atts[0];
        assertTrue(oracle.reportDigest(r) != oracle.reportDigest(_report(1, swapped)));
        // A mark moved into the attestations' place hashes differently from an empty mark list.
        Report memory onlyAtts = _report(1, atts);
        Report memory withMark = _report(1, atts);
        withMark.marks = new MarkPrice[](1);
        assertTrue(oracle.reportDigest(onlyAtts) != oracle.reportDigest(withMark));
    }
}
