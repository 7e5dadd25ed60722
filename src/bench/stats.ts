// Statistics for benchmark samples, in the spirit of FreeBSD's ministat: N/min/max/median/avg/
// stddev per sample set, the percent difference of each statistic (the kTLS article's table), and
// "difference at 95% confidence" by Student's t with pooled standard deviation.
// Pure functions, no I/O.

export interface Summary {
  n: number;
  min: number;
  max: number;
  /** middle value; for an even N the mean of the two middle values */
  median: number;
  avg: number;
  /** sample standard deviation (divides by N-1), as ministat prints; 0 when N < 2 */
  stddev: number;
}

export function summarize(samples: readonly number[]): Summary {
  const n = samples.length;
  if (n === 0) throw new RangeError('summarize: no samples');
  if (samples.some((x) => !Number.isFinite(x))) throw new RangeError('summarize: samples must be finite numbers');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const avg = sorted.reduce((s, x) => s + x, 0) / n;
  const ss = sorted.reduce((s, x) => s + (x - avg) ** 2, 0);
  return {
    n,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    median,
    avg,
    stddev: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
  };
}

/** Percent change from `base` to `other`: (other - base) / base * 100. */
export function pctChange(base: number, other: number): number {
  if (base === 0) return other === 0 ? 0 : Number.NaN;
  return ((other - base) / base) * 100;
}

export interface PctTable {
  min: number;
  max: number;
  median: number;
  avg: number;
}

/** The article's table: how much each statistic of `other` differs from `base`, in percent. */
export function pctTable(base: Summary, other: Summary): PctTable {
  return {
    min: pctChange(base.min, other.min),
    max: pctChange(base.max, other.max),
    median: pctChange(base.median, other.median),
    avg: pctChange(base.avg, other.avg),
  };
}

/**
 * P(|T| <= t) for Student's t with an integer number of degrees of freedom, by the closed-form
 * finite series (Abramowitz & Stegun 26.7.3 and 26.7.4), with theta = atan(t / sqrt(df)).
 */
