// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {console2} from "forge-std/console2.sol";

import {OracleSigning} from "../utils/OracleSigning.sol";

import {MockUSDC} from "../../src/MockUSDC.sol";
import {GpuHours} from "../../src/GpuHours.sol";
import {Escrow} from "../../src/Escrow.sol";
import {Exchange} from "../../src/Exchange.sol";
import {AttestationOracle} from "../../src/AttestationOracle.sol";
import {Settlement} from "../../src/Settlement.sol";
import {Sla} from "../../src/interfaces/ISettlement.sol";
import {Attestation, Report} from "../../src/interfaces/IAttestationOracle.sol";
import {Order, OrderKind, Fill} from "../../src/interfaces/IExchange.sol";
import {Node, Capacity, Booking, Terms, CapacityStatus, CloseReason} from "../../src/interfaces/IGpuHours.sol";
import {Payee, Funds} from "../../src/interfaces/IEscrow.sol";

/// @notice Drives a small market through GpuHours, Exchange, Escrow, the AttestationOracle and the
///         real Settlement with a few keyed actors and keeps ghost records the invariants compare
///         the contracts against (what was attested, what each settlement and refund must pay). Every action picks
///         valid ids from its own lists so most calls do real work; the calls that may legitimately
///         fail (a fill racing a balance change, an activation that would overbook) are wrapped in
///         try/catch and counted, so the handler itself never reverts.
contract Handler is StdCheats, StdUtils, OracleSigning {
    // ------------------------------------------------------------------ constants

    uint256 internal constant USDC = 1e6;
    uint256 internal constant HOUR = 1 hours;
    uint256 internal constant N_PROVIDERS = 2; // actors[0..1] own nodes; everyone trades
    uint256 internal constant N_ACTORS = 5;
    uint256 internal constant MAX_NODES = 5;
    uint256 internal constant MAX_CAPS = 8;
    uint256 internal constant MAX_ORDERS = 64;
    uint256 internal constant MAX_WINDOW_HOURS = 48; // crosses a 32-hour HourBook word
    uint256 internal constant MAX_PRICE = 10 * USDC;

    enum A {
        RegisterNode,
        TransferNode,
        CreateCapacity,
        PostPrimary,
        PostSell,
        PostBid,
        FillPrimary,
        FillSell,
        FillBidByHolder,
        FillBidByProvider,
        FillBatch,
        FillDead,
        CancelOrder,
        IncrementCounter,
        TransferHours,
        Activate,
        CancelCapacity,
        RedeemCancelled,
        RefundBooking,
        Warp,
        SettleUnused,
        SettleCapacity,
        SettleBooking,
        Attest,
        ForbiddenSettle,
        SetSla,
        SettleTwice,
        Withdraw,
        SetSplit
    }

    uint256 internal constant N_ACTIONS = 29; // members of A

    enum Pick {
        Any,
        Mintable, // Active and the window has not ended
        BeforeStart, // Active and the window has not started
        Cancelled,
        EndedActive, // Active and the window has ended
        Settleable, // Active and past the window's end plus its recorded oracle delay
        HasBacking
    }

    // ------------------------------------------------------------------ wiring

    MockUSDC public immutable usdc;
    GpuHours public immutable gpuHours;
    Escrow public immutable escrow;
    Exchange public immutable exchange;
    address public immutable treasury;
    AttestationOracle public immutable oracle;
    Settlement public immutable settlement;
    address public immutable owner;
    uint256[] internal oracleKeys;

    address[] public actors;
    mapping(address => uint256) internal keyOf;
    address[] public payees; // keyless accounts that only ever receive revenue-split credits

    uint256 public currentTime;
    /// @notice Storage slot of GpuHours._booked, found by {seedMarket} from the reads of `bookedAt`,
    ///         so a change of GpuHours' storage layout does not silently break {storedHours}.
    uint256 public bookedSlot;

    // ------------------------------------------------------------------ records and ghosts

    uint64[] public nodeIds;
    uint256[] public capIds;

    mapping(uint256 id => uint256) public ghostMinted;
    mapping(uint256 id => uint256) public ghostBurned;
    mapping(uint256 id => uint256) public ghostBookedUnits;
    mapping(uint256 id => mapping(uint256 hourIndex => uint256)) public ghostBookedAt;
    /// @notice Units of `id` whose backing left the escrow: settled, expired, redeemed or refunded.
    mapping(uint256 id => uint256) public ghostPaidOut;
    /// @notice Units of `id` the settlement contract settled (bookings and unused hours).
    mapping(uint256 id => uint256) public ghostSettled;
    /// @notice What primary sales of `id` paid above its backing, held until the window settles (or
    ///         is cancelled), by the model: Σ max(0, amount × price − amount × backing).
    mapping(uint256 id => uint256) public ghostPremium;
    /// @notice The bond `id` still holds by the model: posted, less slashes, the rest returned at a
    ///         cancel (less the penalties kept, then paid out with the refunds) or at settlement.
    mapping(uint256 id => uint256) public ghostBond;
    /// @notice uptime + 1 of each (node, epoch) the handler got attested; 0: never attested.
    mapping(uint64 nodeId => mapping(uint64 epoch => uint256)) public ghostUptime;
    mapping(uint64 nodeId => uint64) public ghostLastEpoch;

    struct OrderRec {
        Order order;
        bytes sig;
        bytes32 hash;
    }

    OrderRec[] internal _orders;
    mapping(bytes32 orderHash => uint256) public ghostFilled;
    mapping(bytes32 orderHash => bool) public ghostCancelled;
    mapping(address maker => uint256) public ghostCounter;

    struct BookingRec {
        uint256 bookingId;
        uint256 capacityId;
        address holder;
        uint40 start;
        uint16 hours_;
        uint8 gpus;
        bool refunded;
        CloseReason closeReason; // what the booking was closed with (None while open)
    }

    BookingRec[] internal _bookings;

    /// @notice Fills that succeeded on an order that was cancelled, signed under a stale counter or
    ///         expired at the time of the fill. Must stay 0.
    uint256 public deadFillSuccesses;
    uint256 public deadFillAttempts;
    /// @notice Activations whose outcome differed from the ghost hour book's prediction (accepted
    ///         though it overbooks, or rejected though it fits). Must stay 0.
    uint256 public bookingMispredictions;
    uint256 public overbookRejections;
    /// @notice Hours where bookedAt disagreed with the ghost or with the packed words, checked after
    ///         each activation. Must stay 0.
    uint256 public bookedAtMismatches;
    /// @notice Primary fills for one unit more than a capacity's room that went through. Must stay 0.
    uint256 public capOverruns;
    /// @notice Batches asking more than an order had left that went through. Must stay 0.
    uint256 public batchOverfills;
    /// @notice Second refunds of a booking that succeeded. Must stay 0.
    uint256 public doubleRefunds;
    /// @notice Settlements or refunds whose payouts differed from the model (exact per-unit backing,
    ///         fee on delivered units, slash by the window's grace). Must stay 0.
    uint256 public payoutMismatches;
    /// @notice Refunds of failed or cancelled units below their backing. Must stay 0.
    uint256 public refundsBelowBacking;
    /// @notice Successful mints after which more units were out than the window can still deliver
    ///         (usableUnits < circulating). Must stay 0.
    uint256 public unusableMints;
    /// @notice Calls to the escrow's settler functions from anyone but the wired settlement, and
    ///         second settlements of a booking, that went through. Must stay 0.
    uint256 public forbiddenSuccesses;
    uint256 public doubleSettles;
    /// @notice Settlements that should have gone through and reverted. Must stay 0.
    uint256 public unexpectedSettleFailures;
    /// @notice Coverage: booking settlements that paid the provider for delivered units, and that slashed.
    uint256 public paidSettles;
    uint256 public slashingSettles;

    uint256[N_ACTIONS] public calls;
    uint256[N_ACTIONS] public oks;
    uint256[N_ACTIONS] public reverts; // calls that reached the contracts and were (legitimately) refused

    A internal _current;
    uint256 internal _gpuSets;

    modifier act(A a) {
        vm.warp(currentTime);
        calls[uint256(a)]++;
        _current = a;
        _;
    }

    constructor(
        MockUSDC usdc_,
        GpuHours gpuHours_,
        Escrow escrow_,
        Exchange exchange_,
        address treasury_,
        AttestationOracle oracle_,
        Settlement settlement_,
        address owner_,
        uint256[] memory oracleKeys_
    ) {
        usdc = usdc_;
        gpuHours = gpuHours_;
        escrow = escrow_;
        exchange = exchange_;
        treasury = treasury_;
        oracle = oracle_;
        settlement = settlement_;
        owner = owner_;
        oracleKeys = oracleKeys_;
        currentTime = block.timestamp;

        string[N_ACTORS] memory names = ["provider0", "provider1", "renter0", "renter1", "renter2"];
        for (uint256 i; i < N_ACTORS; ++i) {
            (address a, uint256 k) = makeAddrAndKey(names[i]);
            actors.push(a);
            keyOf[a] = k;
            usdc_.mint(a, 1_000_000_000 * USDC);
            vm.startPrank(a);
            usdc_.approve(address(exchange_), type(uint256).max);
            usdc_.approve(address(escrow_), type(uint256).max);
            vm.stopPrank();
        }
        payees.push(makeAddr("payee0"));
        payees.push(makeAddr("payee1"));
        payees.push(makeAddr("payee2"));
    }

    // ================================================================== setup

    /// @notice Opens the market every run starts from: a node per provider, a capacity each, and a
    ///         first primary sale on each, so short call sequences already reach trading, booking
    ///         and settlement.
    function seedMarket() external {
        for (uint256 p; p < N_PROVIDERS; ++p) {
            vm.prank(actors[p]);
            nodeIds.push(gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", _gpuSet()));
        }
        // provider0: hours 1-13 and 25-49 from now; provider1: hours 3-33. A window that ends soon,
        // one under way for a while, and one far enough ahead to be cancelled.
        uint8[3] memory node = [0, 1, 0];
        uint8[3] memory startIn = [1, 3, 12];
        uint8[3] memory length = [12, 30, 24];
        for (uint256 k; k < 3; ++k) {
            (bool ok, uint256 id) = _newCapacity(node[k], startIn[k], length[k], 0);
            require(ok, "seed capacity");
            _post(gpuHours.providerOf(id), OrderKind.PrimarySell, id, gpuHours.supplyCap(id), 2 * USDC + k, 48);
            require(_fill(_orders.length - 1, actors[2 + k], 40 + 8 * k), "seed fill");
        }
        _findBookedSlot(capIds[0]);
        // and a booking on the far window, made before it starts (refundable if it is cancelled)
        uint256 far = capIds[2];
        uint40 farStart = gpuHours.capacity(far).start;
        vm.prank(actors[4]);
        uint256 bookingId = gpuHours.activate(far, farStart + 2 hours, 3, 4);
        _recordBooking(far, bookingId, actors[4], farStart + 2 hours, 3, 4);
    }

    /// @dev Which mapping slot `bookedAt` reads hour 0 of `id` from: _booked[id][0] lives at
    ///      keccak(0 . keccak(id . slot)).
    function _findBookedSlot(uint256 id) internal {
        vm.record();
        gpuHours.bookedAt(id, gpuHours.capacity(id).start);
        (bytes32[] memory reads,) = vm.accesses(address(gpuHours));
        for (uint256 slot; slot < 64; ++slot) {
            bytes32 word0 = keccak256(abi.encode(uint256(0), keccak256(abi.encode(id, slot))));
            for (uint256 i; i < reads.length; ++i) {
                if (reads[i] == word0) {
                    bookedSlot = slot;
                    return;
                }
            }
        }
        revert("GpuHours._booked slot not found");
    }

    // ================================================================== provider actions

    function registerNode(uint256 providerSeed, uint256 gpuSeed) external act(A.RegisterNode) {
        if (nodeIds.length >= MAX_NODES) return;
        address p = actors[providerSeed % N_PROVIDERS];
        // Mostly small nodes; now and then a full 255-GPU node to push HourBook lanes to the limit.
        uint8 gpus = gpuSeed % 5 == 0 ? 255 : uint8(_bound(gpuSeed, 1, 8));
        vm.prank(p);
        uint64 nodeId = gpuHours.registerNode("H100-SXM5-80GB", gpus, 80, "eu-west", "NVLink", _gpuSet());
        nodeIds.push(nodeId);
        oks[uint256(A.RegisterNode)]++;
    }

    /// @dev Hands a node to the other provider (one call in three, as it kills the old owner's
    ///      primary orders); its capacities follow.
    function transferNode(uint256 nodeSeed) external act(A.TransferNode) {
        if (nodeIds.length == 0 || nodeSeed % 3 != 0) return;
        uint64 nodeId = nodeIds[(nodeSeed / 3) % nodeIds.length];
        address from = gpuHours.node(nodeId).owner;
        address to = from == actors[0] ? actors[1] : actors[0];
        vm.prank(from);
        gpuHours.transferNode(nodeId, to);
        oks[uint256(A.TransferNode)]++;
    }

    function createCapacity(uint256 nodeSeed, uint256 startSeed, uint256 lenSeed, uint256 bondSeed)
        external
        act(A.CreateCapacity)
    {
        (bool ok,) = _newCapacity(nodeSeed, startSeed, lenSeed, bondSeed);
        if (ok) oks[uint256(A.CreateCapacity)]++;
    }

    function cancelCapacity(uint256 capSeed) external act(A.CancelCapacity) {
        if (capSeed % 2 != 0) return; // one call in two: a cancel ends that capacity's trading
        (bool found, uint256 id) = _pickCap(capSeed / 2, Pick.BeforeStart);
        if (!found) return;
        address provider = gpuHours.providerOf(id);
        uint256 providerBefore = escrow.claimable(provider);
        uint256 treasuryBefore = escrow.claimable(treasury);
        vm.prank(provider);
        gpuHours.cancelCapacity(id);
        // Each unit sold keeps min(slash, bond / sold) of the bond for its holder; the rest goes back
        // to the provider, and the whole premium is forfeited to the treasury.
        uint256 sold = gpuHours.capacity(id).minted;
        uint256 penalty = gpuHours.terms(id).slashPerGpuHour;
        if (sold != 0 && penalty > ghostBond[id] / sold) penalty = ghostBond[id] / sold;
        uint256 kept = sold * penalty;
        if (escrow.claimable(provider) - providerBefore != ghostBond[id] - kept) payoutMismatches++;
        if (escrow.claimable(treasury) - treasuryBefore != ghostPremium[id]) payoutMismatches++;
        ghostBond[id] = kept;
        ghostPremium[id] = 0;
        oks[uint256(A.CancelCapacity)]++;
    }

    /// @dev Settles a capacity past its window and oracle delay; it goes through exactly when every
    ///      unit it sold is settled, and returns what is left of the bond to the provider.
    function settleCapacity(uint256 capSeed) external act(A.SettleCapacity) {
        (bool found, uint256 id) = _pickCap(capSeed, Pick.Settleable);
        if (!found) return;
        uint256 outstanding = ghostMinted[id] - ghostSettled[id];
        // The premium's share of the window's delivered hours (rounded down) to the provider's
        // payees less the fee (rounded up), the rest to the treasury; the bond left to the provider.
        Capacity memory c = gpuHours.capacity(id);
        uint256 windowHours = (c.end - c.start) / HOUR;
        (uint256 delivered,) = _ghostCount(c, 0, windowHours, gpuHours.terms(id));
        uint256 paid = ghostPremium[id] * delivered / windowHours;
        uint256 fee = _fee(paid);
        uint256 toTreasury = fee + ghostPremium[id] - paid;
        uint256 toProvider = ghostBond[id] + paid - fee; // the provider and its payees together
        uint256 treasuryBefore = escrow.claimable(treasury);
        uint256 othersBefore = _claimableButTreasury();
        try settlement.settleCapacity(id) {
            if (outstanding != 0) payoutMismatches++; // closed with units unsettled
            if (escrow.claimable(treasury) - treasuryBefore != toTreasury) payoutMismatches++;
            if (_claimableButTreasury() - othersBefore != toProvider) payoutMismatches++;
            Funds memory f = escrow.funds(id);
            if (f.bond != 0 || f.premium != 0) payoutMismatches++;
            ghostBond[id] = 0;
            ghostPremium[id] = 0;
            oks[uint256(A.SettleCapacity)]++;
        } catch {
            reverts[uint256(A.SettleCapacity)]++;
            if (outstanding == 0) unexpectedSettleFailures++;
        }
    }

    /// @dev Settles an open booking of an active capacity once its last hour can no longer be
    ///      attested, and checks every payout against the model: the delivered units' backing to
    ///      the provider less the fee, the rest to the holder, the slash by the window's grace.
    function settleBooking(uint256 bookingSeed) external act(A.SettleBooking) {
        uint256 n = _bookings.length;
        for (uint256 k; k < n; ++k) {
            BookingRec storage b = _bookings[_at(bookingSeed, k, n)];
            if (b.closeReason != CloseReason.None) continue;
            if (gpuHours.capacity(b.capacityId).status != CapacityStatus.Active) continue;
            Terms memory t = gpuHours.terms(b.capacityId);
            if (currentTime < uint256(b.start) + uint256(b.hours_) * HOUR + t.maxDelay + 1) continue;
            _settleBooking(b, t);
            return;
        }
    }

    /// @dev What settling a booking must move, by the model, and the balances before it.
    struct Due {
        uint256 units;
        uint256 released; // backing of the delivered units, to the provider's payees (less the fee)
        uint256 refunded; // backing of the others, to the holder
        uint256 slash;
        bool failed;
        Funds f;
        uint256 holderBefore;
        uint256 treasuryBefore;
    }

    function _due(BookingRec storage b, Terms memory t) internal view returns (Due memory d) {
        Capacity memory c = gpuHours.capacity(b.capacityId);
        uint256 first = (b.start - c.start) / HOUR;
        (uint256 delivered, uint256 failed) = _ghostCount(c, first, b.hours_, t);
        (, uint256 failedBefore) = _ghostCount(c, 0, first, t);
        uint256 graceLeft = failedBefore >= t.graceHours ? 0 : t.graceHours - failedBefore;
        d.slash = uint256(b.gpus) * (failed - _min(failed, graceLeft)) * t.slashPerGpuHour;
        d.failed = failed != 0;
        d.units = uint256(b.gpus) * b.hours_;
        d.released = uint256(b.gpus) * delivered * t.backing;
        d.refunded = d.units * t.backing - d.released;
        d.f = escrow.funds(b.capacityId);
        d.holderBefore = escrow.claimable(b.holder);
        d.treasuryBefore = escrow.claimable(treasury);
    }

    function _settleBooking(BookingRec storage b, Terms memory t) internal {
        Due memory d = _due(b, t);
        try settlement.settleBooking(b.bookingId) {
            b.closeReason = d.failed ? CloseReason.ProviderFailed : CloseReason.Completed;
            ghostPaidOut[b.capacityId] += d.units;
            ghostSettled[b.capacityId] += d.units;
            ghostBond[b.capacityId] -= d.slash;
            _checkSettled(b, d);
            // a booking settles once
            try settlement.settleBooking(b.bookingId) {
                doubleSettles++;
            } catch {}
            oks[uint256(A.SettleBooking)]++;
        } catch {
            reverts[uint256(A.SettleBooking)]++;
            unexpectedSettleFailures++;
        }
    }

    function _checkSettled(BookingRec storage b, Due memory d) internal {
        Funds memory a = escrow.funds(b.capacityId);
        if (d.released != 0) paidSettles++;
        if (d.slash != 0) slashingSettles++;
        if (d.f.backing - a.backing != d.released + d.refunded || d.f.bond - a.bond != d.slash) payoutMismatches++;
        if (escrow.claimable(treasury) - d.treasuryBefore != _fee(d.released)) payoutMismatches++;
        if (b.holder != gpuHours.providerOf(b.capacityId)) {
            uint256 got = escrow.claimable(b.holder) - d.holderBefore;
            if (got != d.refunded + d.slash) payoutMismatches++;
            if (got < d.refunded) refundsBelowBacking++;
        }
    }

    /// @dev Delivered and failed hours of `count` hours from hour `first` of `c`'s window, from the
    ///      ghost record of what the handler had attested, under the capacity's recorded terms.
    function _ghostCount(Capacity memory c, uint256 first, uint256 count, Terms memory t)
        internal
        view
        returns (uint256 delivered, uint256 failed)
    {
        uint64 e0 = uint64(c.start / HOUR + first);
        for (uint64 e = e0; e < e0 + count; ++e) {
            uint256 u = ghostUptime[c.nodeId][e];
            if (u == 0) continue;
            if (u - 1 >= t.minUptimeBps) ++delivered;
            else ++failed;
        }
    }

    function _fee(uint256 amount) internal view returns (uint256) {
        return (amount * escrow.feeBps() + 9_999) / 10_000;
    }

    /// @dev Σ claimable over every account the escrow could credit but the treasury.
    function _claimableButTreasury() internal view returns (uint256 sum) {
        uint256 n = accountCount();
        for (uint256 i; i < n; ++i) {
            address a = _account(i);
            if (a != treasury) sum += escrow.claimable(a);
        }
    }

    // ================================================================== orders

    function postPrimary(uint256 capSeed, uint256 amountSeed, uint256 priceSeed, uint256 expirySeed)
        external
        act(A.PostPrimary)
    {
        if (_orders.length >= MAX_ORDERS) return;
        (bool found, uint256 id) = _mintableCap(capSeed);
        if (!found) return;
        uint256 cap = gpuHours.supplyCap(id);
        _post(gpuHours.providerOf(id), OrderKind.PrimarySell, id, _bound(amountSeed, 1, cap), priceSeed, expirySeed);
        oks[uint256(A.PostPrimary)]++;
    }

    function postSell(uint256 holderSeed, uint256 capSeed, uint256 amountSeed, uint256 priceSeed, uint256 expirySeed)
        external
        act(A.PostSell)
    {
        if (_orders.length >= MAX_ORDERS) return;
        (bool found, uint256 id, address holder) = _holding(capSeed, holderSeed);
        if (!found) return;
        uint256 bal = gpuHours.balanceOf(holder, id);
        _post(holder, OrderKind.Sell, id, _bound(amountSeed, 1, bal), priceSeed, expirySeed);
        oks[uint256(A.PostSell)]++;
    }

    function postBid(uint256 makerSeed, uint256 capSeed, uint256 amountSeed, uint256 priceSeed, uint256 expirySeed)
        external
        act(A.PostBid)
    {
        if (_orders.length >= MAX_ORDERS) return;
        (bool found, uint256 id) = _mintableCap(capSeed);
        if (!found) return;
        _post(_actor(makerSeed), OrderKind.Buy, id, _bound(amountSeed, 1, 64), priceSeed, expirySeed);
        oks[uint256(A.PostBid)]++;
    }

    /// @dev One call in eight probes the supply cap instead: a fresh primary order for one unit
    ///      more than the capacity has room for, filled whole, which must be refused.
    function fillPrimary(uint256 orderSeed, uint256 takerSeed, uint256 amountSeed) external act(A.FillPrimary) {
        if (amountSeed % 8 != 0) {
            if (_primaryFill(orderSeed, takerSeed, amountSeed)) oks[uint256(A.FillPrimary)]++;
            return;
        }
        if (_orders.length >= MAX_ORDERS) return;
        (bool found, uint256 id) = _mintableCap(orderSeed);
        if (!found) return;
        uint256 over = _mintRoom(id) + 1;
        _post(gpuHours.providerOf(id), OrderKind.PrimarySell, id, over, orderSeed, takerSeed);
        if (_fill(_orders.length - 1, _actor(takerSeed), over)) capOverruns++; // minted past the cap
        else oks[uint256(A.FillPrimary)]++; // the refusal is the work here
    }

    function fillSell(uint256 orderSeed, uint256 takerSeed, uint256 amountSeed) external act(A.FillSell) {
        (bool found, uint256 i) = _pickLiveOrder(orderSeed, OrderKind.Sell);
        if (!found) {
            if (_orders.length >= MAX_ORDERS) return;
            (bool held, uint256 id, address holder) = _holding(orderSeed, _wrap(takerSeed, 1));
            if (!held) return;
            _post(
                holder, OrderKind.Sell, id, _bound(amountSeed, 1, gpuHours.balanceOf(holder, id)), orderSeed, takerSeed
            );
            i = _orders.length - 1;
        }
        Order memory o = _orders[i].order;
        uint256 most = _min(o.amount - ghostFilled[_orders[i].hash], gpuHours.balanceOf(o.maker, o.capacityId));
        address taker = _actor(takerSeed);
        if (taker == o.maker) taker = _actor(_wrap(takerSeed, 1));
        if (_fill(i, taker, _bound(amountSeed, 1, most))) oks[uint256(A.FillSell)]++;
    }

    /// @dev A holder (not the provider) sells into a bid: a secondary transfer.
    function fillBidByHolder(uint256 orderSeed, uint256 takerSeed, uint256 amountSeed) external act(A.FillBidByHolder) {
        (bool found, uint256 i) = _pickLiveOrder(orderSeed, OrderKind.Buy);
        address taker;
        if (found) taker = _bidTaker(i, takerSeed);
        if (taker == address(0)) {
            // no bid that a holder can take: a holder's hours attract a new bid
            if (_orders.length >= MAX_ORDERS) return;
            (bool held, uint256 id, address holder) = _holding(orderSeed, takerSeed);
            if (!held || holder == gpuHours.providerOf(id)) return;
            address maker = _actor(_wrap(takerSeed, 1));
            if (maker == holder) maker = _actor(_wrap(takerSeed, 2));
            _post(maker, OrderKind.Buy, id, _bound(amountSeed, 1, 64), orderSeed, takerSeed);
            i = _orders.length - 1;
            taker = holder;
        }
        Order memory o = _orders[i].order;
        uint256 most = _min(o.amount - ghostFilled[_orders[i].hash], gpuHours.balanceOf(taker, o.capacityId));
        if (_fill(i, taker, _bound(amountSeed, 1, most))) oks[uint256(A.FillBidByHolder)]++;
    }

    /// @dev The provider fills a bid by minting: the bidder pays into escrow.
    function fillBidByProvider(uint256 orderSeed, uint256 amountSeed) external act(A.FillBidByProvider) {
        uint256 n = _orders.length;
        bool found;
        uint256 i;
        for (uint256 k; k < n; ++k) {
            i = _at(orderSeed, k, n);
            OrderRec storage r = _orders[i];
            if (
                r.order.kind == OrderKind.Buy && !_isDead(i) && ghostFilled[r.hash] < r.order.amount
                    && _mintRoom(r.order.capacityId) != 0
            ) {
                found = true;
                break;
            }
        }
        if (!found) {
            if (n >= MAX_ORDERS) return;
            (bool ok, uint256 id) = _mintableCap(orderSeed);
            if (!ok) return;
            _post(_actor(orderSeed >> 8), OrderKind.Buy, id, _bound(amountSeed, 1, 64), orderSeed, amountSeed);
            i = n;
        }
        Order memory o = _orders[i].order;
        uint256 most = _min(o.amount - ghostFilled[_orders[i].hash], _mintRoom(o.capacityId));
        if (most == 0) return;
        if (_fill(i, gpuHours.providerOf(o.capacityId), _bound(amountSeed, 1, most))) {
            oks[uint256(A.FillBidByProvider)]++;
        }
    }

    /// @dev One taker fills two live sell-side orders (primary, or primary and secondary) in one
    ///      all-or-nothing batch. Legs on one order or one capacity share what is left, so they fit
    ///      together, except one batch in four, which asks for too much and must revert whole.
    function fillBatch(uint256 seedA, uint256 seedB, uint256 takerSeed, uint256 amountSeed) external act(A.FillBatch) {
        (bool foundA, uint256 ia) = _livePrimary(seedA);
        if (!foundA) return;
        (bool foundB, uint256 ib) = seedB % 2 == 0 ? _pickLiveOrder(seedB, OrderKind.Sell) : (false, 0);
        if (!foundB) (foundB, ib) = _livePrimary(seedB);
        if (!foundB) return;
        bool shared = ia == ib || _orders[ia].order.capacityId == _orders[ib].order.capacityId;
        bool greedy = shared && takerSeed % 4 == 0;
        Fill[] memory fills = new Fill[](2);
        bool ok;
        (fills[0], ok) = _batchLeg(ia, amountSeed, shared && !greedy);
        if (!ok) return;
        (fills[1], ok) = _batchLeg(ib, amountSeed >> 128, shared && !greedy);
        if (!ok) return;
        if (greedy) fills[1].amount = fills[1].order.amount + 1; // more than the order ever had
        address taker = _actor(takerSeed);
        vm.prank(taker);
        try exchange.fillBatch(fills) {
            if (greedy) batchOverfills++;
            _recordFill(ia, taker, fills[0].amount);
            _recordFill(ib, taker, fills[1].amount);
            oks[uint256(A.FillBatch)]++;
        } catch {
            // all or nothing: the first leg, which alone would have gone through, must leave no
            // trace (the order-fill invariant compares every order's filled amount with the ghost)
            reverts[uint256(A.FillBatch)]++;
        }
    }

    function _batchLeg(uint256 i, uint256 seed, bool halve) internal view returns (Fill memory leg, bool ok) {
        OrderRec storage r = _orders[i];
        uint256 most = r.order.amount - ghostFilled[r.hash];
        if (r.order.kind == OrderKind.PrimarySell) most = _min(most, _mintRoom(r.order.capacityId));
        else most = _min(most, gpuHours.balanceOf(r.order.maker, r.order.capacityId));
        if (halve) most /= 2;
        if (most == 0) return (leg, false);
        return (Fill({order: r.order, signature: r.sig, amount: _bound(seed, 1, most)}), true);
    }

    /// @notice Tries to fill an order that is cancelled, stale or expired (making one when there is
    ///         none: a fresh primary order its maker cancels). Must always fail.
    function fillDead(uint256 orderSeed, uint256 takerSeed, uint256 amountSeed) external act(A.FillDead) {
        uint256 n = _orders.length;
        bool found;
        uint256 i;
        for (uint256 k; k < n; ++k) {
            i = _at(orderSeed, k, n);
            if (_isDead(i)) {
                found = true;
                break;
            }
        }
        if (!found) {
            (bool live, uint256 j) = _livePrimary(orderSeed);
            if (!live) return;
            _cancel(j);
            i = j;
        }
        OrderRec storage r = _orders[i];
        uint256 amount = _bound(amountSeed, 1, _max(r.order.amount - ghostFilled[r.hash], 1));
        address taker = _actor(takerSeed);
        if (r.order.kind == OrderKind.Buy) {
            // the provider can always mint, which gives a dead bid its best chance to go through
            taker = gpuHours.providerOf(r.order.capacityId);
        }
        _fill(i, taker, amount);
        oks[uint256(A.FillDead)]++; // counts attempts that reached the exchange
    }

    function cancelOrder(uint256 orderSeed) external act(A.CancelOrder) {
        uint256 n = _orders.length;
        if (n == 0) return;
        _cancel(orderSeed % n);
        oks[uint256(A.CancelOrder)]++;
    }

    /// @dev One call in three bumps a counter, which kills every open order of that maker.
    function incrementCounter(uint256 actorSeed) external act(A.IncrementCounter) {
        if (actorSeed % 3 != 0) return;
        address a = _actor(actorSeed / 3);
        vm.prank(a);
        uint256 c = exchange.incrementCounter();
        ghostCounter[a]++;
        require(c == ghostCounter[a], "counter");
        oks[uint256(A.IncrementCounter)]++;
    }

    // ================================================================== holders

    function transferHours(uint256 capSeed, uint256 fromSeed, uint256 toSeed, uint256 amountSeed)
        external
        act(A.TransferHours)
    {
        (bool found, uint256 id, address from) = _holding(capSeed, fromSeed);
        if (!found) return;
        address to = _actor(toSeed);
        uint256 amount = _bound(amountSeed, 1, gpuHours.balanceOf(from, id));
        vm.prank(from);
        gpuHours.safeTransferFrom(from, to, id, amount, "");
        oks[uint256(A.TransferHours)]++;
    }

    /// @dev Activates hours of a holding at a random start, length and width inside the window; half
    ///      the time from the first open hour with as many GPUs as the holder can, so bookings pile
    ///      up and some must be refused. The ghost hour book predicts the outcome; a surprise either
    ///      way is counted. One call in eight probes the window's end instead (one GPU for one hour
    ///      more than is left), which must be refused.
    function activate(uint256 capSeed, uint256 holderSeed, uint256 startSeed, uint256 hoursSeed, uint256 gpusSeed)
        external
        act(A.Activate)
    {
        (bool found, uint256 id, address holder) = _holding(capSeed, holderSeed);
        if (!found) return;
        Capacity memory c = gpuHours.capacity(id);
        uint256 earliest = _max(c.start, _hourNow());
        if (earliest >= c.end) return;
        uint256 start =
            startSeed % 2 == 0 ? earliest : earliest + _bound(startSeed, 0, (c.end - earliest) / HOUR - 1) * HOUR;
        uint256 bal = gpuHours.balanceOf(holder, id);
        uint256 gpus = gpusSeed % 2 == 0 ? _min(c.gpuCount, bal) : _bound(gpusSeed, 1, _min(c.gpuCount, bal));
        uint256 hours_ = _bound(hoursSeed, 1, _min((c.end - start) / HOUR, bal / gpus));
        bool pastEnd = hoursSeed % 8 == 0 && bal > (c.end - start) / HOUR;
        if (pastEnd) (gpus, hours_) = (1, (c.end - start) / HOUR + 1);
        bool fits = !pastEnd && _fits(id, (start - c.start) / HOUR, hours_, gpus, c.gpuCount);

        vm.prank(holder);
        try gpuHours.activate(id, uint40(start), uint16(hours_), uint8(gpus)) returns (uint256 bookingId) {
            if (!fits) bookingMispredictions++;
            if (pastEnd) return; // already counted; the ghost hour book has no hour past the window
            _recordBooking(id, bookingId, holder, start, hours_, gpus);
            oks[uint256(A.Activate)]++;
        } catch {
            reverts[uint256(A.Activate)]++;
            if (fits) bookingMispredictions++;
            else if (!pastEnd) overbookRejections++;
        }
    }

    function _fits(uint256 id, uint256 first, uint256 hours_, uint256 gpus, uint256 limit)
        internal
        view
        returns (bool)
    {
        for (uint256 h = first; h < first + hours_; ++h) {
            if (ghostBookedAt[id][h] + gpus > limit) return false;
        }
        return true;
    }

    function _recordBooking(uint256 id, uint256 bookingId, address holder, uint256 start, uint256 hours_, uint256 gpus)
        internal
    {
        Capacity memory c = gpuHours.capacity(id);
        uint256 first = (start - c.start) / HOUR;
        for (uint256 h = first; h < first + hours_; ++h) {
            ghostBookedAt[id][h] += gpus;
        }
        ghostBookedUnits[id] += gpus * hours_;
        ghostBurned[id] += gpus * hours_;
        _bookings.push(
            BookingRec({
                bookingId: bookingId,
                capacityId: id,
                holder: holder,
                start: uint40(start),
                hours_: uint16(hours_),
                gpus: uint8(gpus),
                refunded: false,
                closeReason: CloseReason.None
            })
        );
        // the public view and the packed words agree with the ghost on every hour of this window,
        // and the view reads nothing outside it
        uint256[] memory stored = storedHours(id);
        for (uint256 h; h < stored.length; ++h) {
            uint256 viewed = gpuHours.bookedAt(id, c.start + h * HOUR);
            if (viewed != ghostBookedAt[id][h] || stored[h] != viewed) bookedAtMismatches++;
        }
        if (gpuHours.bookedAt(id, c.end) != 0 || gpuHours.bookedAt(id, c.start - HOUR) != 0) bookedAtMismatches++;
    }

    function redeemCancelled(uint256 capSeed, uint256 holderSeed, uint256 amountSeed) external act(A.RedeemCancelled) {
        (bool found, uint256 id, address holder) = _pickHolding(capSeed, holderSeed, Pick.Cancelled);
        if (!found) return;
        uint256 amount = _bound(amountSeed, 1, gpuHours.balanceOf(holder, id));
        uint256 before = escrow.claimable(holder);
        vm.prank(holder);
        gpuHours.redeemCancelled(id, amount);
        ghostBurned[id] += amount;
        ghostPaidOut[id] += amount;
        ghostBond[id] -= amount * escrow.funds(id).penaltyPerUnit;
        _checkRefund(id, holder, amount, escrow.claimable(holder) - before);
        oks[uint256(A.RedeemCancelled)]++;
    }

    /// @dev A cancelled unit refunds exactly its backing plus the penalty kept from the bond for it;
    ///      never less than its backing. (The provider refunding itself is credited the same.)
    function _checkRefund(uint256 id, address holder, uint256 units, uint256 got) internal {
        uint256 backing = units * gpuHours.terms(id).backing;
        if (got < backing) refundsBelowBacking++;
        if (holder != gpuHours.providerOf(id) && got != backing + units * escrow.funds(id).penaltyPerUnit) {
            payoutMismatches++;
        }
    }

    function refundBooking(uint256 bookingSeed, uint256 callerSeed) external act(A.RefundBooking) {
        uint256 n = _bookings.length;
        for (uint256 k; k < n; ++k) {
            BookingRec storage b = _bookings[_at(bookingSeed, k, n)];
            if (b.closeReason != CloseReason.None || gpuHours.capacity(b.capacityId).status != CapacityStatus.Cancelled)
            {
                continue;
            }
            uint256 before = escrow.claimable(b.holder);
            vm.prank(_actor(callerSeed));
            gpuHours.refundBooking(b.bookingId);
            uint256 units = uint256(b.gpus) * b.hours_;
            ghostPaidOut[b.capacityId] += units;
            ghostBond[b.capacityId] -= units * escrow.funds(b.capacityId).penaltyPerUnit;
            _checkRefund(b.capacityId, b.holder, units, escrow.claimable(b.holder) - before);
            b.refunded = true;
            b.closeReason = CloseReason.ProviderCancelled;
            // a booking is refunded once
            try gpuHours.refundBooking(b.bookingId) {
                doubleRefunds++;
            } catch {}
            oks[uint256(A.RefundBooking)]++;
            return;
        }
    }

    /// @dev Settles what the actors still hold of a capacity past its window and oracle delay; each
    ///      holder's units pay the provider for the window's delivered share and refund the rest.
    function settleUnused(uint256 capSeed, uint256 dupSeed) external act(A.SettleUnused) {
        (bool found, uint256 id) = _pickCap(capSeed, Pick.Settleable);
        if (!found) return;
        Unused memory u = _expectUnused(id);
        // the actors, one of them listed twice now and then (it must be settled once)
        address[] memory holders = new address[](dupSeed % 2 == 0 ? N_ACTORS : N_ACTORS + 1);
        for (uint256 k; k < N_ACTORS; ++k) {
            holders[k] = actors[k];
        }
        if (holders.length > N_ACTORS) holders[N_ACTORS] = actors[dupSeed % N_ACTORS];
        Funds memory f = escrow.funds(id);
        try settlement.settleUnused(id, holders) {
            ghostBurned[id] += u.held;
            ghostPaidOut[id] += u.held;
            ghostSettled[id] += u.held;
            ghostBond[id] -= u.slash;
            Funds memory a = escrow.funds(id);
            if (f.backing - a.backing != u.held * u.backing || f.bond - a.bond != u.slash) payoutMismatches++;
            for (uint256 k; k < N_ACTORS; ++k) {
                if (actors[k] == u.provider) continue;
                if (escrow.claimable(actors[k]) - u.before[k] != u.want[k]) payoutMismatches++;
            }
            oks[uint256(A.SettleUnused)]++;
        } catch {
            reverts[uint256(A.SettleUnused)]++;
            unexpectedSettleFailures++;
        }
    }

    /// @dev What settling the actors' unused units of `id` must move, by the model.
    struct Unused {
        address provider;
        uint256 backing;
        uint256 held;
        uint256 slash;
        uint256[] want; // credited to each actor
        uint256[] before; // each actor's claimable before
    }

    function _expectUnused(uint256 id) internal view returns (Unused memory u) {
        Capacity memory c = gpuHours.capacity(id);
        Terms memory t = gpuHours.terms(id);
        uint256 windowHours = (c.end - c.start) / HOUR;
        (uint256 delivered, uint256 failed) = _ghostCount(c, 0, windowHours, t);
        uint256 beyond = failed > t.graceHours ? failed - t.graceHours : 0;
        u.provider = gpuHours.providerOf(id);
        u.backing = t.backing;
        u.want = new uint256[](N_ACTORS);
        u.before = new uint256[](N_ACTORS);
        for (uint256 k; k < N_ACTORS; ++k) {
            uint256 units = gpuHours.balanceOf(actors[k], id);
            u.held += units;
            uint256 s = units * beyond * t.slashPerGpuHour / windowHours; // rounded once, at the end
            u.slash += s;
            u.want[k] = (units - units * delivered / windowHours) * t.backing + s;
            u.before[k] = escrow.claimable(actors[k]);
        }
    }

    // ================================================================== time

    function warp(uint256 hoursSeed) external act(A.Warp) {
        currentTime += _bound(hoursSeed, 1, 30) * HOUR;
        vm.warp(currentTime);
        oks[uint256(A.Warp)]++;
    }

    // ================================================================== oracle and escrow

    /// @dev The oracle attests every hour of a node that ended and can still be attested (within
    ///      its delay, after the node's last attested hour), each delivered or failed at random.
    function attest(uint256 nodeSeed, uint256 uptimeSeed) external act(A.Attest) {
        if (nodeIds.length == 0) return;
        uint64 nodeId = nodeIds[nodeSeed % nodeIds.length];
        uint64 nowEpoch = uint64(currentTime / HOUR);
        uint64 lo = nowEpoch - uint64(oracle.maxDelay() / HOUR);
        if (lo <= ghostLastEpoch[nodeId]) lo = ghostLastEpoch[nodeId] + 1;
        if (lo >= nowEpoch) return;
        uint256 n = nowEpoch - lo;
        Attestation[] memory atts = new Attestation[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = _sub(uptimeSeed, i);
            // two in three delivered (>= 9,000 bps), the rest failed
            uint16 up = r % 3 != 0 ? uint16(9_000 + (r >> 8) % 1_001) : uint16((r >> 8) % 9_000);
            atts[i] = _att(nodeId, lo + uint64(i), up, 1_350_000);
            atts[i].gpuSeconds = 255 * 3600; // whatever is booked got its GPU-seconds: uptime decides
        }
        Report memory rep = _report(1, atts);
        oracle.submit(rep, _signWith(oracle, rep, _first(oracleKeys, 2)));
        for (uint256 i; i < n; ++i) {
            ghostUptime[nodeId][lo + uint64(i)] = uint256(atts[i].uptimeBps) + 1;
        }
        ghostLastEpoch[nodeId] = nowEpoch - 1;
        oks[uint256(A.Attest)]++;
    }

    /// @dev Anyone but the wired settlement (actors, the owner, the other contracts) calling the
    ///      escrow's settler functions must be refused.
    function forbiddenSettle(uint256 capSeed, uint256 callerSeed, uint256 fnSeed) external act(A.ForbiddenSettle) {
        (bool found, uint256 id) = _pickCap(capSeed, Pick.HasBacking);
        if (!found) return;
        address[4] memory others = [_actor(callerSeed), owner, address(gpuHours), address(exchange)];
        address caller = others[(callerSeed >> 8) % 4];
        vm.prank(caller);
        uint256 fn = fnSeed % 3;
        if (fn == 0) {
            try escrow.settle(id, caller, 1, fnSeed % 2) {
                forbiddenSuccesses++;
            } catch {}
        } else if (fn == 1) {
            try escrow.slashBond(id, caller, 1) {
                forbiddenSuccesses++;
            } catch {}
        } else {
            try escrow.settleWindow(id, caller, 1, 1) {
                forbiddenSuccesses++;
            } catch {}
        }
        oks[uint256(A.ForbiddenSettle)]++; // counts attempts that reached the escrow
    }

    /// @dev The owner changes the SLA: only capacities created afterwards take it.
    function setSla(uint256 seed) external act(A.SetSla) {
        Sla memory sla = Sla({
            minUptimeBps: uint16(_bound(seed, 5_000, 10_000)),
            minGflopsPerJoule: 0,
            graceHours: uint8((seed >> 16) % 3),
            slashPerGpuHour: uint64((seed >> 32) % (USDC / 10))
        });
        vm.prank(owner);
        settlement.setSla(sla);
        oks[uint256(A.SetSla)]++;
    }

    /// @dev Settling a booking already settled must be refused.
    function settleTwice(uint256 bookingSeed) external act(A.SettleTwice) {
        uint256 n = _bookings.length;
        for (uint256 k; k < n; ++k) {
            BookingRec storage b = _bookings[_at(bookingSeed, k, n)];
            if (b.closeReason == CloseReason.None) continue;
            try settlement.settleBooking(b.bookingId) {
                doubleSettles++;
            } catch {}
            oks[uint256(A.SettleTwice)]++;
            return;
        }
    }

    function withdraw(uint256 accountSeed, uint256 toSeed) external act(A.Withdraw) {
        uint256 n = accountCount();
        for (uint256 k; k < n; ++k) {
            address a = _account(_wrap(accountSeed, k));
            uint256 due = escrow.claimable(a);
            if (due == 0) continue;
            address to = toSeed % 2 == 0 ? a : _actor(toSeed);
            uint256 before = usdc.balanceOf(to);
            vm.prank(a);
            uint256 paid = escrow.withdraw(to);
            require(paid == due && usdc.balanceOf(to) == before + due, "withdraw paid");
            oks[uint256(A.Withdraw)]++;
            return;
        }
    }

    function setSplit(uint256 providerSeed, uint256 mode) external act(A.SetSplit) {
        address p = actors[providerSeed % N_PROVIDERS];
        Payee[] memory split;
        mode %= 3;
        if (mode == 1) {
            split = new Payee[](3);
            split[0] = Payee(payees[0], 5_000);
            split[1] = Payee(payees[1], 3_333);
            split[2] = Payee(payees[2], 1_667);
        } else if (mode == 2) {
            split = new Payee[](2);
            split[0] = Payee(p, 2_500);
            split[1] = Payee(payees[providerSeed % 3], 7_500);
        }
        vm.prank(p);
        escrow.setRevenueSplit(split);
        oks[uint256(A.SetSplit)]++;
    }

    // ================================================================== views for the invariants

    /// @notice Every account the escrow could ever credit: actors, payees and the treasury.
    function accountCount() public view returns (uint256) {
        return N_ACTORS + payees.length + 1;
    }

    function allActors() external view returns (address[] memory) {
        return actors;
    }

    function allAccounts() external view returns (address[] memory list) {
        list = new address[](accountCount());
        for (uint256 i; i < list.length; ++i) {
            list[i] = _account(i);
        }
    }

    function allCapIds() external view returns (uint256[] memory) {
        return capIds;
    }

    /// @notice The ghost hour book of `id`: GPUs booked in each hour of its window, by hour index.
    function ghostHours(uint256 id) external view returns (uint256[] memory counts) {
        Capacity memory c = gpuHours.capacity(id);
        counts = new uint256[]((c.end - c.start) / HOUR);
        for (uint256 i; i < counts.length; ++i) {
            counts[i] = ghostBookedAt[id][i];
        }
    }

    /// @notice What the ghosts say about one signed order, compactly.
    struct OrderView {
        bytes32 hash;
        uint256 amount;
        uint256 filled;
        bool cancelled;
    }

    function allOrders() external view returns (OrderView[] memory list) {
        list = new OrderView[](_orders.length);
        for (uint256 i; i < list.length; ++i) {
            OrderRec storage r = _orders[i];
            bytes32 h = r.hash;
            list[i] = OrderView({hash: h, amount: r.order.amount, filled: ghostFilled[h], cancelled: ghostCancelled[h]});
        }
    }

    /// @notice GPUs booked in each hour of `id`'s window as its packed HourBook words hold them in
    ///         storage, read with vm.load: the whole window in a couple of reads. The handler checks
    ///         after every activation that `bookedAt` agrees with this decoding hour by hour.
    function storedHours(uint256 id) public view returns (uint256[] memory counts) {
        Capacity memory c = gpuHours.capacity(id);
        counts = new uint256[]((c.end - c.start) / HOUR);
        bytes32 base = keccak256(abi.encode(id, bookedSlot));
        uint256 word;
        for (uint256 i; i < counts.length; ++i) {
            if (i & 31 == 0) word = uint256(vm.load(address(gpuHours), keccak256(abi.encode(i >> 5, base))));
            counts[i] = (word >> ((i & 31) << 3)) & 0xff;
        }
    }

    function allBookings() external view returns (BookingRec[] memory) {
        return _bookings;
    }

    function actionName(uint256 i) public pure returns (string memory) {
        string[N_ACTIONS] memory names = [
            "registerNode",
            "transferNode",
            "createCapacity",
            "postPrimary",
            "postSell",
            "postBid",
            "fillPrimary",
            "fillSell",
            "fillBidByHolder",
            "fillBidByProvider",
            "fillBatch",
            "fillDead (attempts)",
            "cancelOrder",
            "incrementCounter",
            "transferHours",
            "activate",
            "cancelCapacity",
            "redeemCancelled",
            "refundBooking",
            "warp",
            "settleUnused",
            "settleCapacity",
            "settleBooking",
            "attest",
            "forbiddenSettle (tries)",
            "setSla",
            "settleTwice (tries)",
            "withdraw",
            "setSplit"
        ];
        return names[i];
    }

    /// @notice Logs, per action, how often it was called, how often it did its work, and how often
    ///         the contracts refused it (caught reverts: overbookings, dead orders, racing fills).
    function callSummary() external view {
        console2.log("action               calls / ok / refused");
        for (uint256 i; i < N_ACTIONS; ++i) {
            console2.log(summaryLine(actionName(i), calls[i], oks[i], reverts[i]));
        }
        console2.log("overbook rejections", overbookRejections);
        console2.log("dead-order fill attempts (all refused)", deadFillAttempts);
        console2.log("capacities / orders / bookings", capIds.length, _orders.length, _bookings.length);
    }

    function summaryLine(string memory name, uint256 c, uint256 o, uint256 r) public pure returns (string memory) {
        return string.concat(_pad(name, 20), " ", vm.toString(c), " / ", vm.toString(o), " / ", vm.toString(r));
    }

    // ================================================================== internal

    function _post(address maker, OrderKind kind, uint256 id, uint256 amount, uint256 priceSeed, uint256 expirySeed)
        internal
    {
        Order memory o = Order({
            maker: maker,
            kind: kind,
            capacityId: id,
            amount: amount,
            price: _bound(priceSeed, 0, MAX_PRICE),
            expiry: currentTime + _bound(expirySeed, 0, 48) * HOUR,
            salt: uint256(keccak256(abi.encode(_orders.length, priceSeed, expirySeed))),
            counter: ghostCounter[maker]
        });
        bytes32 h = exchange.hashOrder(o);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keyOf[maker], h);
        _orders.push(OrderRec({order: o, sig: abi.encodePacked(r, s, v), hash: h}));
    }

    /// @dev Fills order `i` for `taker`; records it on success. Returns whether it went through.
    function _fill(uint256 i, address taker, uint256 amount) internal returns (bool) {
        OrderRec storage r = _orders[i];
        Order memory o = r.order;
        bytes memory sig = r.sig;
        bool dead = _isDead(i);
        if (dead) deadFillAttempts++;
        vm.prank(taker);
        try exchange.fill(o, sig, amount) {
            if (dead) deadFillSuccesses++;
            _recordFill(i, taker, amount);
            return true;
        } catch {
            reverts[uint256(_current)]++;
            return false;
        }
    }

    function _recordFill(uint256 i, address taker, uint256 amount) internal {
        OrderRec storage r = _orders[i];
        ghostFilled[r.hash] += amount;
        OrderKind kind = r.order.kind;
        if (
            kind == OrderKind.PrimarySell || (kind == OrderKind.Buy && taker == gpuHours.providerOf(r.order.capacityId))
        ) {
            ghostMinted[r.order.capacityId] += amount;
            uint256 total = amount * r.order.price;
            uint256 backed = amount * gpuHours.terms(r.order.capacityId).backing;
            if (total > backed) ghostPremium[r.order.capacityId] += total - backed;
            _checkUsable(r.order.capacityId);
        }
    }

    /// @dev Right after a successful mint: the units out never exceed what the window can still deliver.
    function _checkUsable(uint256 id) internal {
        if (gpuHours.usableUnits(id) < gpuHours.totalSupply(id)) unusableMints++;
    }

    function _isDead(uint256 i) internal view returns (bool) {
        OrderRec storage r = _orders[i];
        return ghostCancelled[r.hash] || r.order.counter != ghostCounter[r.order.maker] || currentTime > r.order.expiry;
    }

    /// @dev A live order of `kind` that can be filled now, scanning from `seed`: not cancelled,
    ///      stale, expired or filled; a primary order whose maker still provides a capacity with room;
    ///      a sell order whose maker still holds hours.
    function _pickLiveOrder(uint256 seed, OrderKind kind) internal view returns (bool, uint256) {
        uint256 n = _orders.length;
        for (uint256 k; k < n; ++k) {
            uint256 i = _at(seed, k, n);
            OrderRec storage r = _orders[i];
            if (r.order.kind != kind || _isDead(i) || ghostFilled[r.hash] >= r.order.amount) continue;
            uint256 id = r.order.capacityId;
            if (kind == OrderKind.PrimarySell) {
                if (gpuHours.providerOf(id) != r.order.maker || _mintRoom(id) == 0) continue;
            } else if (kind == OrderKind.Sell) {
                if (gpuHours.balanceOf(r.order.maker, id) == 0) continue;
            }
            return (true, i);
        }
        return (false, 0);
    }

    /// @dev A live primary order, or a fresh one on a mintable capacity (made if need be).
    function _livePrimary(uint256 seed) internal returns (bool, uint256) {
        (bool found, uint256 i) = _pickLiveOrder(seed, OrderKind.PrimarySell);
        if (found) return (true, i);
        if (_orders.length >= MAX_ORDERS) return (false, 0);
        (bool ok, uint256 id) = _mintableCap(seed);
        if (!ok) return (false, 0);
        uint256 s = _sub(seed, 1);
        _post(gpuHours.providerOf(id), OrderKind.PrimarySell, id, _bound(s, 1, _mintRoom(id)), s >> 64, s >> 128);
        return (true, _orders.length - 1);
    }

    function _primaryFill(uint256 orderSeed, uint256 takerSeed, uint256 amountSeed) internal returns (bool) {
        (bool found, uint256 i) = _livePrimary(orderSeed);
        if (!found) return false;
        Order memory o = _orders[i].order;
        uint256 most = _min(o.amount - ghostFilled[_orders[i].hash], _mintRoom(o.capacityId));
        return _fill(i, _actor(takerSeed), _bound(amountSeed, 1, most));
    }

    /// @dev An actor holding hours of a capacity whose window has not ended; buys some first when
    ///      nobody does.
    function _holding(uint256 capSeed, uint256 holderSeed) internal returns (bool, uint256, address) {
        (bool found, uint256 id, address holder) = _pickHolding(capSeed, holderSeed, Pick.Mintable);
        if (found) return (true, id, holder);
        if (!_primaryFill(capSeed, holderSeed, _sub(capSeed, 2))) return (false, 0, address(0));
        return _pickHolding(capSeed, holderSeed, Pick.Mintable);
    }

    /// @dev A holder, not the provider nor the bidder, who can sell into bid `i`; zero if none.
    function _bidTaker(uint256 i, uint256 seed) internal view returns (address) {
        Order storage o = _orders[i].order;
        address provider = gpuHours.providerOf(o.capacityId);
        for (uint256 k; k < N_ACTORS; ++k) {
            address a = _actor(_wrap(seed, k));
            if (a != provider && a != o.maker && gpuHours.balanceOf(a, o.capacityId) != 0) return a;
        }
        return address(0);
    }

    /// @dev Units of `id` that can still be minted now (0 once it is not active or its window is over).
    function _mintRoom(uint256 id) internal view returns (uint256) {
        Capacity memory c = gpuHours.capacity(id);
        if (c.status != CapacityStatus.Active || currentTime >= c.end) return 0;
        uint256 room = gpuHours.supplyCap(id) - c.minted;
        if (currentTime < c.start) return room;
        // inside the window: units out (minted, less retired, less booked into hours over) may not
        // exceed the GPU-hours left from the current hour, by the ghost hour book
        uint256 hourIndex = (_hourNow() - c.start) / HOUR;
        uint256 left = uint256(c.gpuCount) * ((c.end - c.start) / HOUR - hourIndex);
        uint256 over;
        for (uint256 h; h < hourIndex; ++h) {
            over += ghostBookedAt[id][h];
        }
        uint256 out = c.minted - c.retired - over;
        return out >= left ? 0 : _min(room, left - out);
    }

    function _cancel(uint256 i) internal {
        OrderRec storage r = _orders[i];
        Order[] memory list = new Order[](1);
        list[0] = r.order;
        vm.prank(r.order.maker);
        exchange.cancel(list);
        ghostCancelled[r.hash] = true;
    }

    function _newCapacity(uint256 nodeSeed, uint256 startSeed, uint256 lenSeed, uint256 bondSeed)
        internal
        returns (bool, uint256)
    {
        if (capIds.length >= MAX_CAPS) return (false, 0);
        if (nodeIds.length == 0) {
            vm.prank(actors[nodeSeed % N_PROVIDERS]);
            nodeIds.push(gpuHours.registerNode("H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", _gpuSet()));
        }
        uint64 nodeId = nodeIds[nodeSeed % nodeIds.length];
        Node memory n = gpuHours.node(nodeId);
        uint256 start = _max(_hourNow(), n.lastWindowEnd) + _bound(startSeed, 0, 24) * HOUR;
        uint256 len = _bound(lenSeed, 1, MAX_WINDOW_HOURS);
        uint256 perUnit = _max(gpuHours.minBondPerUnit(), settlement.sla().slashPerGpuHour);
        uint256 bond = uint256(n.gpuCount) * len * perUnit + _bound(bondSeed, 0, 1_000 * USDC);
        // each id its own fixed backing, from a cent to 5 USDC a unit: sales land above and below it
        uint96 backing = uint96(_bound(bondSeed >> 128, 10_000, 5 * USDC));
        vm.prank(n.owner);
        uint256 id = gpuHours.createCapacity(nodeId, uint40(start), uint40(start + len * HOUR), backing, bond);
        capIds.push(id);
        ghostBond[id] = bond;
        return (true, id);
    }

    /// @dev A capacity that can still be minted, or a new one.
    function _mintableCap(uint256 seed) internal returns (bool, uint256) {
        uint256 n = capIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = capIds[_at(seed, k, n)];
            if (_mintRoom(id) != 0) return (true, id);
        }
        uint256 s = _sub(seed, 3);
        return _newCapacity(s, s >> 64, s >> 128, s >> 192);
    }

    /// @dev (seed + k) mod n without overflowing on a fuzzed seed near 2^256.
    function _at(uint256 seed, uint256 k, uint256 n) internal pure returns (uint256) {
        return (seed % n + k) % n;
    }

    /// @dev seed + k, wrapping: only ever taken modulo a small count.
    function _wrap(uint256 seed, uint256 k) internal pure returns (uint256) {
        unchecked {
            return uint128(seed) + k;
        }
    }

    function _sub(uint256 seed, uint256 k) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, k)));
    }

    function _pickCap(uint256 seed, Pick mode) internal view returns (bool, uint256) {
        uint256 n = capIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = capIds[_at(seed, k, n)];
            if (_matches(id, mode)) return (true, id);
        }
        return (false, 0);
    }

    /// @dev A (capacity matching `mode`, actor holding some of it) pair, scanning from the seeds.
    function _pickHolding(uint256 capSeed, uint256 holderSeed, Pick mode)
        internal
        view
        returns (bool, uint256, address)
    {
        uint256 n = capIds.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = capIds[_at(capSeed, k, n)];
            if (!_matches(id, mode)) continue;
            for (uint256 j; j < N_ACTORS; ++j) {
                address a = _actor(_wrap(holderSeed, j));
                if (gpuHours.balanceOf(a, id) != 0) return (true, id, a);
            }
        }
        return (false, 0, address(0));
    }

    function _matches(uint256 id, Pick mode) internal view returns (bool) {
        if (mode == Pick.Any) return true;
        if (mode == Pick.HasBacking) return escrow.funds(id).backing != 0;
        Capacity memory c = gpuHours.capacity(id);
        if (mode == Pick.Settleable) {
            return c.status == CapacityStatus.Active && currentTime > uint256(c.end) + gpuHours.terms(id).maxDelay;
        }
        if (mode == Pick.Mintable) return c.status == CapacityStatus.Active && currentTime < c.end;
        if (mode == Pick.BeforeStart) return c.status == CapacityStatus.Active && currentTime < c.start;
        if (mode == Pick.Cancelled) return c.status == CapacityStatus.Cancelled;
        if (mode == Pick.EndedActive) return c.status == CapacityStatus.Active && currentTime >= c.end;
        return false;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % N_ACTORS];
    }

    function _account(uint256 seed) internal view returns (address) {
        uint256 i = seed % accountCount();
        if (i < N_ACTORS) return actors[i];
        i -= N_ACTORS;
        if (i < payees.length) return payees[i];
        return treasury;
    }

    /// @dev A GPU UUID hash no node has registered yet (a set of GPUs registers once).
    function _gpuSet() internal returns (bytes32) {
        return keccak256(abi.encode("handler gpus", ++_gpuSets));
    }

    function _hourNow() internal view returns (uint256) {
        return currentTime - (currentTime % HOUR);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    function _pad(string memory s, uint256 width) internal pure returns (string memory) {
        bytes memory b = bytes(s);
        if (b.length >= width) return s;
        bytes memory out = new bytes(width);
        for (uint256 i; i < width; ++i) {
            out[i] = i < b.length ? b[i] : bytes1(" ");
        }
        return string(out);
    }
}
