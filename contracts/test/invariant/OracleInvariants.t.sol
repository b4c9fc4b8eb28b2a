// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {console2} from "forge-std/console2.sol";

import {Base} from "../utils/Base.sol";
import {OracleSigning} from "../utils/OracleSigning.sol";
import {OracleHandler} from "./OracleHandler.sol";
import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {Settlement} from "../../src/Settlement.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {NodeRecord} from "../../src/interfaces/IAttestationOracle.sol";
import {CapacityStatus} from "../../src/interfaces/IGpuHours.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Invariants of attestation and settlement, driven by {OracleHandler}: a provider is paid
///         only for attested delivered epochs, an attestation is never counted twice, and the
///         escrow stays solvent through settlement.
contract OracleInvariantsTest is Base {
    OracleHandler internal handler;

    function _defaultSla() internal pure override returns (Sla memory) {
        return Sla({minUptimeBps: 9_000, minGflopsPerJoule: 1_000, graceHours: 1, slashPerGpuHour: uint64(USDC / 2)});
    }

    function setUp() public override {
        super.setUp();
        uint256[] memory keys = oracleKeys;
        handler = new OracleHandler(usdc, gpuHours, escrow, exchange, oracle, settlement, treasury, keys);

        // Weighted by repetition: time, reports, sales and bookings feed settlement.
        bytes4[] memory selectors = new bytes4[](18);
        selectors[0] = OracleHandler.warp.selector;
        selectors[1] = OracleHandler.warp.selector;
        selectors[2] = OracleHandler.attest.selector;
        selectors[3] = OracleHandler.attest.selector;
        selectors[4] = OracleHandler.attest.selector;
        selectors[5] = OracleHandler.replay.selector;
        selectors[6] = OracleHandler.reattest.selector;
        selectors[7] = OracleHandler.forged.selector;
        selectors[8] = OracleHandler.createCapacity.selector;
        selectors[9] = OracleHandler.buy.selector;
        selectors[10] = OracleHandler.buy.selector;
        selectors[11] = OracleHandler.activate.selector;
        selectors[12] = OracleHandler.activate.selector;
        selectors[13] = OracleHandler.settleBooking.selector;
        selectors[14] = OracleHandler.settleBooking.selector;
        selectors[15] = OracleHandler.settleUnused.selector;
        selectors[16] = OracleHandler.settleCapacity.selector;
        selectors[17] = OracleHandler.withdraw.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice A provider is paid only for attested delivered epochs: everything credited to
    ///         providers by settlement is at most (and, mirrored exactly, equal to) the sum over
    ///         settled bookings and unused hours of their share of the sales times the delivered
    ///         hours read from the oracle's records; nothing is paid where nothing was delivered, and
    ///         nothing is settled while its last hour could still be attested.
    function invariant_providerPaidOnlyForAttestedDelivery() public view {
        assertLe(handler.ghostReleased(), handler.ghostEntitled(), "provider paid beyond attested delivery");
        assertEq(handler.paidWithoutDelivery(), 0, "provider paid with no delivered epoch");
        assertEq(handler.payMismatches(), 0, "provider credit != share of delivered hours");
        assertEq(handler.earlySettleSuccesses(), 0, "settled while its last hour could still be attested");
        assertEq(handler.recordMismatches(), 0, "oracle epoch record != what was submitted");
        assertEq(handler.unexpectedSettleFailures(), 0, "a ready settlement reverted");
        assertEq(handler.outstandingCloses(), 0, "capacity closed with units unsettled");
    }

    /// @notice Each node's attested-epoch count equals the number of distinct (node, epoch)
    ///         attestations that went through, in whatever order they landed; replays, second
    ///         attestations of an hour and forged reports never do. The weighted uptime behind the
    ///         reliability score is at most the plain sum of attested uptimes, the score at most 100 %.
    function invariant_attestationNeverCountedTwice() public view {
        uint64[] memory nodes = handler.allNodeIds();
        for (uint256 i; i < nodes.length; ++i) {
            NodeRecord memory r = oracle.node(nodes[i]);
            assertEq(r.epochs, handler.ghostEpochs(nodes[i]), "node epochs != distinct successful attestations");
            assertLe(r.weightedUptime, handler.ghostUptimeSum(nodes[i]) * 1e18, "weighted uptime above the sum");
            assertLe(oracle.reliabilityBps(nodes[i]), 10_000, "reliability above 100 %");
            if (r.epochs == 0) continue;
            assertEq(r.firstEpoch, handler.ghostFirst(nodes[i]), "first epoch != ghost");
            assertEq(r.lastEpoch, handler.ghostLast(nodes[i]), "last epoch != ghost");
        }
        assertEq(handler.replaySuccesses(), 0, "a replayed report was accepted");
        assertEq(handler.reattestSuccesses(), 0, "an attested hour was attested again");
        assertEq(handler.forgedSuccesses(), 0, "a badly signed report was accepted");
        assertEq(handler.doubleCounted(), 0, "a (node, epoch) was recorded twice");
        assertEq(handler.unexpectedSubmitFailures(), 0, "a valid report was refused");
    }

    /// @notice The escrow holds every pot it owes (backing, bonds, premiums held) and every credited balance,
    ///         exactly (nobody donates); slashes stay within bonds; settled capacities hold nothing.
    function invariant_solvency() public view {
        uint256[] memory ids = handler.allCapIds();
        uint256 pots;
        for (uint256 i; i < ids.length; ++i) {
            Funds memory f = escrow.funds(ids[i]);
            pots += uint256(f.backing) + f.bond + f.premium;
            assertLe(handler.slashedOf(ids[i]), handler.bondOf(ids[i]), "slashed above the bond");
            if (gpuHours.capacity(ids[i]).status == CapacityStatus.Closed) {
                assertEq(uint256(f.backing) + f.bond + f.premium, 0, "settled capacity still holds funds");
            }
        }
        address[] memory accounts = handler.accounts();
        uint256 credits;
        for (uint256 i; i < accounts.length; ++i) {
            credits += escrow.claimable(accounts[i]);
        }
        uint256 held = usdc.balanceOf(address(escrow));
        assertGe(held, pots + credits, "escrow insolvent");
        assertEq(held, pots + credits, "escrow balance != pots + claimable");
    }

    /// @dev A fixed pseudo-random walk through the handler, to show the campaign reaches what the
    ///      invariants are about: signed reports, rejected replays, and settled bookings, unused
    ///      hours and capacities with providers paid for delivered hours.
    function test_handlerReachesSettlement() public {
        uint256 seed = 42;
        for (uint256 step; step < 400; ++step) {
            seed = uint256(keccak256(abi.encode(seed, step)));
            _step(seed);
        }
        afterInvariant();
        invariant_providerPaidOnlyForAttestedDelivery();
        invariant_attestationNeverCountedTwice();
        invariant_solvency();
        assertGt(handler.submissions(), 10, "few reports");
        assertGt(handler.outOfOrderSubmissions(), 0, "no report went newest first");
        assertGt(handler.replayAttempts() + handler.reattestAttempts() + handler.forgedAttempts(), 10);
        assertGt(handler.settledBookings(), 2, "few bookings settled");
        assertGt(handler.settledUnusedHolders(), 2, "few unused hours settled");
        assertGt(handler.settledCaps(), 2, "few capacities settled");
        assertGt(handler.deliveredHoursPaid(), 0, "no delivered hour paid");
        assertGt(handler.ghostReleased(), 0, "nothing released");
    }

    /// @dev The same weights as the campaign's selectors.
    function _step(uint256 r) internal {
        uint256 a = r % 18;
        uint256 x = uint256(keccak256(abi.encode(r, 1)));
        uint256 y = uint256(keccak256(abi.encode(r, 2)));
        uint256 z = uint256(keccak256(abi.encode(r, 3)));
        if (a <= 1) handler.warp(x);
        else if (a <= 4) handler.attest(x, y, z % 2 == 0, uint8(z >> 8));
        else if (a == 5) handler.replay(x);
        else if (a == 6) handler.reattest(x, y, uint16(z));
        else if (a == 7) handler.forged(x, uint8(y));
        else if (a == 8) handler.createCapacity(x, y, z, r >> 128);
        else if (a <= 10) handler.buy(x, y, z, r >> 128);
        else if (a <= 12) handler.activate(x, y, z, r >> 128, r >> 64);
        else if (a <= 14) handler.settleBooking(x, y % 2 == 0);
        else if (a == 15) handler.settleUnused(x, y % 2 == 0);
        else if (a == 16) handler.settleCapacity(x);
        else handler.withdraw(x);
    }

    function afterInvariant() public view {
        console2.log("submissions", handler.submissions());
        console2.log(
            "replays / second opinions / forged tried",
            handler.replayAttempts(),
            handler.reattestAttempts(),
            handler.forgedAttempts()
        );
        console2.log("reports newest first", handler.outOfOrderSubmissions());
        console2.log("bookings made / settled", handler.bookingCount(), handler.settledBookings());
        console2.log(
            "unused holders settled / capacities settled", handler.settledUnusedHolders(), handler.settledCaps()
        );
        console2.log(
            "released / entitled / delivered hours paid",
            handler.ghostReleased(),
            handler.ghostEntitled(),
            handler.deliveredHoursPaid()
        );
    }
}
