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

import {ILendingPool, RateModel} from "./interfaces/ILendingPool.sol";
import {IGpuHours, Capacity, CapacityStatus} from "./interfaces/IGpuHours.sol";
import {IAttestationOracle} from "./interfaces/IAttestationOracle.sol";
import {ILiquidationCallback} from "./interfaces/ILiquidationCallback.sol";

/// @notice What a pool is deployed with; every field becomes an immutable.
struct PoolParams {
    IERC20 stablecoin;
    IGpuHours gpuHours;
    IAttestationOracle oracle;
    bytes32 gpuClass;
    uint256 lltv;
    RateModel rates;
    uint256 maturityBuffer;
    uint256 markMaxAge;
    uint256 minDebt;
}

/// @title LendingPool
/// @notice An ERC-4626 stablecoin vault lending against GPU-hour units of one GPU class. See
///         {ILendingPool}.
contract LendingPool is ILendingPool, ERC4626, ERC1155Holder, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Math for uint256;

    // ---------------------------------------------------------------- constants

    /// @inheritdoc ILendingPool
    uint256 public constant MAX_CAPACITIES = 8;
    /// @inheritdoc ILendingPool
    uint256 public constant MAX_RATE = uint256(10e18) / 365 days;

    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;
    uint256 private constant HOUR = 1 hours;
    /// @dev Morpho's virtual borrow shares and assets: the first borrower cannot set a share price.
    uint256 private constant VIRTUAL_SHARES = 1e6;
    uint256 private constant VIRTUAL_ASSETS = 1;
    uint256 private constant MAX_LIQUIDATION_INCENTIVE = 1.15e18;
    uint256 private constant LIQUIDATION_CURSOR = 0.3e18;

    // ---------------------------------------------------------------- immutables

    IGpuHours private immutable _gpuHours;
    IAttestationOracle private immutable _oracle;
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
    /// @inheritdoc ILendingPool
    uint256 public immutable liquidationIncentive;

    // ---------------------------------------------------------------- storage

    /// @dev Debt of all borrowers at `_lastUpdate`, and that time: one slot, read on every call.
    uint128 private _totalBorrowAssets;
    uint64 private _lastUpdate;
    uint128 private _totalBorrowShares;
    mapping(address borrower => uint256) private _borrowShares;
    mapping(address borrower => uint256[]) private _ids;
    mapping(address borrower => mapping(uint256 capacityId => uint256)) private _pledged;
    /// @dev A liquidation's repayment between the pool's books and its arrival: counted as cash, so
    ///      share prices read during a flash liquidation's callback are the settled ones.
    uint256 private transient _incoming;

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
        uint256 cursor = WAD.mulDiv(WAD, WAD - LIQUIDATION_CURSOR.mulDiv(WAD - p.lltv, WAD));
        liquidationIncentive = Math.min(MAX_LIQUIDATION_INCENTIVE, cursor);
        _lastUpdate = uint64(block.timestamp);
    }

    // ---------------------------------------------------------------- borrowers

    /// @inheritdoc ILendingPool
    function pledge(uint256 capacityId, uint256 units) external nonReentrant {
        if (units == 0) revert ZeroAmount();
        bytes32 model = _gpuHours.node(_gpuHours.capacity(capacityId).nodeId).gpuModel;
        if (model != gpuClass) revert WrongGpuClass(capacityId, model, gpuClass);
        uint256 pledged = _pledged[msg.sender][capacityId];
        if (pledged == 0) {
            if (_ids[msg.sender].length == MAX_CAPACITIES) revert TooManyCapacities(msg.sender, MAX_CAPACITIES);
            _ids[msg.sender].push(capacityId);
        }
        _pledged[msg.sender][capacityId] = pledged + units;
        emit Pledged(msg.sender, capacityId, units);
        IERC1155(address(_gpuHours)).safeTransferFrom(msg.sender, address(this), capacityId, units, "");
    }

    /// @inheritdoc ILendingPool
    function unpledge(uint256 capacityId, uint256 units, address to) external nonReentrant {
        if (units == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 pledged = _pledged[msg.sender][capacityId];
        if (pledged < units) revert InsufficientCollateral(msg.sender, capacityId, pledged, units);
        _accrue();
        _pledged[msg.sender][capacityId] = pledged - units;
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
        shares = _toSharesUp(assets, totalAssets_, totalShares);
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
        uint256 owned = _borrowShares[onBehalf];
        uint256 owed = _toAssetsUp(owned, totalAssets_, totalShares);
        if (assets == type(uint256).max || assets == owed) {
            (repaid, shares) = (owed, owned);
        } else {
            if (assets > owed) revert RepayExceedsDebt(onBehalf, assets, owed);
            repaid = assets;
            shares = assets.mulDiv(totalShares + VIRTUAL_SHARES, totalAssets_ + VIRTUAL_ASSETS, Math.Rounding.Floor);
        }
        if (repaid == 0) revert ZeroAmount();
        _borrowShares[onBehalf] = owned - shares;
        // The sum of rounded-up debts may exceed the total by a few wei: the total floors at zero.
        _totalBorrowAssets = uint128(totalAssets_ - Math.min(repaid, totalAssets_));
        _totalBorrowShares = uint128(totalShares - shares);
        _checkNotDust(onBehalf, _totalBorrowAssets, totalShares - shares);
        emit Repaid(msg.sender, onBehalf, repaid, shares);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), repaid);
    }

    // ---------------------------------------------------------------- liquidators

    /// @inheritdoc ILendingPool
    function liquidate(
        address borrower,
        uint256 capacityId,
        uint256 seizedUnits,
        uint256 repaidShares,
        bytes calldata data
    ) external nonReentrant returns (uint256, uint256) {
        if ((seizedUnits == 0) == (repaidShares == 0)) {
            revert InconsistentInput(seizedUnits, repaidShares);
        }
        Seizure memory z = _quote(borrower, capacityId, seizedUnits, repaidShares);
        uint256 badDebt = _settle(borrower, capacityId, z);
        emit Liquidated(msg.sender, borrower, capacityId, z.assets, z.shares, z.units, badDebt);
        _incoming = z.assets;
        IERC1155(address(_gpuHours)).safeTransferFrom(address(this), msg.sender, capacityId, z.units, "");
        if (data.length != 0) ILiquidationCallback(msg.sender).onLiquidate(z.assets, data);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), z.assets);
        _incoming = 0;
        return (z.units, z.assets);
    }

    /// @inheritdoc ILendingPool
    function realiseBadDebt(address borrower) external nonReentrant returns (uint256 assets, uint256 shares) {
        uint256 mark = _lastMark();
        (uint256 totalAssets_, uint256 totalShares) = _accrue();
        shares = _borrowShares[borrower];
        (uint256 value,,) = _valueWith(borrower, mark, 0);
        if (shares == 0 || value != 0) {
            revert NoBadDebt(borrower, _toAssetsUp(shares, totalAssets_, totalShares), value);
        }
        assets = _writeOff(borrower, shares, totalAssets_, totalShares);
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

    /// @dev Guarded, as are withdrawals: a flash liquidation's callback must not trade shares before
    ///      its repayment is in.
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
        assets = _toAssetsUp(shares, borrowed, _totalBorrowShares);
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
    function collateralValue(address borrower) external view returns (uint256) {
        (uint128 mark,) = _oracle.markPrice(gpuClass);
        (uint256 value,,) = _valueWith(borrower, mark, 0);
        return value;
    }

    /// @inheritdoc ILendingPool
    function unitValue(uint256 capacityId, uint256 units, uint256 mark) public view returns (uint256) {
        (uint256 num, uint256 den) = _unitPrice(capacityId, mark);
        return num == 0 ? 0 : Math.min(units, den / BPS).mulDiv(num, den, Math.Rounding.Floor);
    }

    // ---------------------------------------------------------------- internal: liquidation

    /// @dev What a liquidation moves: units seized, borrow shares burnt, assets repaid; and the
    ///      position's value left with its debt before, for the bad-debt and dust rules.
    struct Seizure {
        uint256 units;
        uint256 shares;
        uint256 assets;
        uint256 valueLeft;
    }

    /// @dev Checks that `borrower` is unhealthy at the last mark and derives the side of the
    ///      liquidation not given, rounding against the liquidator. Accrues the debt.
    function _quote(address borrower, uint256 capacityId, uint256 seizedUnits, uint256 repaidShares)
        private
        returns (Seizure memory z)
    {
        uint256 mark = _lastMark();
        (uint256 totalAssets_, uint256 totalShares) = _accrue();
        (uint256 value, uint256 num, uint256 den) = _valueWith(borrower, mark, capacityId);
        uint256 incentive = _incentive(borrower, value, totalAssets_, totalShares);
        if (seizedUnits != 0) {
            // What the units are worth (rounded up) over the incentive (up), in shares (up).
            uint256 owed = num == 0 ? 0 : seizedUnits.mulDiv(num, den, Math.Rounding.Ceil);
            owed = owed.mulDiv(WAD, incentive, Math.Rounding.Ceil);
            (z.units, z.shares) = (seizedUnits, _toSharesUp(owed, totalAssets_, totalShares));
        } else {
            // What the shares are worth (rounded down) times the incentive (down), in units (down).
            uint256 worth = repaidShares.mulDiv(totalAssets_ + VIRTUAL_ASSETS, totalShares + VIRTUAL_SHARES);
            z.units = num == 0 ? 0 : worth.mulDiv(incentive, WAD).mulDiv(den, num);
            z.shares = repaidShares;
        }
        uint256 pledged = _checkBounds(borrower, capacityId, z.units, z.shares);
        z.assets = _toAssetsUp(z.shares, totalAssets_, totalShares);
        // The capacity's share of the value, before and after: the same formula as the valuation's.
        z.valueLeft = num == 0 ? value : value - pledged.mulDiv(num, den) + (pledged - z.units).mulDiv(num, den);
    }

    /// @dev Reverts unless `borrower` is unhealthy; returns the incentive, WAD: the LIF, shrunk to
    ///      value / debt (health after ≥ health before ⇔ incentive ≤ value / debt, see the
    ///      interface) and at least 1.
    function _incentive(address borrower, uint256 value, uint256 totalAssets_, uint256 totalShares)
        private
        view
        returns (uint256)
    {
        uint256 debt = _toAssetsUp(_borrowShares[borrower], totalAssets_, totalShares);
        uint256 maxDebt = value.mulDiv(lltv, WAD, Math.Rounding.Floor);
        if (debt <= maxDebt) revert HealthyPosition(borrower, debt, maxDebt);
        return Math.max(WAD, Math.min(liquidationIncentive, value.mulDiv(WAD, debt)));
    }

    /// @dev Reverts unless the liquidation burns at most the borrower's shares, seizes at most its
    ///      units of `capacityId`, and moves something both ways; returns the units pledged.
    function _checkBounds(address borrower, uint256 capacityId, uint256 units, uint256 shares)
        private
        view
        returns (uint256 pledged)
    {
        pledged = _pledged[borrower][capacityId];
        if (units > pledged) revert InsufficientCollateral(borrower, capacityId, pledged, units);
        uint256 owned = _borrowShares[borrower];
        if (shares > owned) revert RepaidSharesExceedDebt(borrower, shares, owned);
        if (units == 0 || shares == 0) revert EmptyLiquidation(capacityId, units, shares);
    }

    /// @dev Books a quoted liquidation: burns the shares, takes the units off the position, then
    ///      writes off what remains if nothing of value is left, else enforces the dust rule.
    ///      Returns the assets written off.
    function _settle(address borrower, uint256 capacityId, Seizure memory z) private returns (uint256 badDebt) {
        (uint256 totalAssets_, uint256 totalShares) = (_totalBorrowAssets, _totalBorrowShares);
        uint256 sharesLeft = _borrowShares[borrower] - z.shares;
        _borrowShares[borrower] = sharesLeft;
        // The sum of rounded-up debts may exceed the total by a few wei: the total floors at zero.
        totalAssets_ -= Math.min(z.assets, totalAssets_);
        totalShares -= z.shares;
        (_totalBorrowAssets, _totalBorrowShares) = (uint128(totalAssets_), uint128(totalShares));
        uint256 pledged = _pledged[borrower][capacityId] - z.units;
        _pledged[borrower][capacityId] = pledged;
        if (pledged == 0) _dropId(borrower, capacityId);
        if (sharesLeft == 0) return 0;
        if (z.valueLeft == 0) return _writeOff(borrower, sharesLeft, totalAssets_, totalShares);
        _checkNotDust(borrower, totalAssets_, totalShares);
    }

    /// @dev Writes off `shares` of `borrower`'s debt against lenders (the assets rounded up, at most
    ///      the total) and moves its units to the pool's own position. Returns the assets.
    function _writeOff(address borrower, uint256 shares, uint256 totalAssets_, uint256 totalShares)
        private
        returns (uint256 assets)
    {
        assets = Math.min(_toAssetsUp(shares, totalAssets_, totalShares), totalAssets_);
        _borrowShares[borrower] = 0;
        (_totalBorrowAssets, _totalBorrowShares) = (uint128(totalAssets_ - assets), uint128(totalShares - shares));
        uint256[] memory ids = _ids[borrower];
        for (uint256 i; i < ids.length; ++i) {
            uint256 units = _pledged[borrower][ids[i]];
            delete _pledged[borrower][ids[i]];
            uint256 held = _pledged[address(this)][ids[i]];
            if (held == 0) _ids[address(this)].push(ids[i]);
            _pledged[address(this)][ids[i]] = held + units;
        }
        delete _ids[borrower];
        emit BadDebt(borrower, assets, shares);
    }

    /// @dev Reverts if `borrower` would owe a debt in (0, minDebt). Debt totals must be current.
    function _checkNotDust(address borrower, uint256 totalAssets_, uint256 totalShares) private view {
        uint256 debt = _toAssetsUp(_borrowShares[borrower], totalAssets_, totalShares);
        if (debt != 0 && debt < minDebt) revert DustDebt(borrower, debt, minDebt);
    }

    /// @dev The last mark of the class whatever its age; reverts if there never was one.
    function _lastMark() private view returns (uint256 mark) {
        uint64 epoch;
        (mark, epoch) = _oracle.markPrice(gpuClass);
        if (mark == 0) revert StaleMark(gpuClass, epoch, markMaxAge);
    }

    // ---------------------------------------------------------------- internal

    /// @dev Brings the debt up to now; returns the total borrow assets and shares after.
    function _accrue() private returns (uint256 borrowed, uint256 shares) {
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
        uint256 debt = _toAssetsUp(_borrowShares[borrower], _totalBorrowAssets, _totalBorrowShares);
        (uint256 value,,) = _valueWith(borrower, mark, 0);
        uint256 maxDebt = value.mulDiv(lltv, WAD, Math.Rounding.Floor);
        if (debt > maxDebt) revert Unhealthy(borrower, debt, maxDebt);
    }

    /// @dev The position's value at `mark`, and the per-unit price (see {_unitPrice}) of
    ///      `capacityId` if it is one of the position's capacities (else 0, 0).
    function _valueWith(address borrower, uint256 mark, uint256 capacityId)
        private
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
    function _unitPrice(uint256 capacityId, uint256 mark) private view returns (uint256 num, uint256 den) {
        Capacity memory c = _gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active || block.timestamp + maturityBuffer * HOUR >= c.end) return (0, 0);
        uint256 circulating = _gpuHours.totalSupply(capacityId);
        if (circulating == 0) return (0, 0);
        uint256 price = Math.min(mark, _gpuHours.terms(capacityId).backing);
        num = _gpuHours.usableUnits(capacityId) * price * _oracle.reliabilityBps(c.nodeId);
        den = circulating * BPS;
    }

    /// @dev Removes `capacityId` from `borrower`'s list (swap with the last, pop).
    function _dropId(address borrower, uint256 capacityId) private {
        uint256[] storage ids = _ids[borrower];
        uint256 last = ids.length - 1;
        for (uint256 i; i < last; ++i) {
            if (ids[i] == capacityId) {
                ids[i] = ids[last];
                break;
            }
        }
        ids.pop();
    }

    function _toSharesUp(uint256 assets, uint256 totalAssets_, uint256 totalShares) private pure returns (uint256) {
        return assets.mulDiv(totalShares + VIRTUAL_SHARES, totalAssets_ + VIRTUAL_ASSETS, Math.Rounding.Ceil);
    }

    function _toAssetsUp(uint256 shares, uint256 totalAssets_, uint256 totalShares) private pure returns (uint256) {
        return shares.mulDiv(totalAssets_ + VIRTUAL_ASSETS, totalShares + VIRTUAL_SHARES, Math.Rounding.Ceil);
    }

    /// @dev The stablecoin held, plus a liquidation's repayment on its way in.
    function _cash() private view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this)) + _incoming;
    }
}
