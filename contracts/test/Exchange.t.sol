// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors, IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {Fixtures} from "./utils/Fixtures.sol";
import {ERC1271Wallet} from "./utils/ERC1271Wallet.sol";
import {ReentrantReceiver} from "./utils/ReentrantReceiver.sol";
import {Exchange} from "../src/Exchange.sol";
import {Escrow} from "../src/Escrow.sol";
import {GpuHours} from "../src/GpuHours.sol";
import {IExchange, Order, OrderKind, OrderStatus, Fill, Permit} from "../src/interfaces/IExchange.sol";
import {IGpuHours} from "../src/interfaces/IGpuHours.sol";
import {IEscrow, Funds, Payee} from "../src/interfaces/IEscrow.sol";

contract ExchangeTest is Fixtures {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    uint256 internal id;
    uint256 internal walletKey;
    address internal walletSigner;
    ERC1271Wallet internal wallet;

    function setUp() public override {
        super.setUp();
        (, id) = _capacity(provider, 24 * 7, 0);
        (walletSigner, walletKey) = makeAddrAndKey("walletSigner");
        wallet = new ERC1271Wallet(walletSigner);
        usdc.mint(address(wallet), 1_000_000 * USDC);
        vm.prank(walletSigner);
        wallet.approve(usdc, address(exchange), type(uint256).max);
    }

    function _fill(address taker, Order memory o, bytes memory sig, uint256 amount) internal returns (uint256) {
        vm.prank(taker);
        return exchange.fill(o, sig, amount);
    }

    /// @dev The renter buys `amount` hours in a primary sale, so it has some to sell.
    function _renterHolds(uint256 amount) internal {
        _buyPrimary(renter, id, amount, PRICE);
    }

    /// @dev Base's redeployment, with the wallet's approval too and `id` reopened on it.
    function _redeploy(uint16 bps, address treasury_) internal override {
        super._redeploy(bps, treasury_);
        vm.prank(walletSigner);
        wallet.approve(usdc, address(exchange), type(uint256).max);
        (, id) = _capacity(provider, 24 * 7, 0);
    }

    // ================================================================ constructor

    function test_constructor_wiring() public view {
        assertEq(address(exchange.stablecoin()), address(usdc));
        assertEq(address(exchange.gpuHours()), address(gpuHours));
        assertEq(address(exchange.escrow()), address(escrow));
        assertEq(exchange.treasury(), treasury);
        assertEq(exchange.feeBps(), FEE_BPS);
        assertEq(
            exchange.ORDER_TYPEHASH(),
            keccak256(
                "Order(address maker,uint8 kind,uint256 capacityId,uint256 amount,uint256 price,uint256 expiry,uint256 salt,uint256 counter)"
            )
        );
    }

    function test_constructor_copiesFeeAndTreasuryFromEscrow() public {
        address other = makeAddr("otherTreasury");
        _redeploy(1_000, other);
        assertEq(exchange.treasury(), other);
        assertEq(exchange.feeBps(), 1_000);
        assertEq(escrow.treasury(), other);
        assertEq(escrow.feeBps(), 1_000);
    }

    function test_constructor_revertsZeroStablecoin() public {
        vm.expectRevert(IExchange.ZeroAddress.selector);
        new Exchange(IERC20(address(0)), gpuHours, escrow);
    }

    function test_constructor_revertsZeroGpuHours() public {
        vm.expectRevert(IExchange.ZeroAddress.selector);
        new Exchange(usdc, IGpuHours(address(0)), escrow);
    }

    function test_constructor_revertsZeroEscrow() public {
        vm.expectRevert(IExchange.ZeroAddress.selector);
        new Exchange(usdc, gpuHours, IEscrow(address(0)));
    }

    function test_constructor_revertsWhenGpuHoursPointsElsewhere() public {
        // The deployed GpuHours names the deployed exchange, not this new one.
        vm.expectRevert(
            abi.encodeWithSelector(
                IExchange.WiringMismatch.selector, address(exchange), address(exchange), address(gpuHours)
            )
        );
        new Exchange(usdc, gpuHours, escrow);
    }

    function test_constructor_revertsWhenEscrowPointsElsewhere() public {
        uint64 nonce = vm.getNonce(address(this));
        address exchangeAt = vm.computeCreateAddress(address(this), nonce + 1);
        GpuHours hours2 = new GpuHours(escrow, exchangeAt, owner, "");
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.WiringMismatch.selector, exchangeAt, address(exchange), address(gpuHours))
        );
        new Exchange(usdc, hours2, escrow);
    }

    function test_constructor_revertsWhenEscrowNamesOtherGpuHours() public {
        uint64 nonce = vm.getNonce(address(this));
        address exchangeAt = vm.computeCreateAddress(address(this), nonce + 2);
        Escrow escrow2 = new Escrow(usdc, address(0xBEEF), exchangeAt, treasury, FEE_BPS);
        GpuHours hours2 = new GpuHours(escrow2, exchangeAt, owner, "");
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.WiringMismatch.selector, exchangeAt, exchangeAt, address(0xBEEF))
        );
        new Exchange(usdc, hours2, escrow2);
    }

    function test_constructor_acceptsCorrectWiring() public {
        uint64 nonce = vm.getNonce(address(this));
        address hoursAt = vm.computeCreateAddress(address(this), nonce + 1);
        address exchangeAt = vm.computeCreateAddress(address(this), nonce + 2);
        Escrow escrow2 = new Escrow(usdc, hoursAt, exchangeAt, treasury, 1_000);
        GpuHours hours2 = new GpuHours(escrow2, exchangeAt, owner, "");
        Exchange exchange2 = new Exchange(usdc, hours2, escrow2);
        assertEq(address(exchange2), exchangeAt);
        assertEq(exchange2.feeBps(), 1_000);
    }

    // ================================================================ immutable fee and treasury

    function test_fill_treasuryOfTheDeploymentReceivesFees() public {
        address next = makeAddr("next");
        _redeploy(FEE_BPS, next);
        _renterHolds(10);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 10, PRICE);
        uint256 fee = _fill(buyer, o, _sign(renterKey, o), 10);
        assertEq(fee, _fee(10 * PRICE));
        assertEq(usdc.balanceOf(next), fee);
    }

    // ================================================================ primary sales

    function test_fill_primaryAtBackingEscrowsExactlyTheBacking() public {
        assertEq(PRICE, BACKING); // the canonical primary sale: at the backing, no premium
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        uint256 total = 10 * PRICE;
        uint256 renterBefore = usdc.balanceOf(renter);

        vm.expectEmit(address(exchange));
        emit IExchange.OrderFilled(exchange.hashOrder(o), provider, renter, id, OrderKind.PrimarySell, 10, PRICE, 0);
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 10, 10 * uint256(BACKING));
        assertEq(_fill(renter, o, sig, 10), 0); // no premium, no fee

        assertEq(gpuHours.balanceOf(renter, id), 10);
        assertEq(usdc.balanceOf(renter), renterBefore - total);
        assertEq(usdc.balanceOf(address(escrow)), 10 * uint256(BACKING));
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 10 * uint256(BACKING));
        assertEq(f.bond, 0);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
        assertEq(exchange.status(exchange.hashOrder(o)).filled, 10);
        assertEq(usdc.balanceOf(provider), 1_000_000 * USDC); // paid only through escrow
        assertEq(usdc.balanceOf(treasury), 1_000_000 * USDC);
    }

    /// @dev Settles the window of `id` (168 hours) as the settlement would, `delivered` hours of it.
    function _settleWindow(uint256 delivered) internal {
        vm.prank(address(settlement));
        escrow.settleWindow(id, provider, delivered, 24 * 7);
    }

    function test_fill_primaryPremiumHeldInEscrowNoFee() public {
        uint256 price = 3 * USDC; // 0.90 USDC above the 2.10 backing
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, price);
        bytes memory sig = _sign(providerKey, o);
        uint256 premium = 10 * (3 * USDC - BACKING); // 9,000,000
        uint256 renterBefore = usdc.balanceOf(renter);

        vm.expectEmit(address(exchange));
        emit IExchange.OrderFilled(exchange.hashOrder(o), provider, renter, id, OrderKind.PrimarySell, 10, price, 0);
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 10, 21_000_000);
        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumDeposited(id, premium);
        assertEq(_fill(renter, o, sig, 10), 0, "no fee on a primary fill");

        assertEq(usdc.balanceOf(renter), renterBefore - 30_000_000);
        assertEq(usdc.balanceOf(address(escrow)), 30_000_000); // backing + premium, both held
        Funds memory f = escrow.funds(id);
        assertEq(f.backing, 21_000_000); // the backing only: the premium is not behind the units
        assertEq(f.premium, premium);
        assertEq(escrow.claimable(provider), 0, "the premium is earned by delivering");
        assertEq(escrow.claimable(treasury), 0);
        assertEq(usdc.balanceOf(provider), 1_000_000 * USDC);
        assertEq(usdc.balanceOf(treasury), 1_000_000 * USDC);

        // Delivered in full: the premium less a 1 % fee (ceil(9,000,000 × 1 %) = 90,000).
        _settleWindow(24 * 7);
        assertEq(escrow.claimable(provider), 8_910_000);
        assertEq(escrow.claimable(treasury), 90_000);
        vm.prank(provider);
        assertEq(escrow.withdraw(provider), 8_910_000);
        assertEq(usdc.balanceOf(provider), 1_000_000 * USDC + 8_910_000);
    }

    function test_fill_primaryPremiumFeeRoundsUpAgainstProvider() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 1, uint256(BACKING) + 1);
        assertEq(_fill(renter, o, _sign(providerKey, o), 1), 0);
        assertEq(escrow.funds(id).premium, 1);
        assertEq(escrow.funds(id).backing, BACKING);
        assertEq(usdc.balanceOf(address(escrow)), uint256(BACKING) + 1);
        _settleWindow(24 * 7);
        // 1 × 1 % = 0.01, rounded up to 1: all of it.
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 1);
    }

    function test_fill_primaryPremiumFollowsRevenueSplit() public {
        address partner = makeAddr("partner");
        Payee[] memory payees = new Payee[](2);
        payees[0] = Payee(provider, 7_000);
        payees[1] = Payee(partner, 3_000);
        vm.prank(provider);
        escrow.setRevenueSplit(payees);

        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 3 * USDC);
        _fill(renter, o, _sign(providerKey, o), 10);
        assertEq(escrow.claimable(partner), 0);
        _settleWindow(24 * 7);
        // 9,000,000 premium less 90,000 fee = 8,910,000; 30 % of it to the partner.
        assertEq(escrow.claimable(partner), 2_673_000);
        assertEq(escrow.claimable(provider), 6_237_000);
        assertEq(escrow.claimable(treasury), 90_000);
    }

    function test_fill_primaryPremiumPartlyDeliveredRestToTreasury() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 3 * USDC);
        _fill(renter, o, _sign(providerKey, o), 10);
        // 42 of 168 hours delivered: 9,000,000 × 1/4 = 2,250,000 paid (fee 22,500), 6,750,000 forfeited.
        _settleWindow(42);
        assertEq(escrow.claimable(provider), 2_227_500);
        assertEq(escrow.claimable(treasury), 22_500 + 6_750_000);
        assertEq(escrow.funds(id).premium, 0);
    }

    function test_fill_primaryBelowBackingProviderPaysTheDifference() public {
        uint256 price = 1 * USDC; // 1.10 USDC below the backing
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, price);
        bytes memory sig = _sign(providerKey, o);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 providerBefore = usdc.balanceOf(provider);

        vm.expectEmit(address(exchange));
        emit IExchange.OrderFilled(exchange.hashOrder(o), provider, renter, id, OrderKind.PrimarySell, 10, price, 0);
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 10, 21_000_000);
        assertEq(_fill(renter, o, sig, 10), 0);

        assertEq(usdc.balanceOf(renter), renterBefore - 10_000_000); // the buyer pays only its price
        assertEq(usdc.balanceOf(provider), providerBefore - 11_000_000); // the provider the shortfall
        assertEq(usdc.balanceOf(address(escrow)), 21_000_000);
        assertEq(escrow.funds(id).backing, 21_000_000);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_fill_primaryAtZeroPriceProviderPaysTheWholeBacking() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 0);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 providerBefore = usdc.balanceOf(provider);
        assertEq(_fill(renter, o, _sign(providerKey, o), 10), 0);
        assertEq(usdc.balanceOf(renter), renterBefore);
        assertEq(usdc.balanceOf(provider), providerBefore - 21_000_000);
        assertEq(escrow.funds(id).backing, 21_000_000);
        assertEq(usdc.balanceOf(address(escrow)), 21_000_000);
    }

    function test_fill_primaryBelowBackingRevertsWithoutProviderAllowance() public {
        vm.prank(provider);
        usdc.approve(address(exchange), 0);
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 1 * USDC);
        bytes memory sig = _sign(providerKey, o);
        uint256 renterBefore = usdc.balanceOf(renter);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(exchange), 0, 11_000_000)
        );
        _fill(renter, o, sig, 10);
        // Nothing happened: no hours, no payment, the order still open.
        assertEq(gpuHours.balanceOf(renter, id), 0);
        assertEq(gpuHours.capacity(id).minted, 0);
        assertEq(usdc.balanceOf(renter), renterBefore);
        assertEq(exchange.status(exchange.hashOrder(o)).filled, 0);
        assertEq(escrow.funds(id).backing, 0);
    }

    function test_fill_primaryBelowBackingRevertsWithoutProviderBalance() public {
        vm.startPrank(provider);
        usdc.transfer(makeAddr("elsewhere"), usdc.balanceOf(provider) - 10_999_999);
        vm.stopPrank();
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 1 * USDC);
        bytes memory sig = _sign(providerKey, o);
        uint256 renterBefore = usdc.balanceOf(renter);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, provider, 10_999_999, 11_000_000)
        );
        _fill(renter, o, sig, 10);
        assertEq(gpuHours.balanceOf(renter, id), 0);
        assertEq(usdc.balanceOf(renter), renterBefore);
        assertEq(usdc.balanceOf(provider), 10_999_999);
        assertEq(escrow.funds(id).backing, 0);
    }

    function test_fill_primaryRevertsWhenMakerIsNotProvider() public {
        Order memory o = _freshOrder(renter, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(renterKey, o);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.NotProvider.selector, id, renter));
        _fill(buyer, o, sig, 10);
    }

    function test_fill_primaryRevertsAboveSupplyCap() public {
        uint256 cap = gpuHours.supplyCap(id);
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, cap + 1, 1);
        bytes memory sig = _sign(providerKey, o);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.SupplyCapExceeded.selector, id, 0, cap + 1, cap));
        _fill(buyer, o, sig, cap + 1);
    }

    // ================================================================ secondary sales

    function test_fill_secondaryPaysSellerAndTreasury() public {
        _renterHolds(10);
        uint256 price = 3 * USDC + 1;
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 4, price);
        bytes memory sig = _sign(renterKey, o);
        uint256 total = 4 * price;
        uint256 fee = _fee(total);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 buyerBefore = usdc.balanceOf(buyer);
        uint256 treasuryBefore = usdc.balanceOf(treasury);
        uint256 escrowBefore = usdc.balanceOf(address(escrow));

        vm.expectEmit(address(exchange));
        emit IExchange.OrderFilled(exchange.hashOrder(o), renter, buyer, id, OrderKind.Sell, 4, price, fee);
        _fill(buyer, o, sig, 4);

        assertEq(gpuHours.balanceOf(renter, id), 6);
        assertEq(gpuHours.balanceOf(buyer, id), 4);
        assertEq(usdc.balanceOf(buyer), buyerBefore - total);
        assertEq(usdc.balanceOf(renter), renterBefore + total - fee);
        assertEq(usdc.balanceOf(treasury), treasuryBefore + fee);
        assertEq(usdc.balanceOf(address(escrow)), escrowBefore);
    }

    function test_fill_secondaryRevertsWithoutHours() public {
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 4, PRICE);
        bytes memory sig = _sign(renterKey, o);
        vm.expectRevert(abi.encodeWithSelector(IERC1155Errors.ERC1155InsufficientBalance.selector, renter, 0, 4, id));
        _fill(buyer, o, sig, 4);
    }

    // ================================================================ bids

    function test_fill_bidByHolderTransfers() public {
        _renterHolds(10);
        Order memory o = _freshOrder(buyer, OrderKind.Buy, id, 5, PRICE);
        bytes memory sig = _sign(buyerKey, o);
        uint256 total = 5 * PRICE;
        uint256 fee = _fee(total);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 buyerBefore = usdc.balanceOf(buyer);
        uint256 treasuryBefore = usdc.balanceOf(treasury);

        vm.expectEmit(address(exchange));
        emit IExchange.OrderFilled(exchange.hashOrder(o), buyer, renter, id, OrderKind.Buy, 5, PRICE, fee);
        _fill(renter, o, sig, 5);

        assertEq(gpuHours.balanceOf(buyer, id), 5);
        assertEq(gpuHours.balanceOf(renter, id), 5);
        assertEq(usdc.balanceOf(buyer), buyerBefore - total);
        assertEq(usdc.balanceOf(renter), renterBefore + total - fee);
        assertEq(usdc.balanceOf(treasury), treasuryBefore + fee);
    }

    function test_fill_bidByProviderMintsIntoEscrow() public {
        Order memory o = _freshOrder(buyer, OrderKind.Buy, id, 5, PRICE); // at the backing
        bytes memory sig = _sign(buyerKey, o);
        uint256 total = 5 * PRICE;
        uint256 buyerBefore = usdc.balanceOf(buyer);
        uint256 providerBefore = usdc.balanceOf(provider);

        vm.expectEmit(address(exchange));
        emit IExchange.OrderFilled(exchange.hashOrder(o), buyer, provider, id, OrderKind.Buy, 5, PRICE, 0);
        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 5, 5 * uint256(BACKING));
        assertEq(_fill(provider, o, sig, 5), 0);

        assertEq(gpuHours.balanceOf(buyer, id), 5);
        assertEq(gpuHours.balanceOf(provider, id), 0);
        assertEq(gpuHours.capacity(id).minted, 5);
        assertEq(usdc.balanceOf(buyer), buyerBefore - total);
        assertEq(usdc.balanceOf(provider), providerBefore);
        assertEq(usdc.balanceOf(address(escrow)), total);
        assertEq(escrow.funds(id).backing, 5 * uint256(BACKING));
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_fill_bidByProviderBelowBackingProviderTopsUp() public {
        uint256 price = 1_500_000; // 0.60 USDC below the backing
        Order memory o = _freshOrder(buyer, OrderKind.Buy, id, 5, price);
        bytes memory sig = _sign(buyerKey, o);
        uint256 buyerBefore = usdc.balanceOf(buyer);
        uint256 providerBefore = usdc.balanceOf(provider);

        vm.expectEmit(address(escrow));
        emit IEscrow.BackingDeposited(id, 5, 10_500_000);
        assertEq(_fill(provider, o, sig, 5), 0);

        assertEq(gpuHours.balanceOf(buyer, id), 5);
        assertEq(usdc.balanceOf(buyer), buyerBefore - 7_500_000); // the bidder pays its price
        assertEq(usdc.balanceOf(provider), providerBefore - 3_000_000); // the minting taker the rest
        assertEq(usdc.balanceOf(address(escrow)), 10_500_000);
        assertEq(escrow.funds(id).backing, 10_500_000);
        assertEq(escrow.claimable(provider), 0);
    }

    function test_fill_bidByProviderBelowBackingRevertsWithoutProviderAllowance() public {
        vm.prank(provider);
        usdc.approve(address(exchange), 0);
        Order memory o = _freshOrder(buyer, OrderKind.Buy, id, 5, 1_500_000);
        bytes memory sig = _sign(buyerKey, o);
        uint256 buyerBefore = usdc.balanceOf(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(exchange), 0, 3_000_000)
        );
        _fill(provider, o, sig, 5);
        assertEq(gpuHours.balanceOf(buyer, id), 0);
        assertEq(usdc.balanceOf(buyer), buyerBefore);
        assertEq(escrow.funds(id).backing, 0);
    }

    function test_fill_bidByProviderAbovePremiumHeldForProvider() public {
        uint256 price = 2_600_000; // 0.50 above the backing
        Order memory o = _freshOrder(buyer, OrderKind.Buy, id, 4, price);
        bytes memory sig = _sign(buyerKey, o);
        uint256 providerBefore = usdc.balanceOf(provider);

        vm.expectEmit(address(escrow));
        emit IEscrow.PremiumDeposited(id, 2_000_000);
        assertEq(_fill(provider, o, sig, 4), 0);

        assertEq(usdc.balanceOf(provider), providerBefore);
        assertEq(usdc.balanceOf(address(escrow)), 10_400_000);
        assertEq(escrow.funds(id).backing, 8_400_000);
        assertEq(escrow.funds(id).premium, 2_000_000);
        assertEq(escrow.claimable(provider), 0);
        assertEq(escrow.claimable(treasury), 0);
        _settleWindow(24 * 7);
        assertEq(escrow.claimable(provider), 1_980_000);
        assertEq(escrow.claimable(treasury), 20_000);
    }

    function test_fill_bidRevertsUnknownCapacity() public {
        Order memory o = _freshOrder(buyer, OrderKind.Buy, 99, 5, PRICE);
        bytes memory sig = _sign(buyerKey, o);
        vm.expectRevert(abi.encodeWithSelector(IGpuHours.UnknownCapacity.selector, 99));
        _fill(renter, o, sig, 5);
    }

    // ================================================================ partial fills

    function test_fill_partialFills() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        _fill(renter, o, sig, 3);
        assertEq(exchange.status(h).filled, 3);
        _fill(buyer, o, sig, 4);
        assertEq(exchange.status(h).filled, 7);
        _fill(renter, o, sig, 3);
        assertEq(exchange.status(h).filled, 10);
        assertEq(gpuHours.balanceOf(renter, id), 6);
        assertEq(gpuHours.balanceOf(buyer, id), 4);
    }

    function test_fill_revertsInsufficientRemaining() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        _fill(renter, o, sig, 7);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 4, 3));
        _fill(renter, o, sig, 4);
    }

    function test_fill_revertsWhenFullyFilled() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 2, PRICE);
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        _fill(renter, o, sig, 2);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 1, 0));
        _fill(renter, o, sig, 1);
    }

    function test_fill_revertsZeroAmount() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ZeroAmount.selector, exchange.hashOrder(o)));
        _fill(renter, o, sig, 0);
    }

    function test_fill_laterFillsNeedNoSignature() public {
        // The signature is checked on the first fill; the hash then stands for an authorised order.
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        _fill(renter, o, sig, 1);
        _fill(renter, o, "", 1);
        assertEq(exchange.status(exchange.hashOrder(o)).filled, 2);
    }

    // ================================================================ cancel / counter

    function test_cancel_marksCancelledAndEmits() public {
        Order[] memory orders = new Order[](1);
        orders[0] = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes32 h = exchange.hashOrder(orders[0]);
        vm.expectEmit(address(exchange));
        emit IExchange.OrderCancelled(h, provider);
        vm.prank(provider);
        exchange.cancel(orders);
        OrderStatus memory s = exchange.status(h);
        assertTrue(s.cancelled);
        assertEq(s.filled, 0);
    }

    function test_fill_revertsCancelledOrder() public {
        Order[] memory orders = new Order[](1);
        orders[0] = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, orders[0]);
        bytes32 h = exchange.hashOrder(orders[0]);
        _fill(renter, orders[0], sig, 3);
        vm.prank(provider);
        exchange.cancel(orders);
        vm.expectRevert(abi.encodeWithSelector(IExchange.CancelledOrder.selector, h));
        _fill(renter, orders[0], sig, 1);
        OrderStatus memory s = exchange.status(h);
        assertEq(s.filled, 3);
        assertTrue(s.cancelled);
    }

    function test_cancel_several() public {
        Order[] memory orders = new Order[](3);
        for (uint256 i; i < 3; ++i) {
            orders[i] = _freshOrder(provider, OrderKind.PrimarySell, id, 10 + i, PRICE);
        }
        vm.prank(provider);
        exchange.cancel(orders);
        for (uint256 i; i < 3; ++i) {
            assertTrue(exchange.status(exchange.hashOrder(orders[i])).cancelled);
        }
    }

    function test_cancel_revertsNotMaker() public {
        Order[] memory orders = new Order[](1);
        orders[0] = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes32 h = exchange.hashOrder(orders[0]);
        vm.expectRevert(abi.encodeWithSelector(IExchange.NotMaker.selector, h, renter));
        vm.prank(renter);
        exchange.cancel(orders);
    }

    function test_incrementCounter_bumpsAndEmits() public {
        vm.expectEmit(address(exchange));
        emit IExchange.CounterIncremented(provider, 1);
        vm.prank(provider);
        assertEq(exchange.incrementCounter(), 1);
        assertEq(exchange.counter(provider), 1);
        vm.prank(provider);
        assertEq(exchange.incrementCounter(), 2);
    }

    function test_fill_revertsStaleCounter() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        vm.prank(provider);
        exchange.incrementCounter();
        vm.expectRevert(abi.encodeWithSelector(IExchange.StaleCounter.selector, h, 0, 1));
        _fill(renter, o, sig, 1);
    }

    function test_fill_revertsCounterAhead() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        o.counter = 1;
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.StaleCounter.selector, h, 1, 0));
        _fill(renter, o, sig, 1);
    }

    function test_fill_orderUnderNewCounter() public {
        vm.prank(provider);
        exchange.incrementCounter();
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        assertEq(o.counter, 1);
        _fill(renter, o, _sign(providerKey, o), 10);
        assertEq(gpuHours.balanceOf(renter, id), 10);
    }

    // ================================================================ expiry

    function test_fill_validAtExactExpiry() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        vm.warp(o.expiry);
        _fill(renter, o, sig, 10);
        assertEq(gpuHours.balanceOf(renter, id), 10);
    }

    function test_fill_revertsExpired() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        vm.warp(o.expiry + 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.OrderExpired.selector, h, o.expiry));
        _fill(renter, o, sig, 10);
    }

    // ================================================================ signatures

    function test_hashOrder_isEip712() public view {
        Order memory o = _order(provider, OrderKind.Buy, id, 10, PRICE);
        bytes32 structHash = keccak256(
            abi.encode(
                exchange.ORDER_TYPEHASH(),
                o.maker,
                uint8(o.kind),
                o.capacityId,
                o.amount,
                o.price,
                o.expiry,
                o.salt,
                o.counter
            )
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("gpuhours Exchange"),
                keccak256("1"),
                block.chainid,
                address(exchange)
            )
        );
        assertEq(exchange.hashOrder(o), keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
    }

    function test_fill_revertsWrongKey() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(renterKey, o);
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, sig, 1);
    }

    function test_fill_revertsSignatureOfAnotherOrder() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        o.price = 1; // the taker edits the price after signing
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, sig, 1);
    }

    function test_fill_revertsShortSignature() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(providerKey, exchange.hashOrder(o));
        v; // dropped: a 64-byte signature
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, abi.encodePacked(r, s), 1);
    }

    function test_fill_revertsEmptySignature() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, "", 1);
    }

    function test_fill_revertsBadV() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        (, bytes32 r, bytes32 s) = vm.sign(providerKey, exchange.hashOrder(o));
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, abi.encodePacked(r, s, uint8(29)), 1);
    }

    function test_fill_revertsMalleatedHighS() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(providerKey, exchange.hashOrder(o));
        bytes memory twin = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, twin, 1);
    }

    function test_fill_revertsGarbageSignature() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, provider));
        _fill(renter, o, abi.encodePacked(bytes32(uint256(1)), bytes32(uint256(2)), uint8(27)), 1);
    }

    // ================================================================ ERC-1271 makers

    function test_fill_erc1271BidFilledByHolder() public {
        _renterHolds(10);
        Order memory o = _freshOrder(address(wallet), OrderKind.Buy, id, 4, PRICE);
        bytes memory sig = _sign(walletKey, o);
        uint256 walletBefore = usdc.balanceOf(address(wallet));
        _fill(renter, o, sig, 4);
        assertEq(gpuHours.balanceOf(address(wallet), id), 4);
        assertEq(usdc.balanceOf(address(wallet)), walletBefore - 4 * PRICE);
    }

    function test_fill_erc1271BidFilledByProvider() public {
        Order memory o = _freshOrder(address(wallet), OrderKind.Buy, id, 4, PRICE);
        bytes memory sig = _sign(walletKey, o);
        _fill(provider, o, sig, 4);
        assertEq(gpuHours.balanceOf(address(wallet), id), 4);
        assertEq(usdc.balanceOf(address(escrow)), 4 * PRICE);
    }

    function test_fill_erc1271SellerSells() public {
        Order memory bid = _freshOrder(address(wallet), OrderKind.Buy, id, 4, PRICE);
        _fill(provider, bid, _sign(walletKey, bid), 4);

        Order memory o = _freshOrder(address(wallet), OrderKind.Sell, id, 4, 2 * PRICE);
        bytes memory sig = _sign(walletKey, o);
        uint256 walletBefore = usdc.balanceOf(address(wallet));
        uint256 fee = _fill(buyer, o, sig, 4);
        assertEq(gpuHours.balanceOf(buyer, id), 4);
        assertEq(usdc.balanceOf(address(wallet)), walletBefore + 8 * PRICE - fee);
    }

    function test_fill_revertsErc1271InvalidSignature() public {
        Order memory o = _freshOrder(address(wallet), OrderKind.Buy, id, 4, PRICE);
        bytes memory sig = _sign(renterKey, o);
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, address(wallet)));
        _fill(provider, o, sig, 4);
    }

    function test_fill_revertsErc1271ShortSignature() public {
        Order memory o = _freshOrder(address(wallet), OrderKind.Buy, id, 4, PRICE);
        bytes32 h = exchange.hashOrder(o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, h, address(wallet)));
        _fill(provider, o, hex"1234", 4);
    }

    // ================================================================ fillWithPermit

    function _permitFor(uint256 value) internal view returns (Permit memory p) {
        p.value = value;
        p.deadline = block.timestamp + 1 hours;
        (p.v, p.r, p.s) = _permit(renterKey, address(exchange), value, p.deadline);
    }

    function test_fillWithPermit_approvesAndFills() public {
        vm.prank(renter);
        usdc.approve(address(exchange), 0);
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        Permit memory p = _permitFor(10 * PRICE);

        vm.prank(renter);
        exchange.fillWithPermit(o, sig, 10, p);

        assertEq(gpuHours.balanceOf(renter, id), 10);
        assertEq(usdc.nonces(renter), 1);
        assertEq(usdc.allowance(renter, address(exchange)), 0);
    }

    function test_fillWithPermit_frontRunPermitStillFills() public {
        vm.prank(renter);
        usdc.approve(address(exchange), 0);
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        Permit memory p = _permitFor(10 * PRICE);

        // Someone copies the permit from the mempool and submits it first.
        vm.prank(makeAddr("frontRunner"));
        usdc.permit(renter, address(exchange), p.value, p.deadline, p.v, p.r, p.s);

        vm.prank(renter);
        exchange.fillWithPermit(o, sig, 10, p);
        assertEq(gpuHours.balanceOf(renter, id), 10);
    }

    function test_fillWithPermit_usedPermitWithAllowanceFills() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        Permit memory p = _permitFor(10 * PRICE);
        vm.prank(renter);
        exchange.fillWithPermit(o, sig, 5, p);
        // The same permit again: its nonce is spent, but the allowance it set is still there.
        vm.prank(renter);
        exchange.fillWithPermit(o, sig, 5, p);
        assertEq(gpuHours.balanceOf(renter, id), 10);
        assertEq(usdc.nonces(renter), 1);
    }

    function test_fillWithPermit_revertsWithoutAllowance() public {
        vm.prank(renter);
        usdc.approve(address(exchange), 0);
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, o);
        Permit memory p = _permitFor(10 * PRICE);
        p.deadline -= 1; // no longer what was signed: the permit fails, and so does the fill
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(exchange), 0, 10 * PRICE)
        );
        vm.prank(renter);
        exchange.fillWithPermit(o, sig, 10, p);
    }

    // ================================================================ fillBatch

    function _batchOf(Order memory a, bytes memory sa, uint256 na, Order memory b, bytes memory sb, uint256 nb)
        internal
        pure
        returns (Fill[] memory fills)
    {
        fills = new Fill[](2);
        fills[0] = Fill(a, sa, na);
        fills[1] = Fill(b, sb, nb);
    }

    function test_fillBatch_fillsEveryOrder() public {
        _renterHolds(10);
        Order memory a = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        Order memory b = _freshOrder(renter, OrderKind.Sell, id, 10, PRICE + 1);
        Fill[] memory fills = _batchOf(a, _sign(providerKey, a), 6, b, _sign(renterKey, b), 3);
        vm.prank(buyer);
        exchange.fillBatch(fills);
        assertEq(gpuHours.balanceOf(buyer, id), 9);
        assertEq(exchange.status(exchange.hashOrder(a)).filled, 6);
        assertEq(exchange.status(exchange.hashOrder(b)).filled, 3);
    }

    function test_fillBatch_allOrNothing() public {
        Order memory a = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        Order memory b = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE + 1);
        bytes32 hb = exchange.hashOrder(b);
        Fill[] memory fills = _batchOf(a, _sign(providerKey, a), 6, b, _sign(renterKey, b), 3);
        uint256 before = usdc.balanceOf(buyer);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InvalidSignature.selector, hb, provider));
        vm.prank(buyer);
        exchange.fillBatch(fills);
        assertEq(exchange.status(exchange.hashOrder(a)).filled, 0);
        assertEq(gpuHours.balanceOf(buyer, id), 0);
        assertEq(usdc.balanceOf(buyer), before);
    }

    function test_fillBatch_sameOrderTwiceCannotOverfill() public {
        Order memory a = _freshOrder(provider, OrderKind.PrimarySell, id, 10, PRICE);
        bytes memory sig = _sign(providerKey, a);
        bytes32 h = exchange.hashOrder(a);
        Fill[] memory fills = _batchOf(a, sig, 6, a, sig, 6);
        vm.expectRevert(abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 6, 4));
        vm.prank(buyer);
        exchange.fillBatch(fills);
    }

    function test_fillBatch_empty() public {
        vm.prank(buyer);
        exchange.fillBatch(new Fill[](0));
    }

    // ================================================================ price and fee arithmetic

    function test_fill_revertsPriceOverflow() public {
        uint256 price = uint256(1) << 127;
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 2, price);
        bytes memory sig = _sign(renterKey, o);
        vm.expectRevert(abi.encodeWithSelector(IExchange.PriceOverflow.selector, 2, price));
        _fill(buyer, o, sig, 2);
    }

    function test_fill_totalAtUint128Max() public {
        _renterHolds(1);
        uint256 price = type(uint128).max;
        usdc.mint(buyer, price);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 1, price);
        bytes memory sig = _sign(renterKey, o);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 fee = _fill(buyer, o, sig, 1);
        assertEq(fee, _fee(price));
        assertEq(usdc.balanceOf(renter), renterBefore + price - fee);
    }

    function test_fill_feeRoundsUpAgainstSeller() public {
        _renterHolds(1);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 1, 1);
        bytes memory sig = _sign(renterKey, o);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 treasuryBefore = usdc.balanceOf(treasury);
        assertEq(_fill(buyer, o, sig, 1), 1); // 1 × 1 % = 0.01, rounded up to 1
        assertEq(usdc.balanceOf(renter), renterBefore);
        assertEq(usdc.balanceOf(treasury), treasuryBefore + 1);
    }

    function test_fill_zeroFee() public {
        _redeploy(0, treasury);
        _renterHolds(4);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 4, PRICE);
        bytes memory sig = _sign(renterKey, o);
        uint256 renterBefore = usdc.balanceOf(renter);
        uint256 treasuryBefore = usdc.balanceOf(treasury);
        assertEq(_fill(buyer, o, sig, 4), 0);
        assertEq(usdc.balanceOf(renter), renterBefore + 4 * PRICE);
        assertEq(usdc.balanceOf(treasury), treasuryBefore);

        // A premium under a zero fee goes to the provider whole.
        Order memory p = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 3 * USDC);
        assertEq(_fill(buyer, p, _sign(providerKey, p), 10), 0);
        _settleWindow(24 * 7);
        assertEq(escrow.claimable(provider), 9_000_000);
        assertEq(escrow.claimable(treasury), 0);
    }

    function test_fill_maxFee() public {
        _redeploy(1_000, treasury);
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 10, 2 * PRICE);
        assertEq(_fill(renter, o, _sign(providerKey, o), 10), 0);
        assertEq(escrow.claimable(treasury), 0);
        _settleWindow(24 * 7);
        uint256 fee = 10 * PRICE / 10; // 10 % of the premium, 10 × 2.10
        assertEq(escrow.claimable(treasury), fee);
        assertEq(escrow.claimable(provider), 10 * PRICE - fee);
        assertEq(escrow.funds(id).backing, 10 * uint256(BACKING));

        Order memory s = _freshOrder(renter, OrderKind.Sell, id, 10, PRICE);
        uint256 treasuryBefore = usdc.balanceOf(treasury);
        assertEq(_fill(buyer, s, _sign(renterKey, s), 10), 10 * PRICE / 10);
        assertEq(usdc.balanceOf(treasury), treasuryBefore + 10 * PRICE / 10);
    }

    function test_fill_zeroPriceMovesNoMoney() public {
        _renterHolds(3);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 3, 0);
        bytes memory sig = _sign(renterKey, o);
        uint256 buyerBefore = usdc.balanceOf(buyer);
        assertEq(_fill(buyer, o, sig, 3), 0);
        assertEq(gpuHours.balanceOf(buyer, id), 3);
        assertEq(usdc.balanceOf(buyer), buyerBefore);
    }

    // ================================================================ reentrancy

    function test_fill_reentrantReceiverCannotOverfillSell() public {
        _renterHolds(10);
        Order memory o = _freshOrder(renter, OrderKind.Sell, id, 10, PRICE);
        bytes memory sig = _sign(renterKey, o);
        bytes32 h = exchange.hashOrder(o);
        ReentrantReceiver attacker = new ReentrantReceiver(exchange, usdc);
        usdc.mint(address(attacker), 1_000 * USDC);
        uint256 renterBefore = usdc.balanceOf(renter);

        uint256[] memory again = new uint256[](3);
        again[0] = 6; // more than the 4 left once the outer 6 are recorded
        again[1] = 4; // exactly what is left
        again[2] = 1; // nothing is left
        attacker.attack(o, sig, 6, again);

        assertEq(attacker.attempts(), 3);
        assertFalse(attacker.succeeded(0));
        assertEq(attacker.results(0), abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 6, 4));
        assertTrue(attacker.succeeded(1));
        assertFalse(attacker.succeeded(2));
        assertEq(attacker.results(2), abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 1, 0));

        assertEq(exchange.status(h).filled, 10);
        assertEq(gpuHours.balanceOf(address(attacker), id), 10);
        assertEq(gpuHours.balanceOf(renter, id), 0);
        uint256 fees = _fee(6 * PRICE) + _fee(4 * PRICE);
        assertEq(usdc.balanceOf(renter), renterBefore + 10 * PRICE - fees);
        assertEq(usdc.balanceOf(address(attacker)), 1_000 * USDC - 10 * PRICE);
    }

    function test_fill_reentrantReceiverCannotOverfillPrimary() public {
        Order memory o = _freshOrder(provider, OrderKind.PrimarySell, id, 5, PRICE);
        bytes memory sig = _sign(providerKey, o);
        bytes32 h = exchange.hashOrder(o);
        ReentrantReceiver attacker = new ReentrantReceiver(exchange, usdc);
        usdc.mint(address(attacker), 1_000 * USDC);

        uint256[] memory again = new uint256[](2);
        again[0] = 3;
        again[1] = 2;
        attacker.attack(o, sig, 3, again);

        assertFalse(attacker.succeeded(0));
        assertEq(attacker.results(0), abi.encodeWithSelector(IExchange.InsufficientRemaining.selector, h, 3, 2));
        assertTrue(attacker.succeeded(1));
        assertEq(exchange.status(h).filled, 5);
        assertEq(gpuHours.balanceOf(address(attacker), id), 5);
        assertEq(gpuHours.capacity(id).minted, 5);
        assertEq(usdc.balanceOf(address(escrow)), 5 * PRICE);
    }
}
