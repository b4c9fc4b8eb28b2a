// The page's live feed: one EventSource on the API's `GET /events/stream` for the whole page, kept
// open across views (the browser reconnects it itself, sending Last-Event-ID), and the events that
// change what a view shows handed to that view. Each event comes from the index, so a view re-reading
// the API on it already sees the event's block.

/** The events a view redraws on: fills, bookings, settlements, liquidations, new and cancelled offers. */
export const LIVE_EVENTS = [
  "Exchange.OrderFilled",
  "Exchange.OrderCancelled",
  "GpuHours.CapacityCreated",
  "GpuHours.CapacityCancelled",
  "GpuHours.CapacityClosed",
  "GpuHours.HoursActivated",
  "GpuHours.BookingClosed",
  "Settlement.BookingSettled",
  "Settlement.CapacitySettled",
  "LendingPool.Liquidated",
] as const;

export interface LiveEvent {
  id: number;
  name: string; // <Contract>.<Event>
  block: number;
  tx: string;
  args: Record<string, unknown>;
}

/** The capacities an event names: `capacityId`, or an ERC-1155 transfer's `id`/`ids` (as the API's filter reads them). */
export function capacitiesOf(args: Record<string, unknown>): number[] {
  const out = new Set<number>();
  for (const v of [args.capacityId, args.id, ...(Array.isArray(args.ids) ? args.ids : [])])
    if (typeof v === "number" || (typeof v === "string" && /^\d+$/.test(v))) out.add(Number(v));
  return [...out];
}

/** An SSE message's data as a LiveEvent; null for anything else. */
export function parseEvent(name: string, data: string): LiveEvent | null {
  try {
    const d = JSON.parse(data) as { id?: number; block?: number; tx?: string; args?: Record<string, unknown> };
    if (typeof d.id !== "number" || typeof d.block !== "number") return null;
    return { id: d.id, name, block: d.block, tx: d.tx ?? "", args: d.args ?? {} };
  } catch {
    return null;
  }
}

type Listener = (e: LiveEvent) => void;
let listener: Listener | null = null;
let source: EventSource | null = null;

/** The view now on the page hears the live events; a new view's listener replaces the last one. */
export function listen(next: Listener | null): void {
  listener = next;
}

/** Opens the stream once and keeps `indicator` saying whether it is live. */
export function start(indicator: HTMLElement): void {
  if (source || typeof EventSource === "undefined") return;
  const show = (state: "live" | "connecting" | "offline", text: string) => {
    indicator.dataset.state = state;
    indicator.textContent = text;
    indicator.title =
      state === "live" ? "New fills, bookings and settlements appear as they are indexed" : "Not receiving live updates";
  };
  show("connecting", "connecting…");
  source = new EventSource("/events/stream");
  source.onopen = () => show("live", "live");
  source.onerror = () =>
    source?.readyState === EventSource.CLOSED ? show("offline", "offline: reload to retry") : show("connecting", "reconnecting…");
  for (const name of LIVE_EVENTS)
    source.addEventListener(name, (m) => {
      const e = parseEvent(name, (m as MessageEvent<string>).data);
      if (e && listener) listener(e);
    });
}
