// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {Base} from "./Base.sol";
import {Order, OrderKind} from "../../src/interfaces/IExchange.sol";

/// @notice Shared helpers for the unit and fuzz suites, on top of the deploy base.
abstract contract Fixtures is Base {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 internal constant PRICE = 2_100_000; // 2.10 USDC per GPU-hour

    uint256 private _salt;

    /// @dev An order with a fresh salt, so two otherwise equal orders hash differently.
    function _freshOrder(address maker, OrderKind kind, uint256 id, uint256 amount, uint256 price)
        internal
        returns (Order memory o)
    {
        o = _order(maker, kind, id, amount, price);
        o.salt = ++_salt;
    }

    /// @dev `taker` buys `amount` hours of `id` from its provider in a primary sale; returns the fee.
    function _buyPrimary(address taker, uint256 id, uint256 amount, uint256 price) internal returns (uint256 fee) {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, amount, price);
        bytes memory sig = _sign(providerKey, o);
        vm.prank(taker);
        fee = exchange.fill(o, sig, amount);
    }

    function _start(uint256 id) internal view returns (uint40) {
        return gpuHours.capacity(id).start;
    }

    function _end(uint256 id) internal view returns (uint40) {
        return gpuHours.capacity(id).end;
    }

    function _currentHour() internal view returns (uint40) {
        return uint40(block.timestamp - (block.timestamp % 1 hours));
    }

    /// @dev Registers an 8-GPU node for `who`.
    function _node(address who) internal returns (uint64 nodeId) {
        vm.prank(who);
        nodeId = gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", _gpus());
    }

    /// @dev Registers a node of `gpus` GPUs for `who` and opens `hours_` hours from the next hour.
    function _capacityOf(address who, uint8 gpus, uint256 hours_) internal returns (uint256 id) {
        bytes32 uuids = _gpus();
        vm.startPrank(who);
        uint64 nodeId = gpuHours.registerNode("H100-SXM5-80GB", gpus, 80, "eu-west", "NVLink", uuids);
        uint40 start = _currentHour() + 1 hours;
        uint256 bond = uint256(gpus) * hours_ * settlement.sla().slashPerGpuHour;
        id = gpuHours.createCapacity(nodeId, start, uint40(start + hours_ * 1 hours), BACKING, bond);
        vm.stopPrank();
    }

    /// @dev Mints `amount` of `id` to `to` as the exchange would on a primary fill, with no payment.
    function _mintAsExchange(address to, uint256 id, uint256 amount) internal {
        address maker = gpuHours.providerOf(id);
        vm.prank(address(exchange));
        gpuHours.mint(to, id, amount, maker);
    }

    /// @dev An EIP-2612 permit of MockUSDC signed by `key`.
    function _permit(uint256 key, address spender, uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        address holder = vm.addr(key);
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, holder, spender, value, usdc.nonces(holder), deadline));
        return vm.sign(key, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
    }

    /// @dev The protocol fee on `amount` at `FEE_BPS`, rounded up against the one who pays it.
    function _fee(uint256 amount) internal pure returns (uint256) {
        return _fee(amount, FEE_BPS);
    }

    /// @dev The fee on `amount` at `bps`, rounded up as Escrow and Exchange take it.
    function _fee(uint256 amount, uint256 bps) internal pure returns (uint256) {
        return Math.mulDiv(amount, bps, 10_000, Math.Rounding.Ceil);
    }
}
