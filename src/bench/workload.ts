// The shapes of bench serve's results and the comparison of two data sets: shared by the
// workloads run on the host (./serve.ts) and the kTLS workload run in the VM (./ktls-vm.ts).
import { difference, pairedRatio, pctTable, summarize, type Difference, type PairedRatio, type PctTable, type Summary } from './stats.ts';
import type { WrkRun } from './clients.ts';

export interface ServeSettings {
  /** size of the large download (the article: 1 GiB) */
  bigBytes: number;
  /** downloads per binary (the article: 10 in its table) */
  downloads: number;
  downloadMaxSeconds: number;
  /** size of the compressible file for gzip */
  textBytes: number;
  gzipLevel: number;
  /** brotli_comp_level of the brotli workload (compared with gzip at gzipLevel, same file) */
  brotliLevel: number;
  /** wrk runs per binary and workload, and the length of each */
  rounds: number;
  wrkSeconds: number;
  workers: number;
  /** the article's cipher suite, asked for by curl in the download test */
  tls13Cipher: string;
  conns: { gzip: number; handshake: number; small: number };
}

export type WorkloadId = 'download' | 'gzip' | 'brotli' | 'handshake' | 'small' | 'ktls-download';

export interface SideResult {
  /** one number per run, in `unit` */
  samples: number[];
  summary: Summary;
  /** wrk runs in detail (requests, errors, latency) */
  runs?: WrkRun[];
  /** facts checked before measuring (negotiated TLS, gzip size, ...) */
  checks?: Record<string, string | number | boolean>;
}

export interface WorkloadResult {
  id: WorkloadId;
  title: string;
  unit: string;
  /** how it was measured, in one sentence */
  method: string;
  /** ministat's "x" data set: the reference */
  baseline?: SideResult;
  /** ministat's "+" data set */
  candidate: SideResult;
  /** each statistic of candidate vs baseline, in percent (the article's table) */
  pct?: PctTable;
  /** median(candidate) / median(baseline) */
  ratio?: number;
  /**
   * candidate[i] / baseline[i]: the i-th runs of both ran back to back (same round), so these
   * ratios cancel the load changes between rounds that the unpaired statistics carry
   */
  paired?: PairedResult;
  difference?: Difference | null;
  notes: string[];
}

export interface KtlsSection {
  measured: boolean;
  /** 'native' (host kernel) or 'emulated' (QEMU TCG: not comparable to native) */
  mode?: 'native' | 'emulated';
  reason?: string;
  /** baseline: userspace TLS (Options -KTLS), candidate: kTLS (Options KTLS), same binary */
  workload?: WorkloadResult;
  /** evidence that kTLS was used: /proc/net/tls_stat TlsTxSw/TlsTxDevice deltas */
  evidence?: Record<string, number>;
}

/** Add the candidate-vs-baseline comparison (percent table, median ratio, t-test difference). */
export interface PairedResult {
  /** the per-round ratios */
  ratios: Summary;
  /** geometric mean of the ratios with its 95% confidence interval (null for N < 2) */
  ci: PairedRatio | null;
}

/** Per-round ratios candidate[i] / baseline[i]; undefined when the runs do not pair up. */
export function pairedRatios(base: number[], cand: number[]): PairedResult | undefined {
  if (base.length !== cand.length || base.length === 0 || base.some((x) => x <= 0)) return undefined;
  return { ratios: summarize(cand.map((c, i) => c / base[i]!)), ci: pairedRatio(base, cand) };
}

export function compare(w: Omit<WorkloadResult, 'pct' | 'ratio' | 'difference'>): WorkloadResult {
  if (!w.baseline) return w;
  return {
    ...w,
    pct: pctTable(w.baseline.summary, w.candidate.summary),
    ratio: w.baseline.summary.median === 0 ? Number.NaN : w.candidate.summary.median / w.baseline.summary.median,
    difference: difference(w.baseline.summary, w.candidate.summary),
    paired: pairedRatios(w.baseline.samples, w.candidate.samples),
  };
}
