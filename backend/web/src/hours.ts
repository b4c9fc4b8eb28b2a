// Booking held GPU-hours (GpuHours.activate): which start hours a window still allows on the chain's
// clock, and a booking the form asks for checked as the contract would. Pure: no wallet, no DOM.
export const HOUR = 3600;

export interface Window {
  start: number; // unix seconds, on the hour
  end: number;
}

/** The first hour a booking may start at: the window's start, or the chain's current hour if later. */
export function firstBookableHour(w: Window, now: number): number {
  return Math.max(w.start, now - (now % HOUR));
}

/** Every hour a booking of at least one hour may start at, in order (empty once the window is over). */
export function bookableStarts(w: Window, now: number): number[] {
  const out: number[] = [];
  for (let t = firstBookableHour(w, now); t + HOUR <= w.end; t += HOUR) out.push(t);
  return out;
}

export interface BookingForm {
  start: string; // unix seconds, as the start select holds it
  hours: string;
  gpus: string;
}

export interface Booking {
  start: number;
  hours: number;
  gpus: number;
}

/**
 * The booking asked for, or a sentence saying what is wrong with it: start on an hour of the window not
 * yet past, the hours inside the window, at most the node's GPUs, and `gpus × hours` within those held.
 * (Whether the node has those GPUs free in each hour is the chain's to say: Overbooked.)
 */
export function checkBooking(form: BookingForm, w: Window, now: number, held: number, gpuCount: number): Booking | string {
  const start = Number(form.start);
  if (!Number.isInteger(start) || start % HOUR !== 0 || start < firstBookableHour(w, now) || start + HOUR > w.end)
    return "Start: an hour of the window that has not begun yet.";
  const gpus = Number(form.gpus.trim());
  if (!/^\d+$/.test(form.gpus.trim()) || gpus < 1 || gpus > gpuCount) return `GPUs: a whole number from 1 to ${gpuCount}.`;
  const hours = Number(form.hours.trim());
  const most = (w.end - start) / HOUR;
  if (!/^\d+$/.test(form.hours.trim()) || hours < 1 || hours > most)
    return `Hours: a whole number from 1 to ${most} (the window ends then).`;
  if (gpus * hours > held)
    return `${gpus} GPUs × ${hours} h needs ${gpus * hours} GPU-hours; you hold ${held}.`;
  return { start, hours, gpus };
}
