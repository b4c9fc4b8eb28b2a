// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ILendingPool, RateModel} from "./interfaces/ILendingPool.sol";
import {IGpuHours, Capacity, CapacityStatus} from "./interfaces/IGpuHours.sol";
import {IAttestationOracle} from "./interfaces/IAttestationOracle.sol";
import {IEscrow} from "./interfaces/IEscrow.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";

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
}

/// @notice What an ended or cancelled capacity's pledged units returned and is still to be credited.
struct Proceeds {
    uint128 units;
    uint128 amount;
}

/// @title LendingPool
/// @notice An ERC-4626 stablecoin vault lending against GPU-hour units of one GPU class. See
///         {ILendingPool}. Liquidation is not in this version (the next step): an unhealthy
///         position can only be repaid or topped up with collateral.
contract LendingPool is ILendingPool, ERC4626, ERC1155Holder, ReentrancyGuard {
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

    // ---------------------------------------------------------------- storage

    /// @dev Debt of all borrowers at `_lastUpdate`, and that time: one slot, read on every call.
    uint128 private _totalBorrowAssets;
    uint64 private _lastUpdate;
    uint128 private _totalBorrowShares;
    mapping(address borrower => uint256) private _borrowShares;
    mapping(address borrower => uint256[]) private _ids;
    mapping(address borrower => mapping(uint256 capacityId => uint256)) private _pledged;
    /// @dev Units of each capacity pledged over all positions: the pool's balance of it, kept here
    ///      because anyone may expire the pool's units through Settlement.
    mapping(uint256 capacityId => uint256) private _held;
    mapping(uint256 capacityId => Proceeds) private _proceeds;
    /// @dev Collected proceeds not yet credited: in the pool's balance, not its cash.
    uint256 private _reserved;

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
        (maturityBuffer, markMaxAge) = (p.maturityBuffer, p.markMaxAge);
        _lastUpdate = uint64(block.timestamp);
    }

    // ---------------------------------------------------------------- borrowers

    /// @inheritdoc ILendingPool
    function pledge(uint256 capacityId, uint256 units) external nonReentrant {
        if (units == 0) revert ZeroAmount();
        Capacity memory c = _gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active || block.timestamp >= c.end) {
            revert NotPledgeable(capacityId, c.status, c.end);
        }
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
        shares = assets.mulDiv(totalShares + VIRTUAL_SHARES, totalAssets_ + VIRTUAL_ASSETS, Math.Rounding.Ceil);
        _borrowShares[msg.sender] += shares;
        (_totalBorrowAssets, _totalBorrowShares) = (uint128(totalAssets_ + assets), uint128(totalShares + shares));
        _checkHealthy(msg.sender);
        emit Borrowed(msg.sender, receiver, assets, shares);
        IERC20(asset()).safeTransfer(receiver, assets);
    }

    /// @inheritdoc ILendingPool
    function repay(uint256 assets, address onBehalf) external nonReentrant returns (uint256 repaid, uint256 shares) {
        if (assets == 0) revert ZeroAmount();
        _accrue();
        uint256 owed = _debt(onBehalf);
        if (assets != type(uint256).max && assets > owed) revert RepayExceedsDebt(onBehalf, assets, owed);
        (repaid, shares) = _reduceDebt(onBehalf, Math.min(assets, owed));
        if (repaid == 0) revert ZeroAmount();
        emit Repaid(msg.sender, onBehalf, repaid, shares);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), repaid);
    }

    // ---------------------------------------------------------------- expiry

    /// @inheritdoc ILendingPool
    function settleExpired(uint256 capacityId, address[] calldata borrowers) external nonReentrant {
        _accrue();
        Proceeds memory p = _collect(capacityId);
        for (uint256 i; i < borrowers.length; ++i) {
            p = _credit(borrowers[i], capacityId, p);
        }
        _proceeds[capacityId] = p;
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

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        _accrue();
        super._deposit(caller, receiver, assets, shares);
    }

    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
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
    function heldUnits(uint256 capacityId) external view returns (uint256) {
        return _held[capacityId];
    }

    /// @inheritdoc ILendingPool
    function expiredProceeds(uint256 capacityId) external view returns (uint256 units, uint256 amount) {
        Proceeds memory p = _proceeds[capacityId];
        return (p.units, p.amount);
    }

    /// @inheritdoc ILendingPool
    function reserved() external view returns (uint256) {
        return _reserved;
    }

    /// @inheritdoc ILendingPool
    function collateralValue(address borrower) external view returns (uint256) {
        (uint128 mark,) = _oracle.markPrice(gpuClass);
        return _value(borrower, mark);
    }

    /// @inheritdoc ILendingPool
    function unitValue(uint256 capacityId, uint256 units, uint256 mark) public view returns (uint256) {
        Capacity memory c = _gpuHours.capacity(capacityId);
        if (c.status != CapacityStatus.Active || block.timestamp + maturityBuffer * HOUR >= c.end) return 0;
        // The usable hours are shared by every holder of the id, pledged or not: each unit counts for
        // usable / circulating of one, so positions pledging the same id never count an hour twice.
        uint256 circulating = _gpuHours.totalSupply(capacityId);
        if (circulating == 0) return 0;
        uint256 usable = Math.min(units, circulating).mulDiv(_gpuHours.usableUnits(capacityId), circulating);
        uint256 price = Math.min(mark, _gpuHours.terms(capacityId).backing);
        return (usable * price).mulDiv(_oracle.reliabilityBps(c.nodeId), BPS, Math.Rounding.Floor);
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
        uint256 debt = _debt(borrower);
        uint256 maxDebt = _value(borrower, mark).mulDiv(lltv, WAD, Math.Rounding.Floor);
        if (debt > maxDebt) revert Unhealthy(borrower, debt, maxDebt);
    }

    function _value(address borrower, uint256 mark) private view returns (uint256 value) {
        uint256[] storage ids = _ids[borrower];
        for (uint256 i; i < ids.length; ++i) {
            value += unitValue(ids[i], _pledged[borrower][ids[i]], mark);
        }
    }

    /// @dev Collects the pool's units of `capacityId` the first time it is called after they can be:
    ///      records what they return (the figures Settlement or the escrow credit, computed before the
    ///      calls that credit them) and reserves it; later calls return what is left to credit.
    function _collect(uint256 capacityId) private returns (Proceeds memory p) {
        uint256 held = _held[capacityId];
        if (held == 0) return _proceeds[capacityId];
        Capacity memory c = _gpuHours.capacity(capacityId);
        IEscrow escrow = _gpuHours.escrow();
        uint256 amount;
        if (c.status == CapacityStatus.Cancelled) {
            amount = held * (_gpuHours.terms(capacityId).backing + escrow.funds(capacityId).penaltyPerUnit);
        } else {
            amount = ISettlement(_gpuHours.settlement()).unusedRefund(capacityId, held);
        }
        p = Proceeds(uint128(held), uint128(amount));
        _held[capacityId] = 0;
        _reserved += amount;
        emit ExpiredCollected(capacityId, held, amount);
        if (c.status == CapacityStatus.Cancelled) {
            _gpuHours.redeemCancelled(capacityId, held);
        } else if (IERC1155(address(_gpuHours)).balanceOf(address(this), capacityId) != 0) {
            address[] memory self = new address[](1);
            self[0] = address(this);
            ISettlement(_gpuHours.settlement()).settleUnused(capacityId, self);
        }
        // Whoever expired the units, their proceeds wait in the escrow until the pool withdraws them.
        if (escrow.claimable(address(this)) != 0) escrow.withdraw(address(this));
    }

    /// @dev Credits `borrower` its share of `p` for its units of `capacityId`, first to its debt (totals
    ///      accrued); returns what is left to credit.
    function _credit(address borrower, uint256 capacityId, Proceeds memory p) private returns (Proceeds memory) {
        uint256 units = _pledged[borrower][capacityId];
        if (units == 0) return p;
        uint256 amount = units == p.units ? p.amount : uint256(p.amount).mulDiv(units, p.units);
        (p.units, p.amount) = (p.units - uint128(units), p.amount - uint128(amount));
        _pledged[borrower][capacityId] = 0;
        _dropId(borrower, capacityId);
        _reserved -= amount;
        if (borrower == address(this)) {
            // The pool's own position (units left from bad debt): unreserved, it is the lenders' cash.
            emit ExpiredCredited(borrower, capacityId, units, amount, 0, 0);
            return p;
        }
        (uint256 repaid, uint256 shares) = _reduceDebt(borrower, amount);
        emit ExpiredCredited(borrower, capacityId, units, amount, repaid, shares);
        if (amount > repaid) IERC20(asset()).safeTransfer(borrower, amount - repaid);
        return p;
    }

    /// @dev Pays up to `assets` of `borrower`'s debt (totals accrued): all of it when `assets` covers
    ///      it, else the shares `assets` buys, rounded down (against the payer).
    function _reduceDebt(address borrower, uint256 assets) private returns (uint256 repaid, uint256 shares) {
        (uint256 totalAssets_, uint256 totalShares) = (_totalBorrowAssets, _totalBorrowShares);
        uint256 owned = _borrowShares[borrower];
        uint256 owed = _toAssetsUp(owned, totalAssets_, totalShares);
        if (assets >= owed) {
            (repaid, shares) = (owed, owned);
        } else {
            repaid = assets;
            shares = assets.mulDiv(totalShares + VIRTUAL_SHARES, totalAssets_ + VIRTUAL_ASSETS, Math.Rounding.Floor);
        }
        _borrowShares[borrower] = owned - shares;
        // The sum of rounded-up debts may exceed the total by a few wei: the total floors at zero.
        _totalBorrowAssets = uint128(totalAssets_ - Math.min(repaid, totalAssets_));
        _totalBorrowShares = uint128(totalShares - shares);
    }

    /// @dev What `borrower` owes, rounded up (totals accrued).
    function _debt(address borrower) private view returns (uint256) {
        return _toAssetsUp(_borrowShares[borrower], _totalBorrowAssets, _totalBorrowShares);
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

    function _toAssetsUp(uint256 shares, uint256 totalAssets_, uint256 totalShares) private pure returns (uint256) {
        return shares.mulDiv(totalAssets_ + VIRTUAL_ASSETS, totalShares + VIRTUAL_SHARES, Math.Rounding.Ceil);
    }

    /// @dev The pool's balance less the proceeds reserved for positions.
    function _cash() private view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this)) - _reserved;
    }
}
