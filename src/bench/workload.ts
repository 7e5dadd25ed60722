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
  /**
   * server CPU per request, one number per run: the nginx workers' utime + stime (/proc/<pid>/stat)
   * over the run divided by the requests it served, in microseconds
   */
  cpu?: { samples: number[]; summary: Summary };
}

/** candidate against baseline on server CPU per request (lower is better): the same statistics as the rates */
export interface CpuComparison {
  unit: 'µs/request';
  baseline?: { samples: number[]; summary: Summary };
  candidate: { samples: number[]; summary: Summary };
  pct?: PctTable;
  /** median(candidate) / median(baseline): below 1, the candidate's workers spend less per request */
  ratio?: number;
  paired?: PairedResult;
  difference?: Difference | null;
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
  /** server CPU per request, compared like the rate (when the workers' /proc was read) */
  serverCpu?: CpuComparison;
  /**
   * what the workload's result is judged on: the rate, or the server CPU per request where the
   * client cannot outrun the server (handshakes: wrk does as much work per handshake as nginx)
   */
  judgedOn?: 'rate' | 'server-cpu';
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

/** The CPU-per-request comparison of two sides (undefined: the candidate's CPU was not read). */
export function compareCpu(base: SideResult | undefined, cand: SideResult): CpuComparison | undefined {
  if (!cand.cpu) return undefined;
  if (!base?.cpu) return { unit: 'µs/request', candidate: cand.cpu };
  const b = base.cpu;
  const c = cand.cpu;
  return {
    unit: 'µs/request',
    baseline: b,
    candidate: c,
    pct: pctTable(b.summary, c.summary),
    ratio: b.summary.median === 0 ? Number.NaN : c.summary.median / b.summary.median,
    difference: difference(b.summary, c.summary),
    paired: pairedRatios(b.samples, c.samples),
  };
}

export function compare(w: Omit<WorkloadResult, 'pct' | 'ratio' | 'difference'>): WorkloadResult {
  const serverCpu = w.serverCpu ?? compareCpu(w.baseline, w.candidate);
  if (!w.baseline) return serverCpu ? { ...w, serverCpu } : w;
  return {
    ...w,
    ...(serverCpu ? { serverCpu } : {}),
    pct: pctTable(w.baseline.summary, w.candidate.summary),
    ratio: w.baseline.summary.median === 0 ? Number.NaN : w.candidate.summary.median / w.baseline.summary.median,
    difference: difference(w.baseline.summary, w.candidate.summary),
    paired: pairedRatios(w.baseline.samples, w.candidate.samples),
  };
}
