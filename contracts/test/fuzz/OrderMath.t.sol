// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Fixtures} from "../utils/Fixtures.sol";
import {IExchange, Order, OrderKind} from "../../src/interfaces/IExchange.sol";
import {Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Fee and payment arithmetic of fills, over random prices, amounts, fees and ways of
///         splitting an order into partial fills.
contract OrderMathFuzzTest is Fixtures {
    uint256 internal constant MAX_FILLS = 8;

    uint256 internal id;

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
        uint256 treasury;
        uint256 sales;
        uint256 fees;
    }

    function setUp() public override {
        super.setUp();
        (, id) = _capacity(provider, 90 * 24, 0); // supply cap 8 × 2,160 = 17,280
    }

    // ================================================================ fills

    function testFuzz_fill_primarySell(uint256 price, uint256 amount, uint256 bps, uint256 seed) public {
        Parties memory p = Parties(provider, providerKey, renter, renter, address(escrow), true);
        _fuzzFills(p, OrderKind.PrimarySell, price, amount, bps, seed);
    }

    function testFuzz_fill_secondarySell(uint256 price, uint256 amount, uint256 bps, uint256 seed) public {
        Parties memory p = Parties(renter, renterKey, buyer, buyer, renter, false);
        _fuzzFills(p, OrderKind.Sell, price, amount, bps, seed);
    }

    function testFuzz_fill_bidByHolder(uint256 price, uint256 amount, uint256 bps, uint256 seed) public {
        Parties memory p = Parties(buyer, buyerKey, renter, buyer, renter, false);
        _fuzzFills(p, OrderKind.Buy, price, amount, bps, seed);
    }

    function testFuzz_fill_bidByProvider(uint256 price, uint256 amount, uint256 bps, uint256 seed) public {
        Parties memory p = Parties(buyer, buyerKey, provider, buyer, address(escrow), true);
        _fuzzFills(p, OrderKind.Buy, price, amount, bps, seed);
    }

    function testFuzz_fill_revertsPriceOverflow(uint256 amount, uint256 price) public {
        amount = bound(amount, 1, type(uint128).max);
        price = bound(price, type(uint128).max / amount + 1, type(uint256).max);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, amount, price);
        bytes memory sig = _sign(renterKey, o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.PriceOverflow.selector, amount, price));
        vm.prank(buyer);
        exchange.fill(o, sig, amount);
    }

    // ================================================================ internal

    function _fuzzFills(Parties memory p, OrderKind kind, uint256 price, uint256 amount, uint256 bps, uint256 seed)
        internal
    {
        amount = bound(amount, 1, gpuHours.supplyCap(id));
        price = bound(price, 0, type(uint128).max / amount);
        bps = bound(bps, 0, 1_000);
        vm.prank(owner);
        exchange.setFee(uint16(bps));

        // Enough stablecoin for the whole order, and the hours a secondary seller needs.
        usdc.mint(p.payer, amount * price);
        if (!p.mints) _mintAsExchange(p.payee, id, amount);

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

            _fillAndCheck(p, o, sig, part, bps);
            filled += part;
            assertEq(exchange.status(h).filled, filled, "filled");
            assertLe(filled, amount);
        }
        assertEq(gpuHours.balanceOf(kind == OrderKind.Buy ? p.maker : p.taker, id), amount, "hours delivered");
        vm.expectRevert(abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 1, 0));
        vm.prank(p.taker);
        exchange.fill(o, sig, 1);
    }

    function _fillAndCheck(Parties memory p, Order memory o, bytes memory sig, uint256 part, uint256 bps) internal {
        Balances memory b0 = _balances(p);
        vm.prank(p.taker);
        uint256 fee = exchange.fill(o, sig, part);
        Balances memory b1 = _balances(p);

        uint256 total = part * o.price;
        assertEq(fee, _ceilDiv(total * bps, 10_000), "fee is ceil(total x bps / 10,000)");
        // Rounding never favours the taker: the fee is never below its exact value.
        assertGe(fee * 10_000, total * bps, "fee rounds up");
        assertLe(fee, total, "fee within total");

        assertEq(b0.payer - b1.payer, total, "payer pays amount x price exactly");
        if (p.mints) {
            assertEq(b1.payee - b0.payee, total, "escrow receives everything paid");
            assertEq(b1.sales - b0.sales, total - fee, "sales credited net of fee");
            assertEq(b1.fees - b0.fees, fee, "fee held in escrow");
            assertEq(b1.treasury, b0.treasury, "treasury paid on release, not on fill");
        } else {
            assertEq(b1.payee - b0.payee, total - fee, "seller receives total less fee");
            assertEq(b1.treasury - b0.treasury, fee, "treasury receives the fee");
        }
    }

    function _balances(Parties memory p) internal view returns (Balances memory b) {
        Funds memory f = escrow.funds(id);
        b = Balances({
            payer: usdc.balanceOf(p.payer),
            payee: usdc.balanceOf(p.payee),
            treasury: usdc.balanceOf(treasury),
            sales: f.sales,
            fees: f.fees
        });
    }
}
