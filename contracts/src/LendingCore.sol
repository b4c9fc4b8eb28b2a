// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {BorrowShares} from "./libraries/BorrowShares.sol";

import {ILendingPool, RateModel, PoolParams} from "./interfaces/ILendingPool.sol";
import {IGpuHours, Capacity, CapacityStatus} from "./interfaces/IGpuHours.sol";
import {IAttestationOracle} from "./interfaces/IAttestationOracle.sol";

/// @notice What an ended or cancelled capacity's pledged units returned and is still to be credited.
struct Proceeds {
    uint128 units;
    uint128 amount;
}

/// @title LendingCore
/// @notice The lending pool without its liquidation ({LendingPool} adds it): the lenders' ERC-4626
///         vault, positions, borrowing and repaying, the valuation and the interest. See {ILendingPool}.
abstract contract LendingCore is ILendingPool, ERC4626, ERC1155Holder, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Math for uint256;
    using BorrowShares for uint256;

    // ---------------------------------------------------------------- constants

    /// @inheritdoc ILendingPool
    uint256 public constant MAX_CAPACITIES = 8;
    /// @inheritdoc ILendingPool
    uint256 public constant MAX_RATE = uint256(10e18) / 365 days;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    uint256 private constant HOUR = 1 hours;

    // ---------------------------------------------------------------- immutables

    IGpuHours internal immutable _gpuHours;
    IAttestationOracle internal immutable _oracle;
    /// @inheritdoc ILendingPool
    bytes32 public immutable gpuClass;
    /// @inheritdoc ILendingPool
    uint256 public immutable lltv;
    uint256 private immutable _base;
    uint256 private immutable _slope1;
    uint256 private immutable _slope2;
    uint256 private immutable _kink;
    /// @inheritdoc ILendingPool
    uint256 public immutable maturityBuffer;
    /// @inheritdoc ILendingPool
    uint256 public immutable markMaxAge;
    /// @inheritdoc ILendingPool
    uint256 public immutable minDebt;

    // ---------------------------------------------------------------- storage

    /// @dev Debt of all borrowers at `_lastUpdate`, and that time: one slot, read on every call.
    uint128 internal _totalBorrowAssets;
    uint64 private _lastUpdate;
    uint128 internal _totalBorrowShares;
    /// @dev Collected proceeds not yet credited: in the pool's balance, not its cash. Beside the
    ///      borrow shares, read on the same paths.
    uint128 internal _reserved;
    mapping(address borrower => uint256) internal _borrowShares;
    mapping(address borrower => uint256[]) internal _ids;
    mapping(address borrower => mapping(uint256 capacityId => uint256)) internal _pledged;
    /// @dev Units of each capacity pledged over all positions: the pool's balance of it, kept here
    ///      because anyone may expire the pool's units through Settlement.
    mapping(uint256 capacityId => uint256) internal _held;
    mapping(uint256 capacityId => Proceeds) internal _proceeds;
    /// @dev A liquidation's repayment on its way in, counted as cash: prices read in its callback are settled.
    uint256 internal transient _incoming;

    constructor(PoolParams memory p, string memory name_, string memory symbol_)
        ERC4626(p.stablecoin)
        ERC20(name_, symbol_)
    {
        if (address(p.gpuHours) == address(0) || address(p.oracle) == address(0)) {
            revert ZeroAddress();
        }
        if (p.lltv == 0 || p.lltv >= WAD) revert InvalidLltv(p.lltv);
        RateModel memory r = p.rates;
        if (r.kink == 0 || r.kink >= WAD || uint256(r.base) + r.slope1 + r.slope2 > MAX_RATE) {
            revert InvalidRateModel(r.base, r.slope1, r.slope2, r.kink);
        }
        if (p.markMaxAge == 0) revert InvalidMarkMaxAge(p.markMaxAge);
        (_gpuHours, _oracle, gpuClass, lltv) = (p.gpuHours, p.oracle, p.gpuClass, p.lltv);
        (_base, _slope1, _slope2, _kink) = (r.base, r.slope1, r.slope2, r.kink);
        (maturityBuffer, markMaxAge, minDebt) = (p.maturityBuffer, p.markMaxAge, p.minDebt);
        _lastUpdate = uint64(block.timestamp);
    }

    // ---------------------------------------------------------------- borrowers

    /// @inheritdoc ILendingPool
    function pledge(uint256 capacityId, uint256 units) external nonReentrant {
        if (units == 0) revert ZeroAmount();
        Capacity memory c = _gpuHours.capacity(capacityId);
        if (!_pledgeable(c)) revert NotPledgeable(capacityId, c.status, c.end);
        bytes32 model = _gpuHours.node(c.nodeId).gpuModel;
        if (model != gpuClass) revert WrongGpuClass(capacityId, model, gpuClass);
        uint256 pledged = _pledged[msg.sender][capacityId];
        if (pledged == 0) {
            if (_ids[msg.sender].length == MAX_CAPACITIES) revert TooManyCapacities(msg.sender, MAX_CAPACITIES);
            _ids[msg.sender].push(capacityId);
        }
        _pledged[msg.sender][capacityId] = pledged + units;
        _held[capacityId] += units;
        emit Pledged(msg.sender, capacityId, units);
        IERC1155(address(_gpuHours)).safeTransferFrom(msg.sender, address(this), capacityId, units, "");
    }

    /// @inheritdoc ILendingPool
    function unpledge(uint256 capacityId, uint256 units, address to) external nonReentrant {
        if (units == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 pledged = _pledged[msg.sender][capacityId];
        if (pledged < units) revert InsufficientCollateral(msg.sender, capacityId, pledged, units);
        if (_proceeds[capacityId].units != 0) revert UnitsExpired(capacityId);
        _accrue();
        _pledged[msg.sender][capacityId] = pledged - units;
        _held[capacityId] -= units;
        if (pledged == units) _dropId(msg.sender, capacityId);
        if (_borrowShares[msg.sender] != 0) _checkHealthy(msg.sender);
        emit Unpledged(msg.sender, capacityId, units, to);
        IERC1155(address(_gpuHours)).safeTransferFrom(address(this), to, capacityId, units, "");
    }

    /// @inheritdoc ILendingPool
    function borrow(uint256 assets, address receiver) external nonReentrant returns (uint256 shares) {
        if (assets == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroAddress();
        uint256 cash = _cash();
        if (assets > cash) revert InsufficientCash(assets, cash);
        (uint256 totalAssets_, uint256 totalShares) = _accrue();
        shares = assets.toSharesUp(totalAssets_, totalShares);
        _borrowShares[msg.sender] += shares;
        (_totalBorrowAssets, _totalBorrowShares) = (uint128(totalAssets_ + assets), uint128(totalShares + shares));
        _checkHealthy(msg.sender);
        _checkNotDust(msg.sender, totalAssets_ + assets, totalShares + shares);
        emit Borrowed(msg.sender, receiver, assets, shares);
        IERC20(asset()).safeTransfer(receiver, assets);
    }

    /// @inheritdoc ILendingPool
    function repay(uint256 assets, address onBehalf) external nonReentrant returns (uint256 repaid, uint256 shares) {
        if (assets == 0) revert ZeroAmount();
        (uint256 totalAssets_, uint256 totalShares) = _accrue();
        (repaid, shares) = _reduceDebt(onBehalf, assets, totalAssets_, totalShares);
        if (assets != type(uint256).max && assets > repaid) revert RepayExceedsDebt(onBehalf, assets, repaid);
        if (repaid == 0) revert ZeroAmount();
        _checkNotDust(onBehalf, _totalBorrowAssets, _totalBorrowShares);
        emit Repaid(msg.sender, onBehalf, repaid, shares);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), repaid);
    }

    // ---------------------------------------------------------------- ERC-4626

    /// @notice Cash plus debt with interest accrued up to now.
    function totalAssets() public view override returns (uint256) {
        (uint256 borrowed,,) = _accrued();
        return _cash() + borrowed;
    }

    /// @notice The owner's assets, at most the pool's cash.
    function maxWithdraw(address owner) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner), _cash());
    }

    /// @notice The owner's shares, at most those the pool's cash redeems.
    function maxRedeem(address owner) public view override returns (uint256) {
        return Math.min(super.maxRedeem(owner), _convertToShares(_cash(), Math.Rounding.Floor));
    }

    /// @dev Guarded, as are withdrawals: no shares trade inside a flash liquidation's callback.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override nonReentrant {
        _accrue();
        super._deposit(caller, receiver, assets, shares);
    }

    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
        nonReentrant
    {
        _accrue();
        super._withdraw(caller, receiver, owner, assets, shares);
    }

    /// @dev 1e6 virtual shares per virtual asset: an attacker's donation to an empty vault costs it
    ///      about a million times what it takes from the next depositor by rounding.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ILendingPool
    function gpuHours() external view returns (address) {
        return address(_gpuHours);
    }

    /// @inheritdoc ILendingPool
    function oracle() external view returns (address) {
        return address(_oracle);
    }

    /// @inheritdoc ILendingPool
    function rateModel() external view returns (RateModel memory) {
        return RateModel(uint64(_base), uint64(_slope1), uint64(_slope2), uint64(_kink));
    }

    /// @inheritdoc ILendingPool
    function totalBorrow() external view returns (uint256 assets, uint256 shares) {
        (assets,,) = _accrued();
        shares = _totalBorrowShares;
    }

    /// @inheritdoc ILendingPool
    function borrowRate() external view returns (uint256 ratePerSecond, uint256 utilization) {
        (uint256 borrowed,,) = _accrued();
        return _rate(borrowed);
    }

    /// @inheritdoc ILendingPool
    function debtOf(address borrower) external view returns (uint256 assets, uint256 shares) {
        (uint256 borrowed,,) = _accrued();
        shares = _borrowShares[borrower];
        assets = shares.toAssetsUp(borrowed, _totalBorrowShares);
    }

    /// @inheritdoc ILendingPool
    function collateralOf(address borrower) external view returns (uint256[] memory ids, uint256[] memory units) {
        ids = _ids[borrower];
        units = new uint256[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            units[i] = _pledged[borrower][ids[i]];
        }
    }

    /// @inheritdoc ILendingPool
    function collateralValue(address borrower) external view returns (uint256 value) {
        (uint128 mark,) = _oracle.markPrice(gpuClass);
        (value,,) = _valueWith(borrower, mark, 0);
    }

    /// @inheritdoc ILendingPool
    function unitValue(uint256 capacityId, uint256 units, uint256 mark) public view returns (uint256) {
        (uint256 num, uint256 den) = _unitPrice(capacityId, mark);
        return num == 0 ? 0 : Math.min(units, den / BPS).mulDiv(num, den, Math.Rounding.Floor);
    }

    /// @dev Pays up to `assets` of `borrower`'s debt (totals accrued): all of it when `assets` covers
    ///      it, else the shares `assets` buys, rounded down (against the payer).
    function _reduceDebt(address borrower, uint256 assets, uint256 totalAssets_, uint256 totalShares)
        internal
        returns (uint256 repaid, uint256 shares)
    {
        uint256 owned = _borrowShares[borrower];
        uint256 owed = owned.toAssetsUp(totalAssets_, totalShares);
        (repaid, shares) = assets >= owed ? (owed, owned) : (assets, assets.toSharesDown(totalAssets_, totalShares));
        _borrowShares[borrower] = owned - shares;
        // The sum of rounded-up debts may exceed the total by a few wei: the total floors at zero.
        _totalBorrowAssets = uint128(totalAssets_ - Math.min(repaid, totalAssets_));
        _totalBorrowShares = uint128(totalShares - shares);
    }

    /// @dev Whether units of `c` can be pledged: its window is open and it was not cancelled. Units
    ///      pledged before it closed return money through expiry instead.
    function _pledgeable(Capacity memory c) internal view returns (bool) {
        return c.status == CapacityStatus.Active && block.timestamp < c.end;
    }

    /// @dev Reverts if `borrower` would owe a debt in (0, minDebt). Debt totals must be current.
    function _checkNotDust(address borrower, uint256 totalAssets_, uint256 totalShares) internal view {
        uint256 debt = _borrowShares[borrower].toAssetsUp(totalAssets_, totalShares);
        if (debt != 0 && debt < minDebt) revert DustDebt(borrower, debt, minDebt);
    }

    // ---------------------------------------------------------------- internal

    /// @dev Brings the debt up to now; returns the total borrow assets and shares after.
    function _accrue() internal returns (uint256 borrowed, uint256 shares) {
        uint256 interest;
        uint256 rate;
        (borrowed, interest, rate) = _accrued();
        shares = _totalBorrowShares;
        if (_lastUpdate == block.timestamp) return (borrowed, shares);
        (_totalBorrowAssets, _lastUpdate) = (uint128(borrowed), uint64(block.timestamp));
        if (interest != 0) emit InterestAccrued(interest, rate, borrowed);
    }

    /// @dev The total debt now, the interest since the last update (rounded down) and its rate.
    function _accrued() private view returns (uint256 borrowed, uint256 interest, uint256 rate) {
        borrowed = _totalBorrowAssets;
        uint256 elapsed = block.timestamp - _lastUpdate;
        if (elapsed == 0 || borrowed == 0) return (borrowed, 0, 0);
        (rate,) = _rate(borrowed);
        interest = borrowed.mulDiv(rate * elapsed, WAD, Math.Rounding.Floor);
        borrowed += interest;
    }

    /// @dev The kinked rate at `borrowed` against the cash held, and the utilization.
    function _rate(uint256 borrowed) private view returns (uint256 rate, uint256 utilization) {
        if (borrowed == 0) return (_base, 0);
        utilization = borrowed.mulDiv(WAD, borrowed + _cash(), Math.Rounding.Floor);
        if (utilization <= _kink) return (_base + _slope1.mulDiv(utilization, WAD, Math.Rounding.Floor), utilization);
        uint256 above = _slope2.mulDiv(utilization - _kink, WAD, Math.Rounding.Floor);
        rate = _base + _slope1.mulDiv(_kink, WAD, Math.Rounding.Floor) + above;
    }

    /// @dev Reverts unless `borrower`'s debt (rounded up) is at most value × LLTV (rounded down),
    ///      valued at a fresh mark. Debt totals must be accrued.
    function _checkHealthy(address borrower) private view {
        (uint128 mark, uint64 epoch) = _oracle.markPrice(gpuClass);
        if (mark == 0 || block.timestamp > (uint256(epoch) + 1) * HOUR + markMaxAge) {
            revert StaleMark(gpuClass, epoch, markMaxAge);
        }
        uint256 debt = _borrowShares[borrower].toAssetsUp(_totalBorrowAssets, _totalBorrowShares);
        (uint256 value,,) = _valueWith(borrower, mark, 0);
        uint256 maxDebt = value.mulDiv(lltv, WAD, Math.Rounding.Floor);
        if (debt > maxDebt) revert Unhealthy(borrower, debt, maxDebt);
    }

    /// @dev The position's value at `mark`, and the per-unit price (see {_unitPrice}) of
    ///      `capacityId` if it is one of the position's capacities (else 0, 0).
    function _valueWith(address borrower, uint256 mark, uint256 capacityId)
        internal
        view
        returns (uint256 value, uint256 num, uint256 den)
    {
        uint256[] storage ids = _ids[borrower];
        for (uint256 i; i < ids.length; ++i) {
            (uint256 n, uint256 d) = _unitPrice(ids[i], mark);
            if (n != 0) value += Math.min(_pledged[borrower][ids[i]], d / BPS).mulDiv(n, d);
            if (ids[i] == capacityId) (num, den) = (n, d);
        }
    }

    /// @dev The value of one unit of `capacityId` at `mark` is num / den, den = circulating × BPS:
    ///      the hours the node can still deliver are shared by every holder of the id, pledged or not,
    ///      so positions pledging the same id never count an hour twice. num is 0 when a unit counts
    ///      for nothing (not Active, inside the buffer, nothing circulating or usable, no reliability).
    function _unitPrice(uint256 capacityId, uint256 mark) internal view returns (uint256 num, uint256 den) {
        Capacity memory c = _gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active || block.timestamp + maturityBuffer * HOUR >= c.end) return (0, 0);
        uint256 circulating = _gpuHours.totalSupply(capacityId);
        if (circulating == 0) return (0, 0);
        uint256 price = Math.min(mark, _gpuHours.terms(capacityId).backing);
        num = _gpuHours.usableUnits(capacityId) * price * _oracle.reliabilityBps(c.nodeId);
        den = circulating * BPS;
    }

    /// @dev Removes `capacityId` from `borrower`'s list (swap with the last, pop).
    function _dropId(address borrower, uint256 capacityId) internal {
        uint256[] storage ids = _ids[borrower];
        uint256 last = ids.length - 1;
        for (uint256 i; i < last; ++i) {
            if (ids[i] != capacityId) continue;
            ids[i] = ids[last];
            break;
        }
        ids.pop();
    }

    /// @dev The stablecoin held, plus a liquidation's repayment on its way in, less the proceeds
    ///      reserved for positions.
    function _cash() private view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this)) + _incoming - _reserved;
    }
}
