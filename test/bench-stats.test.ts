// Pure statistics of the benchmarks: known inputs -> values worked out by hand (or from printed
// t tables), no timing.
import { describe, expect, it } from 'vitest';
import {
  alignTable,
  describeDifference,
  difference,
  fmtPct,
  ministatTable,
  pairedRatio,
  pctChange,
  pctTable,
  studentTwoSidedCdf,
  summarize,
  tCritical,
} from '../src/bench/stats.ts';

describe('summarize', () => {
  it('odd N: 1..5', () => {
    // mean 3; squared deviations 4+1+0+1+4 = 10; sample variance 10/4 = 2.5
    const s = summarize([5, 1, 4, 2, 3]);
    expect(s).toMatchObject({ n: 5, min: 1, max: 5, median: 3, avg: 3 });
    expect(s.stddev).toBeCloseTo(Math.sqrt(2.5), 12);
  });

  it('even N: median is the mean of the two middle values', () => {
    // sorted 2 4 6 10: median (4+6)/2 = 5; mean 22/4 = 5.5;
    // deviations -3.5 -1.5 0.5 4.5 -> 12.25+2.25+0.25+20.25 = 35; variance 35/3
    const s = summarize([10, 2, 6, 4]);
    expect(s).toMatchObject({ n: 4, min: 2, max: 10, median: 5, avg: 5.5 });
    expect(s.stddev).toBeCloseTo(Math.sqrt(35 / 3), 12);
  });

  it('one sample has stddev 0; none is an error', () => {
    expect(summarize([7])).toEqual({ n: 1, min: 7, max: 7, median: 7, avg: 7, stddev: 0 });
    expect(() => summarize([])).toThrow(/no samples/);
    expect(() => summarize([1, Number.NaN])).toThrow(/finite/);
  });

  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    summarize(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('percent differences (the article table)', () => {
  it('pctChange', () => {
    expect(pctChange(100, 129)).toBeCloseTo(29, 12);
    expect(pctChange(200, 150)).toBeCloseTo(-25, 12);
    expect(pctChange(0, 0)).toBe(0);
    expect(pctChange(0, 1)).toBeNaN();
  });

  it('reproduces the seed article FreeBSD row from its ministat numbers', () => {
    // without kTLS: min 532225 max 573348 median 555616 avg 555155.6
    // with kTLS:    min 629379 max 723164 median 717349 avg 708600.4
    // the article rounds to 18% 26% 29% 28%
    const base = { n: 10, min: 532225, max: 573348, median: 555616, avg: 555155.6, stddev: 10239.137 };
    const ktls = { n: 10, min: 629379, max: 723164, median: 717349, avg: 708600.4, stddev: 28304.766 };
    const t = pctTable(base, ktls);
    expect(Math.round(t.min)).toBe(18);
    expect(Math.round(t.max)).toBe(26);
    expect(Math.round(t.median)).toBe(29);
    expect(Math.round(t.avg)).toBe(28);
  });

  it('fmtPct', () => {
    expect(fmtPct(12.345)).toBe('+12.3%');
    expect(fmtPct(-3.04)).toBe('-3.0%');
    expect(fmtPct(0)).toBe('0.0%');
    expect(fmtPct(Number.NaN)).toBe('n/a');
  });
});

describe("Student's t", () => {
  it('closed forms for 1 and 2 degrees of freedom', () => {
    // df 1 (Cauchy): P(|T|<=1) = 2*atan(1)/pi = 0.5
    expect(studentTwoSidedCdf(1, 1)).toBeCloseTo(0.5, 12);
    // df 2: P(|T|<=t) = t / sqrt(2 + t^2); t = sqrt(2) -> 1/sqrt(2)
    expect(studentTwoSidedCdf(Math.SQRT2, 2)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(studentTwoSidedCdf(0, 7)).toBe(0);
  });

  it('two-sided 95% critical values match printed t tables', () => {
    // df 1: tan(0.475*pi) = 12.706; df 2: sqrt(2)*0.95/sqrt(1-0.95^2) = 4.303
    expect(tCritical(0.95, 1)).toBeCloseTo(12.7062, 3);
    expect(tCritical(0.95, 2)).toBeCloseTo(4.3027, 3);
    expect(tCritical(0.95, 3)).toBeCloseTo(3.1824, 3);
    expect(tCritical(0.95, 8)).toBeCloseTo(2.3060, 3);
    expect(tCritical(0.95, 9)).toBeCloseTo(2.2622, 3);
    expect(tCritical(0.95, 18)).toBeCloseTo(2.1009, 3);
    expect(tCritical(0.95, 30)).toBeCloseTo(2.0423, 3);
    expect(tCritical(0.95, 1000)).toBeCloseTo(1.9623, 3);
    // 99%, df 10: 3.169
    expect(tCritical(0.99, 10)).toBeCloseTo(3.1693, 3);
  });

  it('rejects bad degrees of freedom and confidence', () => {
    expect(() => studentTwoSidedCdf(1, 0)).toThrow(/degrees of freedom/);
    expect(() => studentTwoSidedCdf(1, 2.5)).toThrow(/degrees of freedom/);
    expect(() => tCritical(1, 5)).toThrow(/confidence/);
  });
});

describe('difference at 95% confidence (pooled s, as ministat)', () => {
  const a = summarize([1, 2, 3, 4, 5]); // avg 3, s = sqrt(2.5)

  it('no difference proven when the interval covers 0', () => {
    // pooled s = sqrt(2.5); s*sqrt(1/5+1/5) = sqrt(2.5*0.4) = 1; t(8) = 2.306 -> +/- 2.306 > diff 1
    const d = difference(a, summarize([2, 3, 4, 5, 6]))!;
    expect(d.df).toBe(8);
    expect(d.diff).toBeCloseTo(1, 12);
    expect(d.pooledStddev).toBeCloseTo(Math.sqrt(2.5), 12);
    expect(d.plusMinus).toBeCloseTo(2.306, 3);
    expect(d.significant).toBe(false);
    expect(describeDifference(d)).toBe('No difference proven at 95.0% confidence');
  });

  it('a real difference, in absolute and percent terms', () => {
    // diff 10 +/- 2.306; percent of base avg 3: 333.33% +/- 76.87%
    const d = difference(a, summarize([11, 12, 13, 14, 15]))!;
    expect(d.diff).toBeCloseTo(10, 12);
    expect(d.plusMinus).toBeCloseTo(2.306, 3);
    expect(d.pct).toBeCloseTo(333.333, 2);
    expect(d.pctPlusMinus).toBeCloseTo(76.87, 1);
    expect(d.significant).toBe(true);
    expect(describeDifference(d, 'MiB/s')).toMatch(/^Difference at 95\.0% confidence\n {2}10 \+\/- 2\.306\d* MiB\/s\n {2}333\.3% \+\/- 76\.87%/);
  });

  it('unequal sizes: pooled variance weights by N-1', () => {
    // base [2,4] avg 3 var 2; other [4,6,8] avg 6 var 4; pooled var (1*2 + 2*4)/3 = 10/3
    // half-width: t(3) * sqrt(10/3) * sqrt(1/2+1/3) = 3.1824 * 1.6667 = 5.304
    const d = difference(summarize([2, 4]), summarize([4, 6, 8]))!;
    expect(d.df).toBe(3);
    expect(d.pooledStddev).toBeCloseTo(Math.sqrt(10 / 3), 12);
    expect(d.plusMinus).toBeCloseTo(3.18245 * Math.sqrt(10 / 3) * Math.sqrt(5 / 6), 3);
    expect(d.significant).toBe(false);
  });

  it('not computable with too few samples', () => {
    expect(difference(summarize([1]), summarize([2]))).toBeNull();
    expect(describeDifference(null)).toMatch(/not computable/);
  });
});

describe('paired ratio (interleaved runs)', () => {
  it('geometric mean and t interval of the log ratios', () => {
    // ratios 2 and 8: logs ln2 and 3 ln2, mean 2 ln2 -> geomean 4; sd sqrt(2) ln2, se ln2;
    // t(1) = 12.706 -> interval 4 * 2^(-12.706) .. 4 * 2^(12.706)
    const p = pairedRatio([1, 1], [2, 8])!;
    expect(p.n).toBe(2);
    expect(p.geomean).toBeCloseTo(4, 12);
    expect(Math.log2(p.hi / 4)).toBeCloseTo(12.7062, 3);
    expect(Math.log2(4 / p.lo)).toBeCloseTo(12.7062, 3);
    expect(p.significant).toBe(false);
  });

  it('a consistent win is significant even when absolute numbers swing with load', () => {
    // each round the candidate is 1.5x, while the machine's load halves the numbers in some rounds
    const base = [100, 50, 80, 40, 90];
    const p = pairedRatio(base, base.map((x) => x * 1.5))!;
    expect(p.geomean).toBeCloseTo(1.5, 12);
    expect(p.lo).toBeCloseTo(1.5, 9);
    expect(p.hi).toBeCloseTo(1.5, 9);
    expect(p.significant).toBe(true);
  });

  it('null when runs do not pair up', () => {
    expect(pairedRatio([1], [2])).toBeNull();
    expect(pairedRatio([1, 2], [1, 2, 3])).toBeNull();
    expect(pairedRatio([1, 0], [1, 2])).toBeNull();
  });
});

describe('tables', () => {
  it('ministat-style rows, aligned', () => {
    const out = ministatTable([
      { label: 'x a', summary: summarize([1, 2, 3]) },
      { label: '+ bb', summary: summarize([10, 20, 30]) },
    ]);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^\s+N\s+Min\s+Max\s+Median\s+Avg\s+Stddev$/);
    expect(lines[1]).toMatch(/^x a\s+3\s+1\s+3\s+2\s+2\s+1$/);
    expect(lines[2]).toMatch(/^\+ bb\s+3\s+10\s+30\s+20\s+20\s+10$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it('alignTable pads the first column left, the rest right', () => {
    expect(alignTable([['a', '1'], ['bbb', '22']])).toBe('a     1\nbbb  22');
  });
});
