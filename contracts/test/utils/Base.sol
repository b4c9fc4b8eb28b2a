// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {MockUSDC} from "../../src/MockUSDC.sol";
import {GpuHours} from "../../src/GpuHours.sol";
import {Escrow} from "../../src/Escrow.sol";
import {Exchange} from "../../src/Exchange.sol";
import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {Settlement} from "../../src/Settlement.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Order, OrderKind} from "../../src/interfaces/IExchange.sol";
import {OracleSigning} from "./OracleSigning.sol";

/// @notice Deploys the protocol as the deploy script does (an AttestationOracle of 2 of 3 signers and
///         Settlement wired in as GpuHours' settlement), with funded, approved actors.
abstract contract Base is Test, OracleSigning {
    uint16 internal constant FEE_BPS = 100; // 1 %
    uint256 internal constant USDC = 1e6;
    /// @dev The backing per unit of the capacities `_capacity` opens: 2.10 USDC per GPU-hour.
    uint96 internal constant BACKING = 2_100_000;
    uint64 internal constant MAX_DELAY = 6 hours;
    uint256 internal constant T0 = 1_767_225_600; // 2026-01-01T00:00:00Z, a whole hour

    MockUSDC internal usdc;
    GpuHours internal gpuHours;
    Escrow internal escrow;
    Exchange internal exchange;
    AttestationOracle internal oracle;
    Settlement internal settlement;
    uint256[] internal oracleKeys;
    uint256 private _gpuSet;

    address internal owner = makeAddr("owner");
    address internal treasury = makeAddr("treasury");
    uint256 internal providerKey;
    address internal provider;
    uint256 internal renterKey;
    address internal renter;
    uint256 internal buyerKey;
    address internal buyer;

    function setUp() public virtual {
        vm.warp(T0);
        (provider, providerKey) = makeAddrAndKey("provider");
        (renter, renterKey) = makeAddrAndKey("renter");
        (buyer, buyerKey) = makeAddrAndKey("buyer");

        usdc = new MockUSDC();
        _deployMarket(FEE_BPS, treasury);
        oracleKeys = _sortedKeys("oracle signer", 3);
        oracle = new AttestationOracle(owner, _addrs(oracleKeys), 2, MAX_DELAY);
        _deploySettlement();

        _fund(provider);
        _fund(renter);
        _fund(buyer);
        _fund(treasury);
    }

    /// @dev Escrow, GpuHours and Exchange on `usdc`, each naming the others at the addresses they are
    ///      deployed to, with `feeBps_` and `treasury_`.
    function _deployMarket(uint16 feeBps_, address treasury_) internal {
        uint64 nonce = vm.getNonce(address(this));
        address hoursAt = vm.computeCreateAddress(address(this), nonce + 1);
        address exchangeAt = vm.computeCreateAddress(address(this), nonce + 2);
        escrow = new Escrow(usdc, hoursAt, exchangeAt, treasury_, feeBps_);
        gpuHours = new GpuHours(escrow, exchangeAt, owner, "https://gpuhours.local/capacity/{id}.json");
        exchange = new Exchange(usdc, gpuHours, escrow);
    }

    /// @dev Settlement on the market and `oracle`, wired in as GpuHours' settlement.
    function _deploySettlement() internal {
        settlement = new Settlement(gpuHours, escrow, oracle, owner, _defaultSla());
        vm.prank(owner);
        gpuHours.setSettlement(address(settlement));
    }

    /// @dev Fee and treasury are immutable: a protocol with another fee is another deployment. Deploys
    ///      the market and Settlement again (same stablecoin and oracle) with `feeBps_` and `treasury_`,
    ///      and the actors approve the new contracts.
    function _redeploy(uint16 feeBps_, address treasury_) internal virtual {
        _deployMarket(feeBps_, treasury_);
        _deploySettlement();
        treasury = treasury_;
        _approve(provider);
        _approve(renter);
        _approve(buyer);
        _approve(treasury_);
    }

    /// @dev The SLA capacities are created under. No slash by default, so no bond is required.
    function _defaultSla() internal pure virtual returns (Sla memory) {
        return Sla({minUptimeBps: 9_000, minGflopsPerJoule: 0, graceHours: 1, slashPerGpuHour: 0});
    }

    /// @dev A GPU UUID hash no node has registered yet.
    function _gpus() internal returns (bytes32) {
        return keccak256(abi.encode("uuids", ++_gpuSet));
    }

    function _fund(address who) internal {
        usdc.mint(who, 1_000_000 * USDC);
        _approve(who);
    }

    /// @dev `who` lets the exchange and the escrow take its stablecoin.
    function _approve(address who) internal {
        vm.startPrank(who);
        usdc.approve(address(exchange), type(uint256).max);
        usdc.approve(address(escrow), type(uint256).max);
        vm.stopPrank();
    }

    /// @dev Registers an 8-GPU node for `who` and opens a window of `hours_` hours from the next hour,
    ///      backed by `BACKING` a unit.
    function _capacity(address who, uint256 hours_, uint256 bond) internal returns (uint64 nodeId, uint256 id) {
        return _capacityBacked(who, hours_, BACKING, bond);
    }

    function _capacityBacked(address who, uint256 hours_, uint96 backing, uint256 bond)
        internal
        returns (uint64 nodeId, uint256 id)
    {
        bytes32 gpus = _gpus();
        vm.startPrank(who);
        nodeId = gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", gpus);
        uint40 start = uint40(block.timestamp - (block.timestamp % 1 hours) + 1 hours);
        id = gpuHours.createCapacity(nodeId, start, uint40(start + hours_ * 1 hours), backing, bond);
        vm.stopPrank();
    }

    function _order(address maker, OrderKind kind, uint256 id, uint256 amount, uint256 price)
        internal
        view
        returns (Order memory)
    {
        return Order({
            maker: maker,
            kind: kind,
            capacityId: id,
            amount: amount,
            price: price,
            expiry: block.timestamp + 1 days,
            salt: uint256(keccak256(abi.encode(maker, kind, id, amount, price))),
            counter: exchange.counter(maker)
        });
    }

    function _sign(uint256 key, Order memory o) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, exchange.hashOrder(o));
        return abi.encodePacked(r, s, v);
    }
}
