// First-order sensitivity indices from any sample (LHS, Monte Carlo): the
// correlation ratio Var(E[Y|Xi]) / Var(Y), estimated by binning Xi into √N
// equal-count classes, with a 95% bootstrap interval. It is the given-data
// estimator of the Sobol first-order index; Sobol/FAST/Morris designs report
// SALib's own indices instead.

/** A small deterministic PRNG (mulberry32): the same sample gives the same interval. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** S1 of x for y over the rows in idx (indices into x/y). */
function correlationRatio(x: number[], y: number[], idx: number[]): number {
  const n = idx.length;
  if (n < 4) return Number.NaN;
  const sorted = [...idx].sort((a, b) => (x[a] as number) - (x[b] as number));
  const mean = sorted.reduce((s, i) => s + (y[i] as number), 0) / n;
  const total = sorted.reduce((s, i) => s + ((y[i] as number) - mean) ** 2, 0);
  if (total === 0) return 0;
  const bins = Math.max(2, Math.round(Math.sqrt(n)));
  let between = 0;
  for (let b = 0; b < bins; b++) {
    const part = sorted.slice(Math.floor((b * n) / bins), Math.floor(((b + 1) * n) / bins));
    if (part.length === 0) continue;
    const m = part.reduce((s, i) => s + (y[i] as number), 0) / part.length;
    between += part.length * (m - mean) ** 2;
  }
  return Math.min(1, Math.max(0, between / total));
}

export interface GivenDataIndex {
  parameter: string;
  S1: number;
  S1_conf: number;
}

export function givenDataS1(
  params: Record<string, number[]>,
  y: number[],
  resamples = 200,
): GivenDataIndex[] {
  const ok = y.map((v, i) => (Number.isFinite(v) ? i : -1)).filter((i) => i >= 0);
  return Object.entries(params).map(([parameter, x]) => {
    const S1 = correlationRatio(x, y, ok);
    const draw = rng(7);
    const boots: number[] = [];
    for (let r = 0; r < resamples; r++) {
      const idx = ok.map(() => ok[Math.floor(draw() * ok.length)] as number);
      const v = correlationRatio(x, y, idx);
      if (Number.isFinite(v)) boots.push(v);
    }
    boots.sort((a, b) => a - b);
    const lo = boots[Math.floor(0.025 * boots.length)] ?? S1;
    const hi = boots[Math.min(boots.length - 1, Math.floor(0.975 * boots.length))] ?? S1;
    return { parameter, S1, S1_conf: (hi - lo) / 2 };
  });
}
