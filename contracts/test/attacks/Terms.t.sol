// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SettlementFixtures} from "../utils/SettlementFixtures.sol";
import {ISettlement} from "../../src/interfaces/ISettlement.sol";
import {IAttestationOracle} from "../../src/interfaces/IAttestationOracle.sol";

/// @notice The owner, turned attacker, tries to change a sold capacity's terms through the oracle's
///         delay: refunds frozen, or settlement moved earlier than its holders were promised.
contract TermsAttackTest is SettlementFixtures {
    uint256 internal id;
    uint40 internal end;

    function setUp() public override {
        super.setUp();
        (, id) = _capacity(provider, 4, 32 * USDC);
        end = _end(id);
        _buyPrimary(renter, id, 32, BACKING);
    }

    function test_ownerCannotFreezeRefundsWithAnEndlessDelay() public {
        uint256 max = oracle.MAX_DELAY();
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IAttestationOracle.InvalidMaxDelay.selector, type(uint64).max, max));
        oracle.setMaxDelay(type(uint64).max);
    }

    function test_aLongerDelayAfterTheSaleDoesNotPutOffSettlement() public {
        uint64 max = uint64(oracle.MAX_DELAY());
        vm.prank(owner);
        oracle.setMaxDelay(max);
        assertEq(gpuHours.terms(id).maxDelay, MAX_DELAY, "the sold capacity keeps the delay it was sold under");
        address[] memory holders = new address[](1);
        holders[0] = renter;
        vm.warp(end + MAX_DELAY + 1);
        uint256 before = escrow.claimable(renter);
        settlement.settleUnused(id, holders); // nothing attested: every unit's backing back
        assertEq(escrow.claimable(renter) - before, 32 * uint256(BACKING));
    }

    function test_aShorterDelayAfterTheSaleDoesNotSettleBeforeTheHoldersWerePromised() public {
        vm.prank(owner);
        oracle.setMaxDelay(1);
        address[] memory holders = new address[](1);
        holders[0] = renter;
        vm.warp(end + 2);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotSettleable.selector, id, end + MAX_DELAY + 1));
        settlement.settleUnused(id, holders);
    }
}
