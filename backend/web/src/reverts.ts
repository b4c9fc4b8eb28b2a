// The contracts' errors, as the API names them when a transaction it builds would revert (409
// would_revert, `details.error`), said so a person knows what happened and what to do. Pure.

const PLAIN: Record<string, string> = {
  Overbooked: "The node has too few GPUs free in one of those hours: choose other hours or fewer GPUs.",
  InvalidBooking: "Those hours are not bookable: the start must be an hour of the window that has not begun.",
  ERC1155InsufficientBalance: "You hold fewer of these GPU-hours than that.",
  CapacityNotActive: "This capacity is no longer active: its hours cannot be booked or sold.",
  WindowEnded: "This capacity's window is over.",
  OrderExpired: "The order has expired.",
  CancelledOrder: "The order was cancelled.",
  InsufficientRemaining: "The order has fewer GPU-hours left than that: it was filled meanwhile.",
  StaleCounter: "The order was cancelled along with all its maker's earlier orders.",
  NotMaker: "Only the order's maker can cancel it: connect the wallet that signed it.",
  ERC20InsufficientBalance: "Your wallet holds too little of the stablecoin for this: add some, or take fewer GPU-hours.",
  ERC20InsufficientAllowance: "The Exchange is not allowed to spend enough of your stablecoin.",
  Unhealthy: "That would leave you owing more than your pledged GPU-hours allow: borrow less, or pledge more GPU-hours first.",
  InsufficientCash: "The pool has less stablecoin free than that: borrow or withdraw less, or wait for repayments.",
  StaleMark: "The GPU class has no recent mark from the oracle, so the pool lends nothing against it now: try again after the next mark.",
  DustDebt: "A loan must be at least the pool's smallest debt: borrow more, or repay all of it.",
  RepayExceedsDebt: "That is more than you owe: repay at most your debt, or choose all.",
  WrongGpuClass: "Those GPU-hours are of another GPU class than this pool's: pledge them to their own class's pool.",
  ERC4626ExceededMaxWithdraw: "That is more than you can withdraw now: your deposit is worth less, or the pool's cash is lent out.",
  NothingToWithdraw: "There is nothing to claim: nothing is credited to you in escrow now.",
};

/** A plain sentence for the contract error `name`, or null when the page has none for it. */
export function plainRevert(name: unknown): string | null {
  return typeof name === "string" && Object.hasOwn(PLAIN, name) ? PLAIN[name] : null;
}
