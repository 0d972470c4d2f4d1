import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatAxisTime } from '../format';
import { useColorScheme } from '../hooks/use-color-scheme';

export interface ChartSeries {
  label: string;
  /** A CSS custom property holding the colour, such as "--series-1". */
  colorVar: string;
  /** Fill the area under the line. */
  fill?: boolean;
  /** Mark each value: for sparse series, where a lone value between gaps draws no line. */
  points?: boolean;
}

export interface TimeChartProps {
  /** x in epoch seconds, then one array per series (null for a gap). */
  data: [number[], ...(number | null)[][]];
  series: ChartSeries[];
  /** Formats y values on the axis and in the legend. */
  format: (value: number) => string;
  /** The left edge of the chart in epoch seconds; the right edge is now. */
  fromSec: number;
  /** Whole numbers only on the y axis (counts), so a small range does not print "1, 1, 0". */
  integer?: boolean;
  /** What the chart says in words, for screen readers and when canvas is unavailable. */
  summary: string;
  height?: number;
}

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function canvasAvailable(): boolean {
  return typeof ResizeObserver !== 'undefined' && document.createElement('canvas').getContext('2d') !== null;
}

const INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000];

function lastValue(values: ArrayLike<number | null | undefined>): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const value = values[i];
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

function withAlpha(color: string, alpha: string): string {
  return /^#[0-9a-f]{6}$/i.test(color) ? color + alpha : color;
}

/**
 * A live time-series chart drawn by uPlot (canvas, ~50 KB, redraws thousands of points in a millisecond or
 * two). Colours come from the theme's CSS variables; the chart is rebuilt when the system theme changes and
 * resized with its container.
 */
export function TimeChart({ data, series, format, fromSec, summary, integer = false, height = 180 }: TimeChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const scheme = useColorScheme();
  const latest = useRef({ data, fromSec, format });
  latest.current = { data, fromSec, format };

  useEffect(() => {
    const element = host.current;
    if (!element || !canvasAvailable()) return;
    const axisColor = cssVar('--text-muted');
    const gridColor = cssVar('--border-subtle');
    const axis: uPlot.Axis = {
      stroke: axisColor,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1 },
      font: '11px system-ui, sans-serif',
    };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true, range: () => [latest.current.fromSec, Date.now() / 1000] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        { ...axis, values: (_u, ticks) => ticks.map((t) => formatAxisTime(t, ticks.length > 1 && ticks[1] - ticks[0] < 60)) },
        { ...axis, size: 60, values: (_u, values) => values.map((v) => latest.current.format(v)), ...(integer ? { incrs: INTEGER_STEPS } : {}) },
      ],
      series: [
        {},
        ...series.map((s) => {
          const color = cssVar(s.colorVar);
          return {
            label: s.label,
            stroke: color,
            width: 2,
            fill: s.fill ? withAlpha(color, '22') : undefined,
            spanGaps: false,
            points: s.points ? { show: true, size: 5, fill: color } : { show: false },
            value: (u: uPlot, v: number | null, seriesIdx: number, idx: number | null) => {
              // Away from the cursor the legend shows the latest value, so the chart reads like a gauge.
              const value = idx === null ? lastValue(u.data[seriesIdx]) : v;
              return value === null || value === undefined ? '–' : latest.current.format(value);
            },
          };
        }),
      ],
    };
    const chart = new uPlot(options, latest.current.data as uPlot.AlignedData, element);
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [scheme, height, series, integer]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <figure className="chart">
      <div ref={host} className="chart-canvas" aria-hidden="true" />
      <figcaption className="visually-hidden">{summary}</figcaption>
    </figure>
  );
}
