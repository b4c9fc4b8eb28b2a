import { describe, expect, it } from "vitest";
import { bookableStarts, checkBooking, firstBookableHour, HOUR } from "./hours";

const T = 1_800_000_000 - (1_800_000_000 % HOUR); // an hour boundary
const W = { start: T, end: T + 6 * HOUR };

describe("booking hours", () => {
  it("start no earlier than the window nor the chain's current hour", () => {
    expect(firstBookableHour(W, T - 5 * HOUR)).toBe(T);
    expect(firstBookableHour(W, T + 2 * HOUR + 1234)).toBe(T + 2 * HOUR);
    expect(bookableStarts(W, T - 1)).toEqual([0, 1, 2, 3, 4, 5].map((i) => T + i * HOUR));
    expect(bookableStarts(W, T + 4 * HOUR + 10)).toEqual([T + 4 * HOUR, T + 5 * HOUR]);
    expect(bookableStarts(W, T + 6 * HOUR)).toEqual([]);
  });

  it("accept a booking inside the window within the hours held", () => {
    expect(checkBooking({ start: String(T + HOUR), hours: "2", gpus: "4" }, W, T, 8, 8)).toEqual({
      start: T + HOUR,
      hours: 2,
      gpus: 4,
    });
  });

  it("refuse what the contract would, said plainly", () => {
    const ok = { start: String(T), hours: "2", gpus: "2" };
    expect(checkBooking({ ...ok, start: String(T + 60) }, W, T, 8, 8)).toMatch(/^Start:/);
    expect(checkBooking(ok, W, T + HOUR, 8, 8)).toMatch(/^Start:/); // that hour has begun
    expect(checkBooking({ ...ok, gpus: "9" }, W, T, 100, 8)).toBe("GPUs: a whole number from 1 to 8.");
    expect(checkBooking({ ...ok, gpus: "0" }, W, T, 100, 8)).toBe("GPUs: a whole number from 1 to 8.");
    expect(checkBooking({ ...ok, start: String(T + 4 * HOUR), hours: "3" }, W, T, 100, 8)).toBe(
      "Hours: a whole number from 1 to 2 (the window ends then).",
    );
    expect(checkBooking({ ...ok, hours: "2.5" }, W, T, 100, 8)).toMatch(/^Hours:/);
    expect(checkBooking({ ...ok, gpus: "4", hours: "3" }, W, T, 10, 8)).toBe(
      "4 GPUs × 3 h needs 12 GPU-hours; you hold 10.",
    );
  });
});
