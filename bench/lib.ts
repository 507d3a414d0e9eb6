// Shared shape of benchmark figures: `npm run bench` prints them as a table and
// writes them to bench/results/latest.json (see ARCHITECTURE.md).
import { cpus } from 'node:os';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** The peer measured in the same run, e.g. "jupyter_client". */
  peer?: string;
  peer_value?: number;
  /** ours / theirs, or as the figure defines it. */
  ratio?: number;
  /** Human-readable goal, e.g. "<= 1.0". */
  goal?: string;
  /** Conditions of the measurement, e.g. the load average while it ran (a shared machine). */
  note?: string;
}

export type BenchSuite = () => Promise<BenchFigure[]>;

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export const median = (values: number[]): number => percentile(values, 50);

/** Rounded to 3 decimals, as figures are reported. */
export const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * A plan's parallel efficiency: `n` experiments' kernel compute, each measured alone (`aloneMs`),
 * spread over the slots the machine can run at once, against the plan's own wall time. 1.0 is a
 * plan whose machinery costs nothing and whose slots never wait.
 */
export function planEfficiency(n: number, aloneMs: number, parallelLimit: number, wallMs: number): number {
  return (n * aloneMs) / Math.min(cpus().length, parallelLimit) / wallMs;
}

/** A figure against its peer from the same run: both values to 3 decimals and ours / peer. */
export function versus(
  name: string,
  unit: string,
  ours: number,
  peer: string,
  peerValue: number,
  more: Pick<BenchFigure, 'goal' | 'note'> = {},
): BenchFigure {
  return {
    name,
    value: r3(ours),
    unit,
    peer,
    peer_value: r3(peerValue),
    ratio: r3(ours / peerValue),
    ...more,
  };
}
