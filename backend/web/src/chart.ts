// Time series on uPlot's canvas, read on the chain's clock (UTC) like every time on the page.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Aligned } from "./series";
import { timeRange } from "./series";

const COLOURS = ["#1f6feb", "#d4380d", "#389e0d", "#9254de", "#d48806", "#08979c"];

export interface Line {
  label: string;
  format: (v: number) => string;
  scale?: string; // a second y axis, on the right, when it differs from the first line's
}

/** Draws `data` (a shared time axis, then one series per line) into `container`. */
export function timeChart(container: HTMLElement, data: Aligned, lines: Line[], width: number): uPlot {
  const scales = [...new Set(lines.map((l) => l.scale ?? "y"))];
  const axisOf = (scale: string) => lines.find((l) => (l.scale ?? "y") === scale) as Line;
  const plot = new uPlot(
    {
      width: Math.max(320, Math.min(width || 900, 1100)),
      height: 300,
      scales: { x: { time: true } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      axes: [
        {},
        ...scales.map((scale, i) => ({
          scale,
          side: i === 0 ? 3 : 1,
          label: scales.length > 1 ? axisOf(scale).label : undefined,
          values: (_u: uPlot, ticks: number[]) => ticks.map(axisOf(scale).format),
          size: 64,
          grid: { show: i === 0 },
        })),
      ],
      series: [
        { label: "time (UTC)" },
        ...lines.map((line, i) => ({
          label: line.label,
          scale: line.scale ?? "y",
          stroke: COLOURS[i % COLOURS.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 6 },
          value: (_u: uPlot, v: number | null) => (v === null ? "—" : line.format(v)),
        })),
      ],
    },
    data as uPlot.AlignedData,
    container,
  );
  // uPlot spreads a single time over 1,000 days; points within an hour get an hour around them.
  const [min, max] = timeRange(data[0][0], data[0][data[0].length - 1]);
  plot.setScale("x", { min, max });
  return plot;
}
