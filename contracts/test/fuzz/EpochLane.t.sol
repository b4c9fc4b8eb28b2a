// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SettlementFixtures} from "../utils/SettlementFixtures.sol";
import {EpochLane, EpochLaneLib} from "../../src/libraries/EpochLane.sol";

/// @notice {EpochLane} packs four fields losslessly, four lanes a word; the range views agree with
///         the single-record ones.
contract EpochLaneFuzzTest is SettlementFixtures {
    function _pack(uint16 up, uint256 eff, uint256 secs, uint256 word, uint256 epoch) external pure returns (uint256) {
        return EpochLaneLib.attest(up, eff, secs).place(word, epoch);
    }

    function testFuzz_lane_roundTripsAllFields(uint16 up, uint256 eff, uint256 secs, uint256 epoch, uint256 others)
        public
        pure
    {
        up = uint16(bound(up, 0, 0x7fff));
        EpochLane lane = EpochLaneLib.attest(up, eff, secs);
        assertTrue(lane.attested());
        assertEq(lane.uptimeBps(), up);
        assertEq(lane.gflopsPerJoule(), eff > type(uint16).max ? type(uint16).max : eff, "saturates at 16 bits");
        assertEq(lane.gpuSeconds(), secs > 0xfffff ? 0xfffff : secs, "saturates at 20 bits");

        // Placed among other lanes (epoch's own lane empty), it reads back and leaves them alone.
        uint256 shift = (epoch % 4) * 64;
        uint256 word = others & ~(uint256(type(uint64).max) << shift);
        uint256 placed = lane.place(word, epoch);
        assertEq(EpochLane.unwrap(EpochLaneLib.laneOf(placed, epoch)), EpochLane.unwrap(lane));
        assertEq(placed & ~(uint256(type(uint64).max) << shift), word, "other lanes untouched");
        assertEq(EpochLaneLib.wordOf(epoch), epoch / 4);
        assertEq(EpochLaneLib.opensWord(epoch), epoch % 4 == 0);
    }

    function test_lane_maxima() public pure {
        EpochLane lane = EpochLaneLib.attest(10_000, type(uint16).max, 255 * 3600);
        assertEq(lane.uptimeBps(), 10_000);
        assertEq(lane.gflopsPerJoule(), type(uint16).max);
        assertEq(lane.gpuSeconds(), 918_000);
        lane = EpochLaneLib.attest(0x7fff, type(uint256).max, 0xfffff);
        assertEq(lane.uptimeBps(), 0x7fff);
        assertEq(lane.gflopsPerJoule(), type(uint16).max);
        assertEq(lane.gpuSeconds(), 0xfffff);
        uint256 word;
        for (uint256 e; e < 4; ++e) {
            word = lane.place(word, e);
        }
        for (uint256 e; e < 4; ++e) {
            assertEq(EpochLane.unwrap(EpochLaneLib.laneOf(word, e)), EpochLane.unwrap(lane));
        }
    }

    /// @dev Random attestations over 12 epochs from a random lane; epochLanes over a random range
    ///      agrees with epochRecord epoch by epoch.
    function testFuzz_epochLanes_matchEpochRecord(uint256 seed, uint8 offset, uint256 from, uint256 count) public {
        uint64 nodeId = _node(provider);
        uint64 first = uint64(block.timestamp / 1 hours) + 4 + uint64(bound(offset, 0, 3));
        for (uint256 i; i < 12; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (r % 4 == 0) continue; // a gap
            uint16 up = uint16((r >> 8) % 10_001);
            uint32 mflops = uint32((r >> 24) % 70_000_000);
            uint32 secs = uint32((r >> 64) % 918_001);
            _attestSeconds(nodeId, first + uint64(i), up, mflops, secs);
        }
        from = bound(from, 0, 14);
        count = bound(count, 0, 14);
        EpochLane[] memory lanes = oracle.epochLanes(nodeId, first + uint64(from), count);
        assertEq(lanes.length, count);
        for (uint256 i; i < count; ++i) {
            (bool attested, uint16 up, uint16 eff, uint32 secs) = oracle.epochRecord(nodeId, first + uint64(from + i));
            assertEq(lanes[i].attested(), attested);
            assertEq(lanes[i].uptimeBps(), up);
            assertEq(lanes[i].gflopsPerJoule(), eff);
            assertEq(lanes[i].gpuSeconds(), secs);
        }
    }

    /// @dev Random bookings on a 40-hour window of a 255-GPU node; bookedRange agrees with bookedAt.
    function testFuzz_bookedRange_matchesBookedAt(uint256 seed, uint256 from, uint256 count) public {
        vm.prank(owner);
        gpuHours.setMinBondPerUnit(0);
        uint256 id = _capacityOf(provider, 255, 40);
        uint40 start = _start(id);
        _mintAsExchange(renter, id, 255 * 40);
        for (uint256 i; i < 6; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 h = r % 40;
            uint16 hours_ = uint16(1 + (r >> 8) % (40 - h));
            uint8 gpus = uint8(1 + (r >> 16) % 42);
            vm.prank(renter);
            gpuHours.activate(id, uint40(start + h * 1 hours), hours_, gpus);
        }
        from = bound(from, 0, 45);
        count = bound(count, 0, 45);
        uint8[] memory booked = gpuHours.bookedRange(id, from, count);
        assertEq(booked.length, count);
        for (uint256 i; i < count; ++i) {
            assertEq(booked[i], gpuHours.bookedAt(id, start + (from + i) * 1 hours), "hour");
        }
    }
}
