// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "../utils/Fixtures.sol";
import {IExchange, Order, OrderKind} from "../../src/interfaces/IExchange.sol";

/// @notice Fee and payment arithmetic of fills, over random prices, amounts, backings, fees and ways
///         of splitting an order into partial fills. A fill that mints escrows exactly the units'
///         fixed backing whatever the price: the provider tops up a sale below it, and the premium
///         of a sale above it is held in escrow until the window settles (no fee at the sale).
contract OrderMathFuzzTest is Fixtures {
    uint256 internal constant MAX_FILLS = 8;
    uint256 internal constant HOURS = 90 * 24; // supply cap 8 × 2,160 = 17,280

    uint256 internal id;
    uint256 internal backing;

    /// @dev Who pays, who is paid, and who takes the fee in one kind of fill.
    struct Parties {
        address maker;
        uint256 makerKey;
        address taker;
        address payer;
        address payee; // the seller, or the escrow for sales that mint
        bool mints;
    }

    struct Balances {
        uint256 payer;
        uint256 payee;
        uint256 providerWallet;
        uint256 escrowWallet;
        uint256 treasuryWallet;
        uint256 backing;
        uint256 premium;
        uint256 providerClaimable;
        uint256 treasuryClaimable;
    }

    // ================================================================ fills

    function testFuzz_fill_primarySell(uint256 price, uint256 amount, uint256 bps, uint256 seed, uint96 backing_)
        public
    {
        _deploy(bps, backing_);
        Parties memory p = Parties(provider, providerKey, renter, renter, address(escrow), true);
        _fuzzFills(p, OrderKind.PrimarySell, price, amount, seed);
    }

    function testFuzz_fill_secondarySell(uint256 price, uint256 amount, uint256 bps, uint256 seed) public {
        _deploy(bps, BACKING);
        Parties memory p = Parties(renter, renterKey, buyer, buyer, renter, false);
        _fuzzFills(p, OrderKind.Sell, price, amount, seed);
    }

    function testFuzz_fill_bidByHolder(uint256 price, uint256 amount, uint256 bps, uint256 seed) public {
        _deploy(bps, BACKING);
        Parties memory p = Parties(buyer, buyerKey, renter, buyer, renter, false);
        _fuzzFills(p, OrderKind.Buy, price, amount, seed);
    }

    function testFuzz_fill_bidByProvider(uint256 price, uint256 amount, uint256 bps, uint256 seed, uint96 backing_)
        public
    {
        _deploy(bps, backing_);
        Parties memory p = Parties(buyer, buyerKey, provider, buyer, address(escrow), true);
        _fuzzFills(p, OrderKind.Buy, price, amount, seed);
    }

    /// @dev One primary fill at any price, biased towards the backing itself and its neighbours:
    ///      the capacity's backing grows by amount × backing, the escrow's stablecoin by that plus
    ///      the premium, and nothing else about the price reaches the units.
    function testFuzz_fill_primaryEscrowsExactlyTheBacking(uint256 price, uint256 amount, uint96 backing_, bool bid)
        public
    {
        _deploy(FEE_BPS, backing_);
        amount = bound(amount, 1, gpuHours.supplyCap(id));
        uint256 mode = price % 4;
        if (mode == 0) price = backing; // the canonical sale
        else if (mode == 1) price = backing - bound(price, 0, backing); // at or below: top-up
        else if (mode == 2) price = backing + bound(price, 0, 1_000); // just above: tiny premium
        else price = bound(price, 0, type(uint128).max / amount);

        usdc.mint(bid ? buyer : renter, amount * price);
        usdc.mint(provider, amount * backing);
        Order memory o = bid
            ? _freshOrder(buyer, OrderKind.Buy, id, amount, price)
            : _freshOrder(provider, OrderKind.PrimarySell, id, amount, price);
        bytes memory sig = _sign(bid ? buyerKey : providerKey, o);

        uint256 escrowBefore = usdc.balanceOf(address(escrow));
        uint256 backingBefore = escrow.funds(id).backing;
        uint256 premiumBefore = escrow.funds(id).premium;
        uint256 total = amount * price;
        uint256 premium = total > amount * backing ? total - amount * backing : 0;
        vm.prank(bid ? provider : renter);
        exchange.fill(o, sig, amount);

        assertEq(escrow.funds(id).backing - backingBefore, amount * backing, "backing grows by amount x backing");
        assertEq(escrow.funds(id).premium - premiumBefore, premium, "premium held apart");
        assertEq(
            usdc.balanceOf(address(escrow)) - escrowBefore, amount * backing + premium, "escrow: backing + premium"
        );
        assertEq(gpuHours.balanceOf(bid ? buyer : renter, id), amount);
    }

    function testFuzz_fill_revertsPriceOverflow(uint256 amount, uint256 price) public {
        _deploy(FEE_BPS, BACKING);
        amount = bound(amount, 1, type(uint128).max);
        price = bound(price, type(uint128).max / amount + 1, type(uint256).max);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, amount, price);
        bytes memory sig = _sign(renterKey, o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.PriceOverflow.selector, amount, price));
        vm.prank(buyer);
        exchange.fill(o, sig, amount);
    }

    // ================================================================ internal

    /// @dev Fee and treasury are immutable: each run deploys the protocol with its fee, then opens a
    ///      capacity backed by `backing_` (bounded to at least 1) a unit.
    function _deploy(uint256 bps, uint96 backing_) internal {
        bps = bound(bps, 0, 1_000);
        backing = bound(backing_, 1, type(uint96).max);
        _redeploy(uint16(bps), treasury);
        (, id) = _capacityBacked(provider, HOURS, uint96(backing), 0);
    }

    function _fuzzFills(Parties memory p, OrderKind kind, uint256 price, uint256 amount, uint256 seed) internal {
        amount = bound(amount, 1, gpuHours.supplyCap(id));
        price = bound(price, 0, type(uint128).max / amount);

        // Enough stablecoin for the whole order, the provider's top-ups, and the hours a secondary
        // seller needs.
        usdc.mint(p.payer, amount * price);
        if (p.mints) usdc.mint(provider, amount * backing);
        else _mintAsExchange(p.payee, id, amount);

        Order memory o = _freshOrder(p.maker, kind, id, amount, price);
        bytes memory sig = _sign(p.makerKey, o);
        bytes32 h = exchange.hashOrder(o);

        uint256 filled;
        for (uint256 i; filled < amount; ++i) {
            uint256 left = amount - filled;
            uint256 part = i == MAX_FILLS - 1 ? left : bound(uint256(keccak256(abi.encode(seed, i))), 1, left);

            // Asking for more than is left fails and changes nothing.
            vm.expectRevert(abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, left + 1, left));
            vm.prank(p.taker);
            exchange.fill(o, sig, left + 1);

            _fillAndCheck(p, o, sig, part);
            filled += part;
            assertEq(exchange.status(h).filled, filled, "filled");
            assertLe(filled, amount);
        }
        assertEq(gpuHours.balanceOf(kind == OrderKind.Buy ? p.maker : p.taker, id), amount, "hours delivered");
        vm.expectRevert(abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 1, 0));
        vm.prank(p.taker);
        exchange.fill(o, sig, 1);
    }

    function _fillAndCheck(Parties memory p, Order memory o, bytes memory sig, uint256 part) internal {
        uint256 bps = exchange.feeBps();
        Balances memory b0 = _balances(p);
        vm.prank(p.taker);
        uint256 fee = exchange.fill(o, sig, part);
        Balances memory b1 = _balances(p);

        uint256 total = part * o.price;
        assertEq(b0.payer - b1.payer, total, "payer pays amount x price exactly");
        if (p.mints) {
            uint256 backed = part * backing;
            uint256 premium = total >= backed ? total - backed : 0;
            uint256 topUp = total < backed ? backed - total : 0;
            assertEq(fee, 0, "no fee on a primary fill: taken when the premium is paid for delivery");

            assertEq(b1.backing - b0.backing, backed, "backing grows by part x backing exactly");
            assertEq(b1.escrowWallet - b0.escrowWallet, backed + premium, "escrow receives backing + premium");
            assertEq(b0.providerWallet - b1.providerWallet, topUp, "provider tops up a sale below the backing");
            assertEq(b1.premium - b0.premium, premium, "premium held until the window settles");
            assertEq(b1.providerClaimable, b0.providerClaimable, "nothing to the provider at the sale");
            assertEq(b1.treasuryClaimable, b0.treasuryClaimable, "nothing to the treasury at the sale");
            assertEq(b1.treasuryWallet, b0.treasuryWallet, "treasury paid through escrow");
        } else {
            assertEq(fee, _fee(total, bps), "fee is ceil(total x bps / 10,000)");
            assertGe(fee * 10_000, total * bps, "fee rounds up");
            assertLe(fee, total, "fee within total");
            assertEq(b1.payee - b0.payee, total - fee, "seller receives total less fee");
            assertEq(b1.treasuryWallet - b0.treasuryWallet, fee, "treasury receives the fee");
            assertEq(b1.escrowWallet, b0.escrowWallet, "escrow untouched");
            assertEq(b1.backing, b0.backing, "backing untouched");
            assertEq(b1.premium, b0.premium, "premium untouched");
        }
    }

    function _balances(Parties memory p) internal view returns (Balances memory b) {
        b = Balances({
            payer: usdc.balanceOf(p.payer),
            payee: usdc.balanceOf(p.payee),
            providerWallet: usdc.balanceOf(provider),
            escrowWallet: usdc.balanceOf(address(escrow)),
            treasuryWallet: usdc.balanceOf(treasury),
            backing: escrow.funds(id).backing,
            premium: escrow.funds(id).premium,
            providerClaimable: escrow.claimable(provider),
            treasuryClaimable: escrow.claimable(treasury)
        });
    }
}
