// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGpuHours, Node} from "./interfaces/IGpuHours.sol";

/// @title NodeRegistry
/// @notice The nodes GPU-hours are sold on: who owns each, what GPUs it holds, and the rule that the
///         same physical GPUs (their UUIDs' hash) are registered to one node only, so they cannot be
///         sold twice.
abstract contract NodeRegistry is IGpuHours {
    /// @notice Longest delivery window: 90 days. Keeps supply caps within 32 bits.
    uint256 public constant MAX_WINDOW_HOURS = 90 * 24;
    uint256 internal constant HOUR = 1 hours;

    /// @notice Nodes registered so far; ids count from 1.
    uint64 public nodeCount;
    mapping(uint64 nodeId => Node) internal _nodes;
    /// @inheritdoc IGpuHours
    mapping(bytes32 gpuUuidsHash => uint64 nodeId) public nodeOfGpus;

    /// @inheritdoc IGpuHours
    function registerNode(
        bytes32 gpuModel,
        uint8 gpuCount,
        uint16 vramGb,
        bytes32 region,
        bytes32 interconnect,
        bytes32 gpuUuidsHash
    ) external returns (uint64 nodeId) {
        if (gpuCount == 0) revert InvalidGpuCount(gpuCount);
        uint64 existing = nodeOfGpus[gpuUuidsHash];
        if (existing != 0) revert GpusAlreadyRegistered(gpuUuidsHash, existing);
        nodeId = ++nodeCount;
        nodeOfGpus[gpuUuidsHash] = nodeId;
        _nodes[nodeId] = Node({
            owner: msg.sender,
            gpuCount: gpuCount,
            vramGb: vramGb,
            lastWindowEnd: 0,
            earlyEnds: 0,
            gpuModel: gpuModel,
            region: region,
            interconnect: interconnect,
            gpuUuidsHash: gpuUuidsHash
        });
        emit NodeRegistered(nodeId, msg.sender, gpuModel, gpuCount, vramGb, region, interconnect, gpuUuidsHash);
    }

    /// @inheritdoc IGpuHours
    function transferNode(uint64 nodeId, address to) external {
        if (to == address(0)) revert ZeroAddress();
        Node storage n = _ownedNode(nodeId);
        n.owner = to;
        emit NodeTransferred(nodeId, msg.sender, to);
    }

    /// @inheritdoc IGpuHours
    function node(uint64 nodeId) external view returns (Node memory) {
        return _nodes[nodeId];
    }

    function _ownedNode(uint64 nodeId) internal view returns (Node storage n) {
        n = _nodes[nodeId];
        if (n.owner == address(0)) revert UnknownNode(nodeId);
        if (n.owner != msg.sender) revert NotNodeOwner(nodeId, msg.sender);
    }

    /// @dev Claims [start, end) of the caller's node for a capacity: whole hours, not yet begun, at
    ///      most {MAX_WINDOW_HOURS}, after the node's last window (a node never sells an hour twice).
    ///      Returns the node's GPU count.
    function _claimWindow(uint64 nodeId, uint40 start, uint40 end) internal returns (uint8) {
        Node storage n = _ownedNode(nodeId);
        if (
            start % HOUR != 0 || end % HOUR != 0 || start < _currentHour() || end <= start
                || end - start > MAX_WINDOW_HOURS * HOUR
        ) revert InvalidWindow(start, end, MAX_WINDOW_HOURS);
        if (start < n.lastWindowEnd) revert WindowOverlaps(nodeId, start, n.lastWindowEnd);
        n.lastWindowEnd = end;
        return n.gpuCount;
    }

    function _currentHour() internal view returns (uint256) {
        return block.timestamp - (block.timestamp % HOUR);
    }
}
