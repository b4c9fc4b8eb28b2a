// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IEscrow, Funds, Payee} from "./interfaces/IEscrow.sol";
import {IGpuHours} from "./interfaces/IGpuHours.sol";

/// @title Escrow
/// @notice Holds each capacity's backing, providers' bonds and accounts' credited balances.
///         Per capacity: backing = its backing per unit × units minted and not yet paid out, so no
///         sale, whatever its price, changes what another unit is backed by.
///         Solvency: stablecoin held ≥ Σ (backing + bond) over capacities + Σ claimable.
/// @dev No owner: the wiring is immutable and the settler is whatever GpuHours was wired to, once.
contract Escrow is IEscrow {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_PAYEES = 8;
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint256 private constant BPS = 10_000;

    // ---------------------------------------------------------------- storage

    IERC20 public immutable stablecoin;
    /// @inheritdoc IEscrow
    address public immutable gpuHours;
    /// @inheritdoc IEscrow
    address public immutable exchange;
    /// @inheritdoc IEscrow
    address public immutable treasury;
    /// @inheritdoc IEscrow
    uint16 public immutable feeBps;

    mapping(uint256 capacityId => Funds) private _funds;
    /// @inheritdoc IEscrow
    mapping(address account => uint256) public claimable;
    mapping(address provider => Payee[]) private _splits;

    /// @dev `gpuHours_` and `exchange_` are the addresses those contracts will be deployed at
    ///      (next two deployments); the Exchange constructor checks the wiring.
    constructor(IERC20 stablecoin_, address gpuHours_, address exchange_, address treasury_, uint16 feeBps_) {
        if (
            address(stablecoin_) == address(0) || gpuHours_ == address(0) || exchange_ == address(0)
                || treasury_ == address(0)
        ) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        stablecoin = stablecoin_;
        gpuHours = gpuHours_;
        exchange = exchange_;
        treasury = treasury_;
        feeBps = feeBps_;
    }

    // ---------------------------------------------------------------- gpuHours

    /// @inheritdoc IEscrow
    function postBond(uint256 capacityId, address provider, uint256 amount) external {
        _only(gpuHours);
        Funds storage f = _funds[capacityId];
        f.bond = _u128(f.bond + amount);
        emit BondPosted(capacityId, provider, amount);
        stablecoin.safeTransferFrom(provider, address(this), amount);
    }

    /// @inheritdoc IEscrow
    function openRefunds(uint256 capacityId, uint256 unitsSold, address provider, uint256 penaltyPerUnit) external {
        _only(gpuHours);
        Funds storage f = _funds[capacityId];
        uint256 bond = f.bond;
        if (unitsSold != 0 && penaltyPerUnit > bond / unitsSold) penaltyPerUnit = bond / unitsSold;
        uint256 kept = unitsSold * penaltyPerUnit;
        f.bond = uint128(kept);
        f.penaltyPerUnit = uint128(penaltyPerUnit);
        uint256 premium = f.premium;
        f.premium = 0;
        emit RefundsOpened(capacityId, unitsSold, penaltyPerUnit);
        emit BondReturned(capacityId, provider, bond - kept);
        emit PremiumSettled(capacityId, provider, 0, 0, premium);
        _credit(provider, bond - kept);
        _credit(treasury, premium);
    }

    /// @inheritdoc IEscrow
    function refund(uint256 capacityId, address holder, uint256 units) external returns (uint256 amount) {
        _only(gpuHours);
        Funds storage f = _funds[capacityId];
        uint256 backing = units * _takeBacking(capacityId, f, units);
        uint256 penalty = units * f.penaltyPerUnit;
        f.bond -= uint128(penalty); // the bond kept at cancel covers every unit sold
        emit Refunded(capacityId, holder, units, backing);
        if (penalty != 0) emit BondSlashed(capacityId, holder, penalty);
        amount = backing + penalty;
        _credit(holder, amount);
    }

    // ---------------------------------------------------------------- exchange

    /// @inheritdoc IEscrow
    function deposit(uint256 capacityId, uint256 units, uint256 amount, uint256 premium) external {
        _only(exchange);
        Funds storage f = _funds[capacityId];
        f.backing = _u128(f.backing + amount);
        emit BackingDeposited(capacityId, units, amount);
        if (premium != 0) {
            f.premium = _u128(f.premium + premium);
            emit PremiumDeposited(capacityId, premium);
        }
    }

    // ---------------------------------------------------------------- settler

    /// @inheritdoc IEscrow
    function settle(uint256 capacityId, address holder, uint256 units, uint256 delivered) external {
        _only(IGpuHours(gpuHours).settlement());
        if (delivered > units) revert DeliveredAboveUnits(units, delivered);
        uint256 perUnit = _takeBacking(capacityId, _funds[capacityId], units);
        uint256 released = delivered * perUnit;
        uint256 refunded = (units - delivered) * perUnit;
        if (released != 0) {
            uint256 fee = _fee(released);
            address provider = IGpuHours(gpuHours).providerOf(capacityId);
            emit Released(capacityId, provider, delivered, released, fee);
            _payProvider(provider, released - fee);
            _credit(treasury, fee);
        }
        if (refunded != 0) {
            emit Refunded(capacityId, holder, units - delivered, refunded);
            _credit(holder, refunded);
        }
    }

    /// @inheritdoc IEscrow
    function slashBond(uint256 capacityId, address to, uint256 amount) external {
        _only(IGpuHours(gpuHours).settlement());
        Funds storage f = _funds[capacityId];
        if (amount > f.bond) revert InsufficientFunds(capacityId, amount, f.bond);
        f.bond -= uint128(amount);
        emit BondSlashed(capacityId, to, amount);
        _credit(to, amount);
    }

    /// @inheritdoc IEscrow
    function settleWindow(uint256 capacityId, address provider, uint256 deliveredHours, uint256 windowHours) external {
        _only(IGpuHours(gpuHours).settlement());
        Funds storage f = _funds[capacityId];
        (uint256 bond, uint256 premium) = (f.bond, f.premium);
        (f.bond, f.premium) = (0, 0);
        // Premiums were paid at different prices for units alike, so they cannot go back to holders
        // without one holder taking another's: the undelivered share goes to the treasury instead.
        uint256 paid = Math.mulDiv(premium, deliveredHours, windowHours);
        uint256 fee = _fee(paid);
        emit BondReturned(capacityId, provider, bond);
        emit PremiumSettled(capacityId, provider, paid, fee, premium - paid);
        _credit(provider, bond);
        _payProvider(provider, paid - fee);
        _credit(treasury, fee + premium - paid);
    }

    // ---------------------------------------------------------------- accounts

    /// @inheritdoc IEscrow
    function withdraw(address to) external returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        amount = claimable[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        claimable[msg.sender] = 0;
        emit Withdrawn(msg.sender, to, amount);
        stablecoin.safeTransfer(to, amount);
    }

    /// @inheritdoc IEscrow
    function setRevenueSplit(Payee[] calldata payees) external {
        uint256 n = payees.length;
        if (n > MAX_PAYEES) revert InvalidSplit(n, 0);
        delete _splits[msg.sender];
        uint256 total;
        for (uint256 i; i < n; ++i) {
            if (payees[i].account == address(0) || payees[i].bps == 0) revert InvalidSplit(n, total);
            total += payees[i].bps;
            _splits[msg.sender].push(payees[i]);
        }
        if (n != 0 && total != BPS) revert InvalidSplit(n, total);
        emit RevenueSplitSet(msg.sender, payees);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IEscrow
    function funds(uint256 capacityId) external view returns (Funds memory) {
        return _funds[capacityId];
    }

    /// @inheritdoc IEscrow
    function revenueSplit(address provider) external view returns (Payee[] memory) {
        return _splits[provider];
    }

    // ---------------------------------------------------------------- internal

    function _only(address allowed) private view {
        if (msg.sender == allowed) return;
        if (allowed == gpuHours) revert OnlyGpuHours(msg.sender);
        if (allowed == exchange) revert OnlyExchange(msg.sender);
        revert OnlySettler(msg.sender);
    }

    /// @dev The protocol fee on `amount`, rounded up against the provider: never out of a holder's backing.
    function _fee(uint256 amount) private view returns (uint256) {
        return Math.mulDiv(amount, feeBps, BPS, Math.Rounding.Ceil);
    }

    /// @dev Takes the backing of `units` out of the capacity's funds, never more than they hold, and
    ///      returns the backing per unit.
    function _takeBacking(uint256 capacityId, Funds storage f, uint256 units) private returns (uint256 perUnit) {
        perUnit = IGpuHours(gpuHours).terms(capacityId).backing;
        uint256 amount = units * perUnit;
        uint256 held = f.backing;
        if (amount > held) revert InsufficientFunds(capacityId, amount, held);
        f.backing = uint128(held - amount);
    }

    function _payProvider(address provider, uint256 amount) private {
        Payee[] storage split = _splits[provider];
        uint256 n = split.length;
        if (n == 0) return _credit(provider, amount);
        uint256 paid;
        for (uint256 i = 1; i < n; ++i) {
            uint256 share = Math.mulDiv(amount, split[i].bps, BPS);
            paid += share;
            _credit(split[i].account, share);
        }
        // The first payee takes the rounding remainder so the split always adds up to `amount`.
        _credit(split[0].account, amount - paid);
    }

    function _credit(address account, uint256 amount) private {
        if (amount == 0) return;
        claimable[account] += amount;
        emit Credited(account, amount);
    }

    function _u128(uint256 x) private pure returns (uint128) {
        if (x > type(uint128).max) revert AmountTooLarge(x);
        return uint128(x);
    }
}
