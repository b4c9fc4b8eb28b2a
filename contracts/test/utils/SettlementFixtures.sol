// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "./Fixtures.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Attestation, Report} from "../../src/interfaces/IAttestationOracle.sol";

/// @notice The unit fixtures under an SLA that slashes, with helpers to attest hours.
abstract contract SettlementFixtures is Fixtures {
    uint16 internal constant NONE = type(uint16).max; // an hour the oracle never attests
    uint32 internal constant MFLOPS_PER_JOULE = 1_350_000; // 1,350 GFLOP/J

    function _defaultSla() internal pure virtual override returns (Sla memory) {
        return Sla({minUptimeBps: 9_000, minGflopsPerJoule: 0, graceHours: 1, slashPerGpuHour: 1e6});
    }

    /// @dev Signs (with the first two oracle keys) and submits one attestation of `nodeId` for
    ///      `epoch`, moving time forward to just after the epoch when it is not over yet. The node
    ///      delivers all its GPUs while up: gpuCount × 3,600 GPU-seconds at full uptime, scaled by uptime.
    function _attest(uint64 nodeId, uint64 epoch, uint16 uptimeBps, uint32 mflopsPerJoule) internal {
        uint256 gpuSeconds = uint256(gpuHours.node(nodeId).gpuCount) * 3600 * uptimeBps / 10_000;
        _attestSeconds(nodeId, epoch, uptimeBps, mflopsPerJoule, uint32(gpuSeconds));
    }

    /// @dev `_attest` with the GPU-seconds delivered to bookings given.
    function _attestSeconds(uint64 nodeId, uint64 epoch, uint16 uptimeBps, uint32 mflopsPerJoule, uint32 gpuSeconds)
        internal
    {
        uint256 t = _after(epoch, 60);
        if (block.timestamp < t) vm.warp(t);
        Attestation memory a = _att(nodeId, epoch, uptimeBps, mflopsPerJoule);
        a.gpuSeconds = gpuSeconds;
        Report memory r = _report(1, a);
        bytes[] memory sigs = _signWith(oracle, r, _first(oracleKeys, 2));
        oracle.submit(r, sigs);
    }

    /// @dev Attests the hours of a window from `start`, one character an hour: 'G' full uptime,
    ///      every GPU delivering, 'B' half uptime (below the SLA), 'L' full uptime at low efficiency
    ///      (100 GFLOP/J), 'U' full uptime but no GPU-seconds delivered (up, renters shut out),
    ///      '-' never attested.
    function _attestPattern(uint64 nodeId, uint256 start, bytes memory pattern) internal {
        uint64 first = uint64(start / 1 hours);
        for (uint256 i; i < pattern.length; ++i) {
            bytes1 c = pattern[i];
            if (c == "-") continue;
            if (c == "G") _attest(nodeId, first + uint64(i), 10_000, MFLOPS_PER_JOULE);
            else if (c == "B") _attest(nodeId, first + uint64(i), 5_000, MFLOPS_PER_JOULE);
            else if (c == "L") _attest(nodeId, first + uint64(i), 10_000, 100_000);
            else if (c == "U") _attestSeconds(nodeId, first + uint64(i), 10_000, MFLOPS_PER_JOULE, 0);
            else revert("bad pattern");
        }
    }

    /// @dev What the provider nets when `released` of backing is paid out for delivery: it less the fee.
    function _net(uint256 released) internal pure returns (uint256) {
        return released - _fee(released);
    }

    /// @dev The first moment a booking or window ending at `end` can be settled.
    function _readyAt(uint256 end) internal view returns (uint256) {
        return end + oracle.maxDelay() + 1;
    }

    /// @dev The holders list that `settleUnused` takes.
    function _holders(address a) internal pure returns (address[] memory h) {
        h = new address[](1);
        h[0] = a;
    }

    function _holders(address a, address b) internal pure returns (address[] memory h) {
        h = new address[](2);
        h[0] = a;
        h[1] = b;
    }

    /// @dev `who` buys `gpus × hours_` hours of `capId` from its provider at `price` in a primary sale
    ///      and books them from hour `fromHour` of the window.
    function _bookOn(uint256 capId, address who, uint8 gpus, uint16 hours_, uint256 fromHour, uint256 price)
        internal
        returns (uint256 bookingId)
    {
        _buyPrimary(who, capId, uint256(gpus) * hours_, price);
        uint40 from = uint40(_start(capId) + fromHour * 1 hours);
        vm.prank(who);
        bookingId = gpuHours.activate(capId, from, hours_, gpus);
    }
}

/// @notice The settlement fixtures around one capacity of the provider's, opened by `_open` in the
///         suite's setUp, that its tests book and settle.
abstract contract CapacityFixtures is SettlementFixtures {
    uint64 internal nodeId;
    uint256 internal id;
    uint40 internal start;

    /// @dev Opens the capacity: the provider's 8-GPU node, `hours_` hours from the next hour, `bond` bonded.
    function _open(uint256 hours_, uint256 bond) internal {
        (nodeId, id) = _capacity(provider, hours_, bond);
        start = _start(id);
    }

    /// @dev `who` buys `gpus × hours_` hours of the capacity at the backing and books them from hour
    ///      `fromHour` of the window.
    function _book(address who, uint8 gpus, uint16 hours_, uint256 fromHour) internal returns (uint256) {
        return _bookOn(id, who, gpus, hours_, fromHour, BACKING);
    }
}