export function studentTwoSidedCdf(t: number, df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a positive integer, got ${df}`);
  const x = Math.abs(t);
  const theta = Math.atan(x / Math.sqrt(df));
  const s = Math.sin(theta);
  const c = Math.cos(theta);
  const c2 = c * c;
  if (df % 2 === 1) {
    // odd: (2/pi) * (theta + sin(theta) * (cos + (2/3) cos^3 + (2*4)/(3*5) cos^5 + ... up to cos^(df-2)))
    if (df === 1) return (2 / Math.PI) * theta;
    let term = c;
    let sum = c;
    for (let k = 3; k <= df - 2; k += 2) {
      term *= (c2 * (k - 1)) / k;
      sum += term;
    }
    return Math.min(1, (2 / Math.PI) * (theta + s * sum));
  }
  // even: sin(theta) * (1 + (1/2) cos^2 + (1*3)/(2*4) cos^4 + ... up to cos^(df-2))
  let term = 1;
  let sum = 1;
  for (let k = 2; k <= df - 2; k += 2) {
    term *= (c2 * (k - 1)) / k;
    sum += term;
  }
  return Math.min(1, s * sum);
}

/** Two-sided critical value of Student's t: the t with P(|T| <= t) = confidence. */
export function tCritical(confidence: number, df: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  let lo = 0;
  let hi = 1;
  while (studentTwoSidedCdf(hi, df) < confidence) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTwoSidedCdf(mid, df) < confidence) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface Difference {
  confidence: number;
  /** avg(other) - avg(base) */
  diff: number;
  /** half-width of the confidence interval of diff */
  plusMinus: number;
  /** diff as percent of avg(base), and its half-width */
  pct: number;
  pctPlusMinus: number;
  pooledStddev: number;
  df: number;
  t: number;
  /** true when the interval excludes 0 (ministat: "Difference at 95.0% confidence") */
  significant: boolean;
}

/**
 * Student's t test of avg(other) - avg(base) with pooled standard deviation, as ministat prints it.
 * Undefined (null) when there are fewer than 3 samples in total or a base average of 0.
 */
export function difference(base: Summary, other: Summary, confidence = 0.95): Difference | null {
  const df = base.n + other.n - 2;
  if (df < 1 || base.avg === 0) return null;
  const pooled = Math.sqrt(((base.n - 1) * base.stddev ** 2 + (other.n - 1) * other.stddev ** 2) / df);
  const t = tCritical(confidence, df);
  const plusMinus = t * pooled * Math.sqrt(1 / base.n + 1 / other.n);
  const diff = other.avg - base.avg;
  return {
    confidence,
    diff,
    plusMinus,
    pct: (diff / base.avg) * 100,
    pctPlusMinus: (plusMinus / base.avg) * 100,
    pooledStddev: pooled,
    df,
    t,
    significant: Math.abs(diff) > plusMinus,
  };
}

/** Format a number the way ministat's columns read (%g-like): up to `digits` significant digits, no exponent, no trailing zeros. */
export function fmt(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, Math.min(6, digits - 1 - mag));
  const s = x.toFixed(decimals);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

export function fmtPct(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  const r = Math.round(p * 10) / 10;
  return `${r > 0 ? '+' : ''}${r.toFixed(1)}%`;
}

/** One line per data set, as ministat prints its table (values already in the unit wanted). */
export function ministatTable(rows: { label: string; summary: Summary }[], digits = 6): string {
  const header = ['', 'N', 'Min', 'Max', 'Median', 'Avg', 'Stddev'];
  const body = rows.map((r) => [
    r.label,
    String(r.summary.n),
    fmt(r.summary.min, digits),
    fmt(r.summary.max, digits),
    fmt(r.summary.median, digits),
    fmt(r.summary.avg, digits),
    fmt(r.summary.stddev, digits),
  ]);
  return alignTable([header, ...body]);
}

export function describeDifference(d: Difference | null, unit = ''): string {
  if (!d) return 'Difference: not computable (too few samples)';
  const conf = `${(d.confidence * 100).toFixed(1)}%`;
  if (!d.significant) return `No difference proven at ${conf} confidence`;
  const u = unit ? ` ${unit}` : '';
  return (
    `Difference at ${conf} confidence\n` +
    `  ${fmt(d.diff)} +/- ${fmt(d.plusMinus)}${u}\n` +
    `  ${fmt(d.pct, 4)}% +/- ${fmt(d.pctPlusMinus, 4)}%\n` +
    `  (Student's t, pooled s = ${fmt(d.pooledStddev)}, df = ${d.df}, t = ${d.t.toFixed(3)})`
  );
}

/** Left-align the first column, right-align the others, two spaces between columns. */
export function alignTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

export interface PairedRatio {
  n: number;
  /** geometric mean of candidate[i] / baseline[i] */
  geomean: number;
  /** confidence interval of the geometric mean (Student's t on the log ratios, df = n - 1) */
  lo: number;
  hi: number;
  confidence: number;
  /** the interval excludes 1 */
  significant: boolean;
}

/**
 * Paired comparison for interleaved runs: the i-th candidate and baseline runs ran back to back,
 * so their ratio cancels load that changes between rounds. Works on log ratios (a ratio of 2 and
 * one of 1/2 cancel out), reports the geometric mean with its confidence interval.
 * Null when the samples do not pair up, a value is not positive, or N < 2.
 */
export function pairedRatio(base: readonly number[], cand: readonly number[], confidence = 0.95): PairedRatio | null {
  const n = base.length;
  if (n < 2 || cand.length !== n || [...base, ...cand].some((x) => !(x > 0) || !Number.isFinite(x))) return null;
  const logs = cand.map((c, i) => Math.log(c / base[i]!));
  const s = summarize(logs);
  const half = tCritical(confidence, n - 1) * (s.stddev / Math.sqrt(n));
  const lo = Math.exp(s.avg - half);
  const hi = Math.exp(s.avg + half);
  return { n, geomean: Math.exp(s.avg), lo, hi, confidence, significant: lo > 1 || hi < 1 };
}
