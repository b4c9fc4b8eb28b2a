// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IEscrow, Funds, Payee} from "./interfaces/IEscrow.sol";

/// @title Escrow
/// @notice Holds sale proceeds per capacity, providers' bonds and accounts' credited balances.
///         Solvency: stablecoin held ≥ Σ (sales + fees + bond) over capacities + Σ claimable.
contract Escrow is IEscrow, Ownable2Step {
    using SafeERC20 for IERC20;

    uint256 public constant MAX_PAYEES = 8;
    uint256 private constant BPS = 10_000;

    /// @dev Sales plus fees of a cancelled capacity, and its units sold, when refunds opened. One slot.
    struct RefundBase {
        uint192 pot;
        uint64 units;
    }

    // ---------------------------------------------------------------- storage

    IERC20 public immutable stablecoin;
    address public immutable gpuHours;
    address public immutable exchange;
    address public settler;
    address public treasury;

    mapping(uint256 capacityId => Funds) private _funds;
    mapping(address account => uint256) public claimable;
    mapping(address provider => Payee[]) private _splits;
    /// @dev A cancelled capacity's pot and units as they stood when refunds opened: each refund is
    ///      measured against these, not against what earlier refunds left, so rounding cannot pile up.
    mapping(uint256 capacityId => RefundBase) private _refundBases;

    /// @dev `gpuHours_` and `exchange_` are the addresses those contracts will be deployed at
    ///      (next two deployments); the Exchange constructor checks the wiring.
    constructor(IERC20 stablecoin_, address gpuHours_, address exchange_, address owner_, address treasury_)
        Ownable(owner_)
    {
        if (
            address(stablecoin_) == address(0) || gpuHours_ == address(0) || exchange_ == address(0)
                || treasury_ == address(0)
        ) revert ZeroAddress();
        stablecoin = stablecoin_;
        gpuHours = gpuHours_;
        exchange = exchange_;
        treasury = treasury_;
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the settlement contract allowed to release, refund and slash.
    function setSettler(address settler_) external onlyOwner {
        settler = settler_;
        emit SettlerSet(settler_);
    }

    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    // ---------------------------------------------------------------- gpuHours

    /// @inheritdoc IEscrow
    function postBond(uint256 capacityId, address provider, uint256 amount) external {
        if (msg.sender != gpuHours) revert OnlyGpuHours(msg.sender);
        Funds storage f = _funds[capacityId];
        f.bond = _u128(f.bond + amount);
        emit BondPosted(capacityId, provider, amount);
        stablecoin.safeTransferFrom(provider, address(this), amount);
    }

    /// @inheritdoc IEscrow
    function openRefunds(uint256 capacityId, uint256 unitsSold, address provider) external {
        if (msg.sender != gpuHours) revert OnlyGpuHours(msg.sender);
        Funds storage f = _funds[capacityId];
        f.refundableUnits = SafeCast.toUint64(unitsSold);
        uint256 pot = uint256(f.sales) + f.fees;
        _refundBases[capacityId] = RefundBase({pot: uint192(pot), units: uint64(unitsSold)});
        uint256 bond = f.bond;
        f.bond = 0;
        emit CapacityRefundOpened(capacityId, unitsSold, pot);
        emit BondReturned(capacityId, provider, bond);
        _credit(provider, bond);
    }

    /// @inheritdoc IEscrow
    function refund(uint256 capacityId, address holder, uint256 units) external returns (uint256 amount) {
        if (msg.sender != gpuHours) revert OnlyGpuHours(msg.sender);
        Funds memory f = _funds[capacityId];
        if (units > f.refundableUnits) revert NotRefundable(capacityId, units, f.refundableUnits);
        // The units still out after this refund keep their share of the original pot, rounded up;
        // this refund is the rest. Each refund is then its pro-rata share of the pot rounded down
        // or up, never more, and the last unit out takes what is left, so nothing stays behind.
        // (Refunding pro rata of what earlier refunds left would let their rounding pile up on the
        // last redeemer.) pot < 2^129 and units < 2^64, so the product cannot overflow.
        RefundBase memory base = _refundBases[capacityId];
        uint256 left = f.refundableUnits - units;
        uint256 keep = left == 0 ? 0 : (uint256(base.pot) * left + base.units - 1) / base.units;
        uint256 held = uint256(f.sales) + f.fees;
        amount = held > keep ? held - keep : 0; // less is held only if the settler moved some
        // Taken from sales and fees in proportion; fees round down so sales never go below zero.
        uint256 feesPart = amount == 0 ? 0 : uint256(f.fees) * amount / held;
        f.sales -= uint128(amount - feesPart);
        f.fees -= uint128(feesPart);
        f.refundableUnits = uint64(left);
        _funds[capacityId] = f;
        emit Refunded(capacityId, holder, units, amount);
        _credit(holder, amount);
    }

    // ---------------------------------------------------------------- exchange

    /// @inheritdoc IEscrow
    function creditSale(uint256 capacityId, uint256 net, uint256 fee) external {
        if (msg.sender != exchange) revert OnlyExchange(msg.sender);
        Funds storage f = _funds[capacityId];
        f.sales = _u128(f.sales + net);
        f.fees = _u128(f.fees + fee);
        emit SaleCredited(capacityId, net, fee);
    }

    // ---------------------------------------------------------------- settler

    /// @inheritdoc IEscrow
    function release(uint256 capacityId, address provider, uint256 amount) external {
        uint256 fee = _takeSales(capacityId, amount);
        emit Released(capacityId, provider, amount, fee);
        _payProvider(provider, amount);
        _credit(treasury, fee);
    }

    /// @inheritdoc IEscrow
    function refundUndelivered(uint256 capacityId, address holder, uint256 amount) external {
        uint256 fee = _takeSales(capacityId, amount);
        emit Refunded(capacityId, holder, 0, amount + fee);
        _credit(holder, amount + fee);
    }

    /// @inheritdoc IEscrow
    function slashBond(uint256 capacityId, address to, uint256 amount) external {
        if (msg.sender != settler) revert OnlySettler(msg.sender);
        Funds storage f = _funds[capacityId];
        if (amount > f.bond) revert InsufficientFunds(capacityId, amount, f.bond);
        f.bond -= uint128(amount);
        emit BondSlashed(capacityId, to, amount);
        _credit(to, amount);
    }

    /// @inheritdoc IEscrow
    function returnBond(uint256 capacityId, address provider) external {
        if (msg.sender != settler) revert OnlySettler(msg.sender);
        Funds storage f = _funds[capacityId];
        uint256 bond = f.bond;
        f.bond = 0;
        emit BondReturned(capacityId, provider, bond);
        _credit(provider, bond);
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
        if (payees.length > MAX_PAYEES) revert InvalidSplit();
        delete _splits[msg.sender];
        uint256 total;
        for (uint256 i; i < payees.length; ++i) {
            if (payees[i].account == address(0) || payees[i].bps == 0) revert InvalidSplit();
            total += payees[i].bps;
            _splits[msg.sender].push(payees[i]);
        }
        if (payees.length != 0 && total != BPS) revert InvalidSplit();
        emit RevenueSplitSet(msg.sender, payees);
    }

    // ---------------------------------------------------------------- views

    function funds(uint256 capacityId) external view returns (Funds memory) {
        return _funds[capacityId];
    }

    function revenueSplit(address provider) external view returns (Payee[] memory) {
        return _splits[provider];
    }

    // ---------------------------------------------------------------- internal

    /// @dev Takes `amount` of sales and the fee that was charged on it, in proportion (rounded down,
    ///      all of it when the last sales go).
    function _takeSales(uint256 capacityId, uint256 amount) private returns (uint256 fee) {
        if (msg.sender != settler) revert OnlySettler(msg.sender);
        Funds storage f = _funds[capacityId];
        uint256 sales = f.sales;
        if (amount > sales) revert InsufficientFunds(capacityId, amount, sales);
        if (amount == 0) return 0;
        fee = uint256(f.fees) * amount / sales;
        f.sales = uint128(sales - amount);
        f.fees -= uint128(fee);
    }

    function _payProvider(address provider, uint256 amount) private {
        Payee[] storage split = _splits[provider];
        uint256 n = split.length;
        if (n == 0) return _credit(provider, amount);
        uint256 paid;
        for (uint256 i = 1; i < n; ++i) {
            uint256 share = amount * split[i].bps / BPS;
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
