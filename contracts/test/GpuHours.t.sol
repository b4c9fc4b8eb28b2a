// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";

import {Fixtures} from "./utils/Fixtures.sol";
import {GpuHours} from "../src/GpuHours.sol";
import {IGpuHours, Node, Capacity, Booking, Terms, CapacityStatus, CloseReason} from "../src/interfaces/IGpuHours.sol";
import {IEscrow, Funds} from "../src/interfaces/IEscrow.sol";
import {Sla} from "../src/interfaces/ISettlement.sol";
import {BookingId, makeBookingId} from "../src/libraries/BookingId.sol";

contract GpuHoursTest is Fixtures {
    uint256 internal constant WINDOW = 72; // hours: three 32-hour words, the last partly used
    uint256 internal constant MAX_HOURS = 90 * 24;

    uint64 internal nodeId;
    uint256 internal id;
    uint40 internal start;
    uint40 internal end;
    address internal settler;

    function setUp() public override {
        super.setUp();
        settler = address(settlement);
        (nodeId, id) = _capacity(provider, WINDOW, 0);
        start = _start(id);
        end = _end(id);
    }

    function _bookingId(uint256 capacityId, uint256 hourIndex, uint256 heldBefore) internal pure returns (uint256) {
        return capacityId << 24 | hourIndex << 8 | heldBefore;
    }

    function _hour(uint256 i) internal view returns (uint40) {
        return uint40(start + i * 1 hours);
    }

    function _activate(address who, uint256 hourIndex, uint16 hours_, uint8 gpus) internal returns (uint256) {
        vm.prank(who);
        return gpuHours.activate(id, _hour(hourIndex), hours_, gpus);
    }

    function _cancel() internal {
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
    }

    function _sla(uint64 slash) internal pure returns (Sla memory) {
        return Sla({minUptimeBps: 9_500, minGflopsPerJoule: 800, graceHours: 2, slashPerGpuHour: slash});
    }

    /// @dev The terms Base's default SLA records, with `backing`.
    function _defaultTerms(uint96 backing) internal pure returns (Terms memory) {
        return Terms({
            backing: backing,
            slashPerGpuHour: 0,
            maxDelay: uint32(MAX_DELAY),
            minUptimeBps: 9_000,
            minGflopsPerJoule: 0,
            graceHours: 1
        });
    }

    function _assertTerms(Terms memory t, Terms memory want) internal pure {
        assertEq(t.backing, want.backing, "backing");
        assertEq(t.slashPerGpuHour, want.slashPerGpuHour, "slashPerGpuHour");
        assertEq(t.maxDelay, want.maxDelay, "maxDelay");
        assertEq(t.minUptimeBps, want.minUptimeBps, "minUptimeBps");
        assertEq(t.minGflopsPerJoule, want.minGflopsPerJoule, "minGflopsPerJoule");
        assertEq(t.graceHours, want.graceHours, "graceHours");
    }

    /// @dev Under an SLA slashing `slash` a GPU-hour, opens 10 hours of the node after the first
    ///      window (80 units) with the minimum bond, 80 × slash.
    function _slashingCapacity(uint64 slash) internal returns (uint256 id2) {
        vm.prank(owner);
        settlement.setSla(_sla(slash));
        vm.prank(provider);
        id2 = gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 80 * uint256(slash));
    }

    // ================================================================ node registry

    function test_registerNode_storesNode() public {
        vm.prank(renter);
        uint64 n = gpuHours.registerNode("A100", 4, 40, "us-east", "PCIe", bytes32(uint256(7)));
        Node memory node = gpuHours.node(n);
        assertEq(node.owner, renter);
        assertEq(node.gpuCount, 4);
        assertEq(node.vramGb, 40);
        assertEq(node.lastWindowEnd, 0);
        assertEq(node.gpuModel, "A100");
        assertEq(node.region, "us-east");
        assertEq(node.interconnect, "PCIe");
        assertEq(node.gpuUuidsHash, bytes32(uint256(7)));
    }

    function test_registerNode_idsCountFromOne() public {
        assertEq(nodeId, 1);
        assertEq(_node(renter), 2);
        assertEq(_node(provider), 3);
        assertEq(gpuHours.nodeCount(), 3);
    }

    function test_registerNode_emitsNodeRegistered() public {
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.NodeRegistered(2, renter, "A100", 255, 40, "us-east", "PCIe", bytes32(uint256(7)));
        vm.prank(renter);
        gpuHours.registerNode("A100", 255, 40, "us-east", "PCIe", bytes32(uint256(7)));
    }

    function test_registerNode_revertsZeroGpus() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidGpuCount.selector, 0));
        vm.prank(renter);
        gpuHours.registerNode("A100", 0, 40, "us-east", "PCIe", bytes32(0));
    }

    function test_registerNode_recordsGpuSet() public {
        bytes32 h = gpuHours.node(nodeId).gpuUuidsHash;
        assertEq(gpuHours.nodeOfGpus(h), nodeId);
        assertEq(gpuHours.nodeOfGpus(keccak256("never registered")), 0);
        vm.prank(renter);
        uint64 n = gpuHours.registerNode("A100", 4, 40, "us-east", "PCIe", bytes32(uint256(7)));
        assertEq(gpuHours.nodeOfGpus(bytes32(uint256(7))), n);
    }

    function test_registerNode_revertsGpusAlreadyRegistered() public {
        bytes32 h = gpuHours.node(nodeId).gpuUuidsHash;
        // Nobody, the node's own owner included, can register the same GPUs as a second node.
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.GpusAlreadyRegistered.selector, h, nodeId));
        vm.prank(renter);
        gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", h);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.GpusAlreadyRegistered.selector, h, nodeId));
        vm.prank(provider);
        gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", h);
        // Handing the node over does not free its GPUs either.
        vm.prank(provider);
        gpuHours.transferNode(nodeId, renter);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.GpusAlreadyRegistered.selector, h, nodeId));
        vm.prank(provider);
        gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", h);
        assertEq(gpuHours.nodeCount(), 1);
    }

    function test_transferNode_movesOwnership() public {
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.NodeTransferred(nodeId, provider, renter);
        vm.prank(provider);
        gpuHours.transferNode(nodeId, renter);
        assertEq(gpuHours.node(nodeId).owner, renter);
    }

    function test_transferNode_capacitiesFollowTheNode() public {
        vm.prank(provider);
        gpuHours.transferNode(nodeId, renter);
        assertEq(gpuHours.providerOf(id), renter);

        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotNodeOwner.selector, nodeId, provider));
        vm.prank(provider);
        gpuHours.cancelCapacity(id);

        vm.prank(renter);
        gpuHours.cancelCapacity(id);
        assertEq(uint8(gpuHours.capacity(id).status), uint8(CapacityStatus.Cancelled));
    }

    function test_transferNode_revertsZeroAddress() public {
        vm.expectRevert(IGpuHours.ZeroAddress.selector);
        vm.prank(provider);
        gpuHours.transferNode(nodeId, address(0));
    }

    function test_transferNode_revertsNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotNodeOwner.selector, nodeId, renter));
        vm.prank(renter);
        gpuHours.transferNode(nodeId, renter);
    }

    function test_transferNode_revertsUnknownNode() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownNode.selector, uint64(99)));
        vm.prank(provider);
        gpuHours.transferNode(99, renter);
    }

    // ================================================================ admin

    function test_constructor_revertsZeroEscrow() public {
        vm.expectRevert(IGpuHours.ZeroAddress.selector);
        new GpuHours(IEscrow(address(0)), address(exchange), owner, "");
    }

    function test_constructor_revertsZeroExchange() public {
        vm.expectRevert(IGpuHours.ZeroAddress.selector);
        new GpuHours(escrow, address(0), owner, "");
    }

    function test_constructor_wiring() public view {
        assertEq(address(gpuHours.escrow()), address(escrow));
        assertEq(gpuHours.exchange(), address(exchange));
        assertEq(gpuHours.owner(), owner);
        assertEq(gpuHours.MAX_WINDOW_HOURS(), MAX_HOURS);
    }

    function test_setMinBondPerUnit_setsAndEmits() public {
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.MinBondPerUnitSet(3 * USDC);
        vm.prank(owner);
        gpuHours.setMinBondPerUnit(3 * USDC);
        assertEq(gpuHours.minBondPerUnit(), 3 * USDC);
    }

    function test_setMinBondPerUnit_revertsNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, provider));
        vm.prank(provider);
        gpuHours.setMinBondPerUnit(1);
    }

    function test_setURI_setsUri() public {
        vm.prank(owner);
        gpuHours.setURI("ipfs://x/{id}");
        assertEq(gpuHours.uri(id), "ipfs://x/{id}");
    }

    function test_setURI_revertsNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, renter));
        vm.prank(renter);
        gpuHours.setURI("x");
    }

    function test_supportsInterface_erc1155() public view {
        assertTrue(gpuHours.supportsInterface(type(IERC1155).interfaceId));
        assertTrue(gpuHours.supportsInterface(type(IERC1155MetadataURI).interfaceId));
    }

    // ================================================================ createCapacity

    function test_createCapacity_storesCapacity() public view {
        Capacity memory c = gpuHours.capacity(id);
        assertEq(c.nodeId, nodeId);
        assertEq(c.start, T0 + 1 hours);
        assertEq(c.end, T0 + 1 hours + WINDOW * 1 hours);
        assertEq(c.gpuCount, 8);
        assertEq(uint8(c.status), uint8(CapacityStatus.Active));
        assertEq(uint8(c.closeReason), uint8(CloseReason.None));
        assertEq(c.minted, 0);
        assertEq(c.retired, 0);
        assertEq(gpuHours.supplyCap(id), 8 * WINDOW);
        assertEq(gpuHours.providerOf(id), provider);
        assertEq(gpuHours.node(nodeId).lastWindowEnd, end);
        assertEq(gpuHours.capacityCount(), 1);
    }

    function test_createCapacity_pullsBondIntoEscrow() public {
        uint40 s = end;
        uint40 e = s + 10 hours;
        uint256 before = usdc.balanceOf(provider);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.CapacityCreated(2, nodeId, provider, s, e, 80, 50 * USDC, _defaultTerms(BACKING));
        vm.expectEmit(address(escrow));
        emit IEscrow.BondPosted(2, provider, 50 * USDC);
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, s, e, BACKING, 50 * USDC);
        assertEq(id2, 2);
        assertEq(escrow.funds(id2).bond, 50 * USDC);
        assertEq(usdc.balanceOf(address(escrow)), 50 * USDC);
        assertEq(usdc.balanceOf(provider), before - 50 * USDC);
    }

    function test_createCapacity_zeroBondPostsNothing() public view {
        Funds memory f = escrow.funds(id);
        assertEq(f.bond, 0);
        assertEq(usdc.balanceOf(address(escrow)), 0);
    }

    function test_createCapacity_startInCurrentHour() public {
        uint64 n = _node(provider);
        vm.warp(T0 + 30 minutes);
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(n, uint40(T0), uint40(T0 + 1 hours), BACKING, 0);
        assertEq(gpuHours.capacity(id2).start, T0);
    }

    function test_createCapacity_revertsStartNotOnHour() public {
        uint64 n = _node(provider);
        uint40 s = uint40(T0 + 1 hours + 1);
        uint40 e = uint40(T0 + 3 hours);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidWindow.selector, s, e, MAX_HOURS));
        vm.prank(provider);
        gpuHours.createCapacity(n, s, e, BACKING, 0);
    }

    function test_createCapacity_revertsEndNotOnHour() public {
        uint64 n = _node(provider);
        uint40 s = uint40(T0 + 1 hours);
        uint40 e = uint40(T0 + 3 hours - 1);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidWindow.selector, s, e, MAX_HOURS));
        vm.prank(provider);
        gpuHours.createCapacity(n, s, e, BACKING, 0);
    }

    function test_createCapacity_revertsStartInPastHour() public {
        uint64 n = _node(provider);
        vm.warp(T0 + 30 minutes);
        uint40 s = uint40(T0 - 1 hours);
        uint40 e = uint40(T0 + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidWindow.selector, s, e, MAX_HOURS));
        vm.prank(provider);
        gpuHours.createCapacity(n, s, e, BACKING, 0);
    }

    function test_createCapacity_revertsEmptyWindow() public {
        uint64 n = _node(provider);
        uint40 s = uint40(T0 + 2 hours);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidWindow.selector, s, s, MAX_HOURS));
        vm.prank(provider);
        gpuHours.createCapacity(n, s, s, BACKING, 0);
    }

    function test_createCapacity_revertsEndBeforeStart() public {
        uint64 n = _node(provider);
        uint40 s = uint40(T0 + 2 hours);
        uint40 e = uint40(T0 + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidWindow.selector, s, e, MAX_HOURS));
        vm.prank(provider);
        gpuHours.createCapacity(n, s, e, BACKING, 0);
    }

    function test_createCapacity_ninetyDaysAllowed() public {
        uint64 n = _node(provider);
        uint40 s = uint40(T0 + 1 hours);
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(n, s, uint40(s + 90 days), BACKING, 0);
        assertEq(gpuHours.supplyCap(id2), 8 * MAX_HOURS);
    }

    function test_createCapacity_revertsOverNinetyDays() public {
        uint64 n = _node(provider);
        uint40 s = uint40(T0 + 1 hours);
        uint40 e = uint40(s + 90 days + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidWindow.selector, s, e, MAX_HOURS));
        vm.prank(provider);
        gpuHours.createCapacity(n, s, e, BACKING, 0);
    }

    function test_createCapacity_revertsOverlap() public {
        uint40 s = end - 1 hours;
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.WindowOverlaps.selector, nodeId, s, end));
        vm.prank(provider);
        gpuHours.createCapacity(nodeId, s, end + 5 hours, BACKING, 0);
    }

    function test_createCapacity_adjacentWindowAllowed() public {
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, end, end + 1 hours, BACKING, 0);
        assertEq(gpuHours.capacity(id2).start, end);
        assertEq(gpuHours.node(nodeId).lastWindowEnd, end + 1 hours);
    }

    function test_createCapacity_revertsUnknownNode() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownNode.selector, uint64(7)));
        vm.prank(provider);
        gpuHours.createCapacity(7, end, end + 1 hours, BACKING, 0);
    }

    function test_createCapacity_revertsNotNodeOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotNodeOwner.selector, nodeId, renter));
        vm.prank(renter);
        gpuHours.createCapacity(nodeId, end, end + 1 hours, BACKING, 0);
    }

    function test_createCapacity_revertsBondTooLow() public {
        vm.prank(owner);
        gpuHours.setMinBondPerUnit(USDC);
        // 8 GPUs x 10 hours = 80 units, so the minimum is 80 USDC.
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BondTooLow.selector, 80 * USDC - 1, 80 * USDC));
        vm.prank(provider);
        gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 80 * USDC - 1);
    }

    function test_createCapacity_bondAtMinimum() public {
        vm.prank(owner);
        gpuHours.setMinBondPerUnit(USDC);
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 80 * USDC);
        assertEq(escrow.funds(id2).bond, 80 * USDC);
    }

    function test_createCapacity_bondCoversFullSlash() public {
        // minBondPerUnit 1 USDC, slash 2 USDC a GPU-hour: the minimum is 80 × 2 USDC.
        vm.startPrank(owner);
        gpuHours.setMinBondPerUnit(USDC);
        settlement.setSla(_sla(2e6));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BondTooLow.selector, 160 * USDC - 1, 160 * USDC));
        vm.prank(provider);
        gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 160 * USDC - 1);
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 160 * USDC);
        assertEq(escrow.funds(id2).bond, 160 * USDC);
    }

    function test_createCapacity_bondMinimumPerUnitAboveSlash() public {
        // minBondPerUnit 3 USDC above a 2 USDC slash: the minimum is 80 × 3 USDC.
        vm.startPrank(owner);
        gpuHours.setMinBondPerUnit(3 * USDC);
        settlement.setSla(_sla(2e6));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BondTooLow.selector, 240 * USDC - 1, 240 * USDC));
        vm.prank(provider);
        gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 240 * USDC - 1);
    }

    function test_createCapacity_revertsZeroBacking() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBacking.selector, 0));
        vm.prank(provider);
        gpuHours.createCapacity(nodeId, end, end + 1 hours, 0, 0);
    }

    function test_createCapacity_maxBacking() public {
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, end, end + 1 hours, type(uint96).max, 0);
        assertEq(gpuHours.terms(id2).backing, type(uint96).max);
    }

    function test_createCapacity_revertsSettlementNotSet() public {
        GpuHours fresh = new GpuHours(escrow, address(exchange), owner, "");
        vm.startPrank(provider);
        uint64 n = fresh.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", _gpus());
        vm.expectRevert(IGpuHours.SettlementNotSet.selector);
        fresh.createCapacity(n, start, end, BACKING, 0);
        vm.stopPrank();
    }

    function test_createCapacity_recordsTerms() public view {
        _assertTerms(gpuHours.terms(id), _defaultTerms(BACKING));
        assertEq(gpuHours.terms(9).backing, 0); // unknown: empty
    }

    function test_createCapacity_recordsSlaInForce() public {
        vm.prank(owner);
        settlement.setSla(_sla(3e6));
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, end, end + 1 hours, 7, 24 * USDC);
        _assertTerms(
            gpuHours.terms(id2),
            Terms({
                backing: 7,
                slashPerGpuHour: 3e6,
                maxDelay: uint32(MAX_DELAY),
                minUptimeBps: 9_500,
                minGflopsPerJoule: 800,
                graceHours: 2
            })
        );
    }

    /// @dev Attack: the owner changes the SLA after units were sold. The capacity keeps its terms.
    function test_setSla_afterSaleLeavesTermsUnchanged() public {
        _buyPrimary(renter, id, 10, PRICE);
        vm.prank(owner);
        settlement.setSla(Sla({minUptimeBps: 0, minGflopsPerJoule: 0, graceHours: 255, slashPerGpuHour: 0}));
        _assertTerms(gpuHours.terms(id), _defaultTerms(BACKING));
        vm.prank(owner);
        settlement.setSla(_sla(type(uint64).max));
        _assertTerms(gpuHours.terms(id), _defaultTerms(BACKING));
    }

    /// @dev Attack: the owner drops the slash after a sale to spare the provider a cancel penalty.
    function test_setSla_afterSaleKeepsCancelPenalty() public {
        uint256 id2 = _slashingCapacity(1e6);
        _buyPrimary(renter, id2, 10, PRICE);
        vm.prank(owner);
        settlement.setSla(_sla(0));
        assertEq(gpuHours.terms(id2).slashPerGpuHour, 1e6);
        vm.expectEmit(address(escrow));
        emit IEscrow.RefundsOpened(id2, 10, 1e6);
        vm.prank(provider);
        gpuHours.cancelCapacity(id2);
        // 80 USDC bond: 10 USDC kept for the 10 units sold, 70 back to the provider.
        assertEq(escrow.claimable(provider), 70 * USDC);
        vm.prank(renter);
        gpuHours.redeemCancelled(id2, 10);
        assertEq(escrow.claimable(renter), 10 * (uint256(BACKING) + 1e6));
    }

    /// @dev And raising it after a sale takes no more of the provider's bond than its terms say.
    function test_setSla_raisedAfterSaleDoesNotOverslash() public {
        uint256 id2 = _slashingCapacity(1e6);
        _buyPrimary(renter, id2, 10, PRICE);
        vm.prank(owner);
        settlement.setSla(_sla(8e6));
        vm.prank(provider);
        gpuHours.cancelCapacity(id2);
        assertEq(escrow.funds(id2).penaltyPerUnit, 1e6);
        assertEq(escrow.claimable(provider), 70 * USDC);
    }

    // ================================================================ cancelCapacity

    function test_cancelCapacity_beforeStartClosesIt() public {
        _buyPrimary(renter, id, 5, PRICE);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.CapacityCancelled(id, 5);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.CapacityClosed(id, CloseReason.ProviderCancelled);
        _cancel();
        Capacity memory c = gpuHours.capacity(id);
        assertEq(uint8(c.status), uint8(CapacityStatus.Cancelled));
        assertEq(uint8(c.closeReason), uint8(CloseReason.ProviderCancelled));
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 5 * BACKING);
        assertEq(f.penaltyPerUnit, 0); // no slash in the default SLA
    }

    function test_cancelCapacity_creditsBondBackToProvider() public {
        vm.prank(provider);
        uint256 id2 = gpuHours.createCapacity(nodeId, end, end + 10 hours, BACKING, 50 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.BondReturned(id2, provider, 50 * USDC);
        vm.prank(provider);
        gpuHours.cancelCapacity(id2);
        assertEq(escrow.funds(id2).bond, 0);
        assertEq(escrow.claimable(provider), 50 * USDC);

        uint256 before = usdc.balanceOf(provider);
        vm.prank(provider);
        escrow.withdraw(provider);
        assertEq(usdc.balanceOf(provider), before + 50 * USDC);
        assertEq(usdc.balanceOf(address(escrow)), 0);
    }

    function test_cancelCapacity_oneSecondBeforeStart() public {
        vm.warp(start - 1);
        _cancel();
        assertEq(uint8(gpuHours.capacity(id).status), uint8(CapacityStatus.Cancelled));
    }

    function test_cancelCapacity_revertsAtWindowStart() public {
        vm.warp(start);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.WindowStarted.selector, id, start));
        _cancel();
    }

    function test_cancelCapacity_revertsNotProvider() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotNodeOwner.selector, nodeId, renter));
        vm.prank(renter);
        gpuHours.cancelCapacity(id);
    }

    function test_cancelCapacity_revertsUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 9));
        vm.prank(provider);
        gpuHours.cancelCapacity(9);
    }

    function test_cancelCapacity_revertsTwice() public {
        _cancel();
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Cancelled));
        _cancel();
    }

    // ================================================================ redeemCancelled

    function test_redeemCancelled_refundsTheBacking() public {
        _buyPrimary(renter, id, 10, PRICE);
        _cancel();
        uint256 backing = 10 * uint256(BACKING);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.HoursRedeemed(id, renter, 10);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 10, backing);
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 10);
        assertEq(gpuHours.balanceOf(renter, id), 0);
        assertEq(escrow.claimable(renter), backing);
        assertEq(gpuHours.capacity(id).retired, 10);
        assertEq(gpuHours.totalSupply(id), 0);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
    }

    function test_redeemCancelled_sameRefundWhateverThePrice() public {
        // 4 units at 3.00 and 4 units at 1.00: every unit gets its 2.10 backing back, whatever its
        // buyer paid (the premium is forfeited to the treasury, the discount was topped up by it).
        _buyPrimary(renter, id, 4, 3 * USDC);
        _buyPrimary(buyer, id, 4, USDC);
        _cancel();
        assertEq(escrow.claimable(treasury), 4 * (3 * USDC - uint256(BACKING)), "premium forfeited");
        assertEq(escrow.claimable(provider), 0, "no bond, no premium back");
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 4);
        vm.prank(buyer);
        gpuHours.redeemCancelled(id, 4);
        assertEq(escrow.claimable(renter), 4 * uint256(BACKING));
        assertEq(escrow.claimable(buyer), 4 * uint256(BACKING));
        assertEq(escrow.funds(id).backing, 0);
    }

    function test_redeemCancelled_paysPenaltyFromBond() public {
        uint256 id2 = _slashingCapacity(1e6);
        _buyPrimary(renter, id2, 10, PRICE);
        _buyPrimary(buyer, id2, 6, PRICE);
        vm.prank(provider);
        gpuHours.cancelCapacity(id2);
        // 16 units sold: 16 USDC of the 80 USDC bond kept for them, 64 USDC back to the provider.
        assertEq(escrow.claimable(provider), 64 * USDC);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id2, buyer, 3, 3 * uint256(BACKING));
        vm.expectEmit(address(escrow));
        emit IEscrow.BondSlashed(id2, buyer, 3e6);
        vm.prank(buyer);
        gpuHours.redeemCancelled(id2, 3);
        vm.prank(renter);
        gpuHours.redeemCancelled(id2, 10);
        vm.prank(buyer);
        gpuHours.redeemCancelled(id2, 3);
        assertEq(escrow.claimable(renter), 10 * (uint256(BACKING) + 1e6));
        assertEq(escrow.claimable(buyer), 6 * (uint256(BACKING) + 1e6));
        Funds memory f = escrow.funds(id2);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
        assertEq(usdc.balanceOf(address(escrow)), 16 * (uint256(BACKING) + 1e6) + 64 * USDC);
    }

    function test_redeemCancelled_zeroUnitsOfEmptyPot() public {
        _cancel();
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 0);
        assertEq(escrow.claimable(renter), 0);
    }

    function test_redeemCancelled_withdrawPaysOut() public {
        _buyPrimary(renter, id, 10, PRICE);
        _cancel();
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 10);
        uint256 before = usdc.balanceOf(renter);
        vm.prank(renter);
        escrow.withdraw(renter);
        assertEq(usdc.balanceOf(renter), before + 10 * uint256(BACKING));
        assertEq(usdc.balanceOf(address(escrow)), 0);
    }

    function test_redeemCancelled_revertsWhileActive() public {
        _buyPrimary(renter, id, 1, PRICE);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Active));
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 1);
    }

    function test_redeemCancelled_revertsUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 9));
        vm.prank(renter);
        gpuHours.redeemCancelled(9, 1);
    }

    function test_redeemCancelled_revertsBeyondBalance() public {
        _buyPrimary(renter, id, 2, PRICE);
        _cancel();
        vm.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, renter, 2, 3, id));
        vm.prank(renter);
        gpuHours.redeemCancelled(id, 3);
    }

    // ================================================================ refundBooking

    function test_refundBooking_refundsTheBookingHolder() public {
        _buyPrimary(renter, id, 6, PRICE);
        uint256 bookingId = _activate(renter, 0, 3, 2);
        _cancel();
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.BookingClosed(bookingId, id, CloseReason.ProviderCancelled);
        vm.expectEmit(address(escrow));
        emit IEscrow.Refunded(id, renter, 6, 6 * uint256(BACKING));
        vm.prank(buyer); // anyone may close it; the refund goes to the holder
        gpuHours.refundBooking(bookingId);
        assertEq(escrow.claimable(renter), 6 * uint256(BACKING));
        assertEq(escrow.claimable(buyer), 0);
        assertEq(uint8(gpuHours.booking(bookingId).closeReason), uint8(CloseReason.ProviderCancelled));
    }

    function test_refundBooking_tokensAndBookingsRefundTheirBacking() public {
        _buyPrimary(renter, id, 6, PRICE);
        uint256 fee = _buyPrimary(buyer, id, 3, PRICE + 7); // 21 premium, held; no fee on the sale
        assertEq(fee, 0);
        assertEq(escrow.funds(id).premium, 21);
        uint256 bookingId = _activate(renter, 5, 2, 2); // 4 of the renter's 6 units
        _cancel();

        vm.prank(renter);
        gpuHours.redeemCancelled(id, 2);
        vm.prank(buyer);
        gpuHours.redeemCancelled(id, 3);
        gpuHours.refundBooking(bookingId);

        assertEq(escrow.claimable(renter), 6 * uint256(BACKING));
        assertEq(escrow.claimable(buyer), 3 * uint256(BACKING));
        // Cancelled: the whole premium is forfeited to the treasury, none of it to the provider.
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 21);
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 0);
        assertEq(f.bond, 0);
        assertEq(f.premium, 0);
        assertEq(usdc.balanceOf(address(escrow)), 9 * uint256(BACKING) + 21);
    }

    function test_refundBooking_revertsTwice() public {
        _buyPrimary(renter, id, 1, PRICE);
        uint256 bookingId = _activate(renter, 0, 1, 1);
        _cancel();
        gpuHours.refundBooking(bookingId);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BookingNotOpen.selector, bookingId));
        gpuHours.refundBooking(bookingId);
    }

    function test_refundBooking_revertsUnknownBooking() public {
        uint256 bookingId = _bookingId(id, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BookingNotOpen.selector, bookingId));
        gpuHours.refundBooking(bookingId);
    }

    function test_refundBooking_revertsWhileActive() public {
        _buyPrimary(renter, id, 1, PRICE);
        uint256 bookingId = _activate(renter, 0, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Active));
        gpuHours.refundBooking(bookingId);
    }

    // ================================================================ activate

    function test_activate_burnsAndBooks() public {
        _mintAsExchange(renter, id, 40);
        uint256 bookingId = _activate(renter, 2, 5, 3);
        assertEq(gpuHours.balanceOf(renter, id), 25);
        assertEq(gpuHours.bookedUnits(id), 15);
        assertEq(gpuHours.totalSupply(id), 25);
        assertEq(gpuHours.bookedAt(id, _hour(1)), 0);
        for (uint256 h = 2; h < 7; ++h) {
            assertEq(gpuHours.bookedAt(id, _hour(h)), 3);
        }
        assertEq(gpuHours.bookedAt(id, _hour(7)), 0);

        Booking memory b = gpuHours.booking(bookingId);
        assertEq(b.holder, renter);
        assertEq(b.start, _hour(2));
        assertEq(b.hours_, 5);
        assertEq(b.gpus, 3);
        assertEq(uint8(b.closeReason), uint8(CloseReason.None));
        // Activation never writes the capacity slot.
        assertEq(gpuHours.capacity(id).retired, 0);
        assertEq(gpuHours.capacity(id).minted, 40);
    }

    function test_activate_emitsHoursActivated() public {
        _mintAsExchange(renter, id, 8);
        uint40 h = _hour(4);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.HoursActivated(_bookingId(id, 4, 0), id, renter, h, 4, 2);
        vm.prank(renter);
        gpuHours.activate(id, h, 4, 2);
    }

    function test_bookingId_accessors() public {
        _mintAsExchange(renter, id, 100);
        _activate(renter, 33, 1, 3);
        uint256 raw = _activate(renter, 33, 2, 1);
        BookingId b = BookingId.wrap(raw);
        assertEq(b.capacityId(), id);
        assertEq(b.firstHour(), 33);
        assertEq(BookingId.unwrap(makeBookingId(id, 33, 3)), raw);
        // Widest fields: the last hour of a 90-day window, 255 GPUs before it, a large capacity id.
        BookingId big = makeBookingId(type(uint64).max, MAX_HOURS - 1, 255);
        assertEq(big.capacityId(), type(uint64).max);
        assertEq(big.firstHour(), MAX_HOURS - 1);
        assertEq(BookingId.unwrap(big) & 0xff, 255);
    }

    function test_activate_bookingIdLayout() public {
        _mintAsExchange(renter, id, 100);
        assertEq(_activate(renter, 33, 1, 3), _bookingId(id, 33, 0));
        // A second booking from the same hour carries the 3 GPUs booked there before it.
        assertEq(_activate(renter, 33, 2, 1), _bookingId(id, 33, 3));
        assertEq(_activate(renter, 33, 1, 4), _bookingId(id, 33, 4));
        assertEq(_activate(renter, 0, 1, 1), _bookingId(id, 0, 0));
        assertEq(_bookingId(id, 33, 3), (id << 24) | (33 << 8) | 3);
    }

    function test_activate_acrossWordBoundary() public {
        _mintAsExchange(renter, id, 200);
        _activate(renter, 28, 40, 2); // hours 28..67: words 0, 1 and 2
        assertEq(gpuHours.bookedAt(id, _hour(27)), 0);
        assertEq(gpuHours.bookedAt(id, _hour(28)), 2);
        assertEq(gpuHours.bookedAt(id, _hour(31)), 2);
        assertEq(gpuHours.bookedAt(id, _hour(32)), 2);
        assertEq(gpuHours.bookedAt(id, _hour(63)), 2);
        assertEq(gpuHours.bookedAt(id, _hour(64)), 2);
        assertEq(gpuHours.bookedAt(id, _hour(67)), 2);
        assertEq(gpuHours.bookedAt(id, _hour(68)), 0);
        assertEq(gpuHours.bookedUnits(id), 80);
    }

    function test_activate_fillsEveryGpu() public {
        _mintAsExchange(renter, id, 8 * WINDOW);
        _activate(renter, 0, uint16(WINDOW), 5);
        _activate(renter, 0, uint16(WINDOW), 3);
        assertEq(gpuHours.bookedUnits(id), 8 * WINDOW);
        assertEq(gpuHours.totalSupply(id), 0);
        assertEq(gpuHours.bookedAt(id, _hour(WINDOW - 1)), 8);
    }

    function test_activate_revertsOverbooked() public {
        _mintAsExchange(renter, id, 20);
        _activate(renter, 3, 1, 8);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.Overbooked.selector, id, _hour(3), 8, 1, 8));
        _activate(renter, 2, 2, 1);
    }

    function test_activate_revertsOverbookedInLaterWord() public {
        _mintAsExchange(renter, id, 100);
        _activate(renter, 40, 1, 7); // word 1
        // Hours 20..44 span words 0 and 1; word 0 fits, word 1 does not, at hour 40.
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.Overbooked.selector, id, _hour(40), 7, 2, 8));
        _activate(renter, 20, 25, 2);
        // The revert undid the first word's write and the burn.
        assertEq(gpuHours.bookedAt(id, _hour(20)), 0);
        assertEq(gpuHours.bookedAt(id, _hour(31)), 0);
        assertEq(gpuHours.balanceOf(renter, id), 93);
    }

    function test_activate_revertsOverbookedAtFirstFullHourOfWord() public {
        _mintAsExchange(renter, id, 100);
        _activate(renter, 35, 1, 8);
        _activate(renter, 37, 1, 8);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.Overbooked.selector, id, _hour(35), 8, 1, 8));
        _activate(renter, 30, 10, 1);
    }

    function test_activate_revertsMoreGpusThanNode() public {
        _mintAsExchange(renter, id, 9);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.Overbooked.selector, id, _hour(0), 0, 9, 8));
        _activate(renter, 0, 1, 9);
    }

    function test_activate_inCurrentHour() public {
        _mintAsExchange(renter, id, 8);
        vm.warp(start + 90 minutes);
        uint256 bookingId = _activate(renter, 1, 1, 1);
        assertEq(gpuHours.booking(bookingId).start, _hour(1));
    }

    function test_activate_revertsZeroGpus() public {
        uint40 h = _hour(0);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBooking.selector, id, h, 1, 0));
        vm.prank(renter);
        gpuHours.activate(id, h, 1, 0);
    }

    function test_activate_revertsZeroHours() public {
        uint40 h = _hour(0);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBooking.selector, id, h, 0, 1));
        vm.prank(renter);
        gpuHours.activate(id, h, 0, 1);
    }

    function test_activate_revertsStartNotOnHour() public {
        _mintAsExchange(renter, id, 8);
        uint40 h = _hour(1) + 60;
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBooking.selector, id, h, 1, 1));
        vm.prank(renter);
        gpuHours.activate(id, h, 1, 1);
    }

    function test_activate_revertsBeforeWindow() public {
        _mintAsExchange(renter, id, 8);
        uint40 h = start - 1 hours;
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBooking.selector, id, h, 2, 1));
        vm.prank(renter);
        gpuHours.activate(id, h, 2, 1);
    }

    function test_activate_revertsPastHour() public {
        _mintAsExchange(renter, id, 8);
        vm.warp(_hour(3));
        uint40 h = _hour(2);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBooking.selector, id, h, 2, 1));
        vm.prank(renter);
        gpuHours.activate(id, h, 2, 1);
    }

    function test_activate_revertsPastWindowEnd() public {
        _mintAsExchange(renter, id, 8);
        uint40 h = _hour(WINDOW - 2);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.InvalidBooking.selector, id, h, 3, 1));
        vm.prank(renter);
        gpuHours.activate(id, h, 3, 1);
    }

    function test_activate_lastHourOfWindow() public {
        _mintAsExchange(renter, id, 8);
        _activate(renter, WINDOW - 2, 2, 1);
        assertEq(gpuHours.bookedAt(id, _hour(WINDOW - 1)), 1);
    }

    function test_activate_revertsInsufficientBalance() public {
        _mintAsExchange(renter, id, 5);
        vm.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, renter, 5, 6, id));
        _activate(renter, 0, 3, 2);
    }

    function test_activate_revertsCancelled() public {
        _cancel();
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Cancelled));
        _activate(renter, 0, 1, 1);
    }

    function test_activate_revertsClosed() public {
        vm.warp(end);
        vm.prank(settler);
        gpuHours.closeCapacity(id, CloseReason.Completed);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Closed));
        _activate(renter, 0, 1, 1);
    }

    function test_activate_revertsUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 9));
        vm.prank(renter);
        gpuHours.activate(9, uint40(start), 1, 1);
    }

    // ================================================================ settlement: expireHours / closeCapacity / closeBooking

    function test_setSettlement_onlyOnceAndOnlyOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.SettlementAlreadySet.selector, gpuHours.settlement()));
        vm.prank(owner);
        gpuHours.setSettlement(address(1));
        assertEq(gpuHours.settlement(), settler);
    }

    function test_setSettlement_revertsForNonOwner() public {
        GpuHours fresh = new GpuHours(escrow, address(exchange), owner, "");
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, renter));
        vm.prank(renter);
        fresh.setSettlement(address(1));
        vm.expectRevert(IGpuHours.ZeroAddress.selector);
        vm.prank(owner);
        fresh.setSettlement(address(0));
    }

    function test_expireHours_burnsWhatIsLeftAfterEnd() public {
        _mintAsExchange(renter, id, 10);
        _mintAsExchange(buyer, id, 4);
        _activate(renter, 0, 2, 1);
        vm.warp(end);
        address[] memory holders = new address[](3);
        holders[0] = renter;
        holders[1] = treasury; // holds none: skipped
        holders[2] = buyer;
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.HoursExpired(id, renter, 8);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.HoursExpired(id, buyer, 4);
        vm.prank(settler);
        gpuHours.expireHours(id, holders);
        assertEq(gpuHours.balanceOf(renter, id), 0);
        assertEq(gpuHours.balanceOf(buyer, id), 0);
        assertEq(gpuHours.capacity(id).retired, 12);
        assertEq(gpuHours.totalSupply(id), 0);
        assertEq(gpuHours.bookedUnits(id), 2);
    }

    function test_expireHours_revertsForOthers() public {
        vm.warp(end);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.OnlySettlement.selector, renter));
        vm.prank(renter);
        gpuHours.expireHours(id, new address[](0));
    }

    function test_expireHours_revertsBeforeEnd() public {
        vm.warp(end - 1);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.WindowNotEnded.selector, id, end));
        vm.prank(settler);
        gpuHours.expireHours(id, new address[](0));
    }

    function test_expireHours_revertsAfterClose() public {
        _mintAsExchange(renter, id, 3);
        vm.warp(end);
        vm.startPrank(settler);
        gpuHours.closeCapacity(id, CloseReason.Completed);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Closed));
        gpuHours.expireHours(id, new address[](0));
        vm.stopPrank();
    }

    function test_expireHours_revertsCancelled() public {
        _cancel();
        vm.warp(end);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Cancelled));
        vm.prank(settler);
        gpuHours.expireHours(id, new address[](0));
    }

    function test_expireHours_revertsUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 9));
        vm.prank(settler);
        gpuHours.expireHours(9, new address[](0));
    }

    function test_closeCapacity_afterEndWithReason() public {
        vm.warp(end);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.CapacityClosed(id, CloseReason.ProviderFailed);
        vm.prank(settler);
        gpuHours.closeCapacity(id, CloseReason.ProviderFailed);
        Capacity memory c = gpuHours.capacity(id);
        assertEq(uint8(c.status), uint8(CapacityStatus.Closed));
        assertEq(uint8(c.closeReason), uint8(CloseReason.ProviderFailed));
    }

    function test_closeCapacity_revertsForOthers() public {
        vm.warp(end);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.OnlySettlement.selector, provider));
        vm.prank(provider);
        gpuHours.closeCapacity(id, CloseReason.Completed);
    }

    function test_closeCapacity_revertsBeforeEnd() public {
        vm.warp(end - 1);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.WindowNotEnded.selector, id, end));
        vm.prank(settler);
        gpuHours.closeCapacity(id, CloseReason.Completed);
    }

    function test_closeCapacity_revertsTwice() public {
        vm.warp(end);
        vm.startPrank(settler);
        gpuHours.closeCapacity(id, CloseReason.Completed);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Closed));
        gpuHours.closeCapacity(id, CloseReason.Completed);
        vm.stopPrank();
    }

    function test_closeCapacity_revertsCancelled() public {
        _cancel();
        vm.warp(end);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Cancelled));
        vm.prank(settler);
        gpuHours.closeCapacity(id, CloseReason.Completed);
    }

    function test_closeBooking_recordsReasonOnce() public {
        _mintAsExchange(renter, id, 4);
        uint256 bookingId = _activate(renter, 0, 2, 2);
        vm.expectEmit(address(gpuHours));
        emit IGpuHours.BookingClosed(bookingId, id, CloseReason.ProviderFailed);
        vm.startPrank(settler);
        gpuHours.closeBooking(bookingId, CloseReason.ProviderFailed);
        assertEq(uint8(gpuHours.booking(bookingId).closeReason), uint8(CloseReason.ProviderFailed));
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BookingNotOpen.selector, bookingId));
        gpuHours.closeBooking(bookingId, CloseReason.Completed);
        vm.stopPrank();
    }

    function test_closeBooking_revertsForOthersAndUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.OnlySettlement.selector, renter));
        vm.prank(renter);
        gpuHours.closeBooking(1, CloseReason.Completed);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.BookingNotOpen.selector, 1));
        vm.prank(settler);
        gpuHours.closeBooking(1, CloseReason.Completed);
    }

    // ================================================================ mint / exchangeTransfer

    function test_mint_byExchange() public {
        vm.expectEmit(address(gpuHours));
        emit IERC1155.TransferSingle(address(exchange), address(0), renter, id, 7);
        vm.prank(address(exchange));
        uint256 backing = gpuHours.mint(renter, id, 7, provider);
        assertEq(backing, BACKING);
        assertEq(gpuHours.balanceOf(renter, id), 7);
        assertEq(gpuHours.capacity(id).minted, 7);
        assertEq(gpuHours.totalSupply(id), 7);
    }

    function test_mint_revertsNotExchange() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.OnlyExchange.selector, provider));
        vm.prank(provider);
        gpuHours.mint(provider, id, 1, provider);
    }

    function test_mint_upToSupplyCap() public {
        _mintAsExchange(renter, id, 8 * WINDOW - 1);
        _mintAsExchange(renter, id, 1);
        assertEq(gpuHours.capacity(id).minted, 8 * WINDOW);
    }

    function test_mint_revertsAboveSupplyCap() public {
        _mintAsExchange(renter, id, 100);
        vm.expectRevert(
            abi.encodeWithSelector(IGpuHours.SupplyCapExceeded.selector, id, 100, 8 * WINDOW - 99, 8 * WINDOW)
        );
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 8 * WINDOW - 99, provider);
    }

    function test_mint_revertsNotProvider() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotProvider.selector, id, renter));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 1, renter);
    }

    function test_mint_duringWindow() public {
        vm.warp(end - 1);
        _mintAsExchange(renter, id, 1);
        assertEq(gpuHours.balanceOf(renter, id), 1);
    }

    function test_mint_returnsTheCapacitysBacking() public {
        (, uint256 id2) = _capacityBacked(renter, 5, 123, 0);
        vm.prank(address(exchange));
        assertEq(gpuHours.mint(buyer, id2, 3, renter), 123);
    }

    function test_mint_lastHourOnlyItsGpus() public {
        vm.warp(end - 1);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, 9, 8));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 9, provider);
        _mintAsExchange(renter, id, 8);
        assertEq(gpuHours.usableUnits(id), 8);
    }

    function test_mint_revertsHoursNotUsable() public {
        _mintAsExchange(renter, id, 400);
        _activate(renter, 0, 20, 3); // 60 units over hours 0..19
        vm.warp(start + 10 hours + 30 minutes); // hour 10: 62 hours of 8 GPUs left, 496
        // Out: 400 minted less the 30 booked into hours 0..9, now over = 370; 126 more fit.
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, 127, 126));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 127, provider);
        _mintAsExchange(buyer, id, 126);
        assertEq(gpuHours.usableUnits(id), 340 + 126);
        assertEq(gpuHours.usableUnits(id), gpuHours.totalSupply(id));
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, 1, 0));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 1, provider);
    }

    function test_mint_revertsHoursNotUsableWhenAlreadyOverLeft() public {
        // 500 units bought before the window; 10 hours later only 8 × 62 = 496 GPU-hours are left.
        _mintAsExchange(renter, id, 500);
        vm.warp(start + 10 hours);
        assertEq(gpuHours.usableUnits(id), 496);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.HoursNotUsable.selector, id, 1, 0));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 1, provider);
    }

    function test_mint_beforeWindowOnlyTheCap() public {
        _mintAsExchange(renter, id, 8 * WINDOW);
        vm.warp(start - 1);
        assertEq(gpuHours.usableUnits(id), 8 * WINDOW);
    }

    // ================================================================ usableUnits

    function test_usableUnits_circulatingUnits() public {
        assertEq(gpuHours.usableUnits(id), 0);
        _mintAsExchange(renter, id, 100);
        assertEq(gpuHours.usableUnits(id), 100);
        _activate(renter, 0, 5, 2);
        assertEq(gpuHours.usableUnits(id), 90);
        // Hours booked and over do not count against what is left.
        vm.warp(start + 5 hours);
        assertEq(gpuHours.usableUnits(id), 90);
    }

    function test_usableUnits_cappedByFreeHoursLeft() public {
        _mintAsExchange(renter, id, 8 * WINDOW);
        _activate(renter, 20, 10, 8); // 80 units
        vm.warp(start + 70 hours); // 2 hours of 8 GPUs left
        assertEq(gpuHours.usableUnits(id), 16);
        vm.warp(start + 25 hours); // 47 hours left, 5 of them fully booked
        assertEq(gpuHours.usableUnits(id), 8 * 47 - 40);
    }

    function test_usableUnits_zeroWhenNotActiveOrEnded() public {
        _mintAsExchange(renter, id, 10);
        vm.warp(end);
        assertEq(gpuHours.usableUnits(id), 0);
        assertEq(gpuHours.usableUnits(9), 0);
    }

    function test_usableUnits_zeroWhenCancelled() public {
        _mintAsExchange(renter, id, 10);
        _cancel();
        assertEq(gpuHours.usableUnits(id), 0);
    }

    function test_mint_revertsWindowEnded() public {
        vm.warp(end);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.WindowEnded.selector, id, end));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 1, provider);
    }

    function test_mint_revertsCancelled() public {
        _cancel();
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.CapacityNotActive.selector, id, CapacityStatus.Cancelled));
        vm.prank(address(exchange));
        gpuHours.mint(renter, id, 1, provider);
    }

    function test_mint_revertsUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 9));
        vm.prank(address(exchange));
        gpuHours.mint(renter, 9, 1, provider);
    }

    function test_exchangeTransfer_movesHours() public {
        _mintAsExchange(renter, id, 5);
        vm.prank(address(exchange));
        gpuHours.exchangeTransfer(renter, buyer, id, 2);
        assertEq(gpuHours.balanceOf(renter, id), 3);
        assertEq(gpuHours.balanceOf(buyer, id), 2);
    }

    function test_exchangeTransfer_revertsNotExchange() public {
        _mintAsExchange(renter, id, 5);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.OnlyExchange.selector, buyer));
        vm.prank(buyer);
        gpuHours.exchangeTransfer(renter, buyer, id, 2);
    }

    function test_safeTransferFrom_holdersCanTransfer() public {
        _mintAsExchange(renter, id, 5);
        vm.prank(renter);
        gpuHours.safeTransferFrom(renter, buyer, id, 5, "");
        assertEq(gpuHours.balanceOf(buyer, id), 5);
        assertEq(gpuHours.totalSupply(id), 5);
    }

    // ================================================================ views

    function test_providerOf_revertsUnknownCapacity() public {
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 9));
        gpuHours.providerOf(9);
    }

    function test_bookedAt_zeroOutsideWindow() public {
        _mintAsExchange(renter, id, 16);
        _activate(renter, 0, 1, 8);
        _activate(renter, WINDOW - 1, 1, 8);
        assertEq(gpuHours.bookedAt(id, start - 1 hours), 0);
        assertEq(gpuHours.bookedAt(id, end), 0);
        assertEq(gpuHours.bookedAt(id, start), 8);
        assertEq(gpuHours.bookedAt(id, end - 1), 8); // any second of an hour names that hour
    }

    function test_views_unknownCapacityIsEmpty() public view {
        assertEq(gpuHours.supplyCap(9), 0);
        assertEq(gpuHours.totalSupply(9), 0);
        assertEq(gpuHours.bookedUnits(9), 0);
        assertEq(uint8(gpuHours.capacity(9).status), uint8(CapacityStatus.None));
        assertEq(gpuHours.booking(1).holder, address(0));
    }
}
