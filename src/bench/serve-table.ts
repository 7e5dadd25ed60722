// bench serve's workloads as one table (WORKLOADS): per row, the facts checked before measuring,
// the client invocation of one measured run, and what is measured (title, unit, method); one
// loop (runWorkloads) runs every row for each data set, interleaved. serve.ts starts the servers
// and writes the fixtures the rows run against (WorkloadRun); tests drive the loop with fake clients.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ForgeError } from '../errors.ts';
import type { curl, wrk, WrkRun } from './clients.ts';
import { warmPageCache, type Docroot } from './content.ts';
import { summarize } from './stats.ts';
import { compare, type ServeSettings, type SideResult, type WorkloadId, type WorkloadResult } from './workload.ts';

const MiB = 1024 * 1024;

/** Run `fnFor(side)` for both sides `rounds` times, alternating which goes first (ABBA...). */
export async function interleave<S extends string>(sides: S[], rounds: number, fn: (side: S, round: number) => Promise<void>): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) await fn(s, r);
  }
}

export type Side = 'candidate' | 'baseline';
type Checks = Record<string, string | number | boolean>;

/** The load generators the workloads drive (tests pass fakes). */
export interface ServeClients {
  curl: typeof curl;
  wrk: typeof wrk;
}

/** What the workloads run against: this run's settings, servers, fixtures and clients. */
export interface WorkloadRun {
  settings: ServeSettings;
  /** the binaries measured: the candidate, and the baseline with --vs */
  sides: Side[];
  doc: Docroot;
  /** scratch directory for response bodies */
  scratch: string;
  /** wrk's done() hook (writeWrkScript) */
  script: string;
  /** the candidate serves /br/ with brotli on (brotliSupport) */
  brotli: boolean;
  tlsUrl: (server: Side, urlPath: string) => string;
  plainUrl: (server: Side, urlPath: string) => string;
  clients: ServeClients;
  say: (line: string) => void;
  /** throws when the run is interrupted */
  checkAbort: () => void;
  /** a server's workers' CPU so far, seconds by pid (NginxServer.workerCpu); undefined: not measured */
  serverCpu?: (server: Side) => Map<number, number>;
}

/** One measured run: a curl download (sample in MiB/s) or a wrk run (sample in requests per second). */
export type Invocation =
  | { client: 'curl'; url: string; tls13Ciphers?: string; expectBytes: number }
  | { client: 'wrk'; url: string; connections: number; headers?: string[] };

export interface WorkloadRow {
  id: WorkloadId;
  /** why the workload does not run in this run (a progress line); undefined: it runs */
  skip?: (c: WorkloadRun) => string | undefined;
  /**
   * The data sets compared, in the order the first round runs them. Default: the binaries
   * (c.sides); the brotli row compares two encodings of the candidate (baseline = gzip).
   */
  sets?: (c: WorkloadRun) => Side[];
  /** the server a data set's runs go to (default: the set itself; brotli: always the candidate) */
  server?: (set: Side) => Side;
  /** judge the result on the server CPU per request instead of the rate (the client cannot outrun the server) */
  judgeOn?: 'server-cpu';
  /** a data set's name in progress lines (default: the set) */
  label?: (set: Side) => string;
  /** measured runs per data set */
  rounds: (s: ServeSettings) => number;
  /** once before anything else (warming the page cache) */
  prepare?: (c: WorkloadRun) => void;
  /** per data set, before measuring: unmeasured warm-ups and the facts checked (negotiated TLS, encoding) */
  check?: (c: WorkloadRun, set: Side) => Promise<Checks>;
  /** the client invocation of one measured run */
  invoke: (c: WorkloadRun, set: Side) => Invocation;
  /** what is measured: title, unit, and how, in one sentence */
  title: (c: WorkloadRun) => string;
  unit: string;
  method: (c: WorkloadRun) => string;
  notes?: (c: WorkloadRun, checks: Partial<Record<Side, Checks>>) => string[];
}

/** The negotiated protocol and cipher, from the servers' /probe location. */
async function probeTls(c: WorkloadRun, server: Side, name: string, tls13Ciphers?: string): Promise<string> {
  const file = path.join(c.scratch, `${server}.${name}`);
  await c.clients.curl({ url: c.tlsUrl(server, '/probe'), maxSeconds: 10, output: file, ...(tls13Ciphers ? { tls13Ciphers } : {}) });
  return readFileSync(file, 'utf8').trim();
}

const ENCODINGS = {
  gzip: { decode: gunzipSync, urlPath: (d: Docroot) => d.text.url },
  br: { decode: brotliDecompressSync, urlPath: (d: Docroot) => d.text.url.replace(/^\/gz\//, '/br/') },
} as const;

/** Fetch the compressible file with one encoding: it must be encoded so and decode to the served file. */
async function checkEncoding(c: WorkloadRun, server: Side, token: keyof typeof ENCODINGS): Promise<{ compressedBytes: number; compressionRatio: number }> {
  const e = ENCODINGS[token];
  const url = e.urlPath(c.doc);
  const file = path.join(c.scratch, `${server}.${token}`);
  const r = await c.clients.curl({ url: c.plainUrl(server, url), maxSeconds: 30, headers: [`Accept-Encoding: ${token}`], output: file });
  if (!new RegExp(`^content-encoding:\\s*${token}\\b`, 'im').test(r.headers)) throw new ForgeError(`${server}: ${url} was not ${token}-encoded:\n${r.headers}`);
  const sha = createHash('sha256').update(e.decode(readFileSync(file))).digest('hex');
  if (sha !== c.doc.text.sha256) throw new ForgeError(`${server}: the ${token} response from ${url} does not decode to the served file`);
  return { compressedBytes: r.bytes, compressionRatio: Math.round((c.doc.text.bytes / r.bytes) * 100) / 100 };
}

/** brotli row: the data sets are encodings served by the candidate binary */
const BROTLI_SETS = { baseline: 'gzip', candidate: 'br' } as const;

/**
 * The host workloads, in the order they run and are reported:
 *   download   the kTLS article's experiment: a large file in the page cache, repeated HTTPS
 *              downloads with curl
 *   gzip       on-the-fly gzip of a compressible file, responses per second (wrk, keep-alive)
 *   brotli     brotli against gzip of the same file, the candidate binary (when it has ngx_brotli)
 *   handshake  full TLS handshakes per second (wrk, Connection: close, ECDSA P-256, no resumption)
 *   small      small static responses per second (wrk, keep-alive)
 */
export const WORKLOADS: readonly WorkloadRow[] = [
  {
    id: 'download',
    rounds: (s) => s.downloads,
    prepare: (c) => warmPageCache(c.doc.big.path),
    check: async (c, side) => {
      const tls = await probeTls(c, side, 'probe', c.settings.tls13Cipher);
      // one unmeasured download each: warms nginx, curl and the page cache
      await c.clients.curl({ url: c.tlsUrl(side, c.doc.big.url), maxSeconds: c.settings.downloadMaxSeconds, tls13Ciphers: c.settings.tls13Cipher });
      return { tls };
    },
    invoke: (c, side) => ({ client: 'curl', url: c.tlsUrl(side, c.doc.big.url), tls13Ciphers: c.settings.tls13Cipher, expectBytes: c.doc.big.bytes }),
    title: (c) => `HTTPS download of a ${humanBytes(c.doc.big.bytes)} file in page cache`,
    unit: 'MiB/s',
    method: ({ settings: s }) => `curl -k --http1.1 --tls13-ciphers ${s.tls13Cipher} -o /dev/null, %{speed_download}; ${s.downloads} downloads per binary, interleaved, after one unmeasured download each`,
  },
  {
    id: 'gzip',
    rounds: (s) => s.rounds,
    check: (c, side) => checkEncoding(c, side, 'gzip'),
    invoke: (c, side) => ({ client: 'wrk', url: c.plainUrl(side, c.doc.text.url), connections: c.settings.conns.gzip, headers: ['Accept-Encoding: gzip'] }),
    title: (c) => `gzip (level ${c.settings.gzipLevel}) of a ${humanBytes(c.doc.text.bytes)} compressible file`,
    unit: 'req/s',
    method: ({ settings: s }) => `wrk -t1 -c${s.conns.gzip} -d${s.wrkSeconds}s -H 'Accept-Encoding: gzip', plain HTTP keep-alive; ${s.rounds} runs per binary, interleaved`,
    notes: (c, k) => {
      if (!k.baseline) return [];
      const a = k.candidate!.compressedBytes as number;
      const b = k.baseline.compressedBytes as number;
      return [`compressed size at level ${c.settings.gzipLevel}: candidate ${a} bytes, baseline ${b} bytes (${fmtSigned(((a - b) / b) * 100)}%); zlib forks trade ratio for speed`];
    },
  },
  {
    id: 'brotli',
    skip: (c) => (c.brotli ? undefined : 'candidate has no brotli module: no brotli workload'),
    sets: () => ['baseline', 'candidate'],
    server: () => 'candidate',
    label: (set) => BROTLI_SETS[set],
    rounds: (s) => s.rounds,
    check: async (c, set) => {
      const token = BROTLI_SETS[set];
      return { encoding: token, level: token === 'br' ? c.settings.brotliLevel : c.settings.gzipLevel, ...(await checkEncoding(c, 'candidate', token)) };
    },
    invoke: (c, set) => ({ client: 'wrk', url: c.plainUrl('candidate', ENCODINGS[BROTLI_SETS[set]].urlPath(c.doc)), connections: c.settings.conns.gzip, headers: [`Accept-Encoding: ${BROTLI_SETS[set]}`] }),
    title: (c) => `brotli (level ${c.settings.brotliLevel}) against gzip (level ${c.settings.gzipLevel}) of the same ${humanBytes(c.doc.text.bytes)} compressible file, candidate binary`,
    unit: 'req/s',
    method: ({ settings: s }) => `wrk -t1 -c${s.conns.gzip} -d${s.wrkSeconds}s -H 'Accept-Encoding: br' on /br/ (brotli on) vs -H 'Accept-Encoding: gzip' on /gz/ (gzip on), plain HTTP keep-alive, the candidate binary; ${s.rounds} runs each, interleaved; baseline = gzip`,
    notes: (_c, k) => {
      const br = k.candidate!.compressedBytes as number;
      const gz = k.baseline!.compressedBytes as number;
      return [`compressed size: brotli ${br} bytes (ratio ${k.candidate!.compressionRatio}), gzip ${gz} bytes (ratio ${k.baseline!.compressionRatio}): brotli ${fmtSigned(((br - gz) / gz) * 100)}%`];
    },
  },
  {
    id: 'handshake',
    // wrk does as much work per full handshake as nginx, on the same cores: the rate is bound by
    // the client and cannot show a server-side gain; the workers' CPU per handshake can
    judgeOn: 'server-cpu',
    rounds: (s) => s.rounds,
    check: async (c, side) => ({ tls: await probeTls(c, side, 'hs.probe') }),
    invoke: (c, side) => ({ client: 'wrk', url: c.tlsUrl(side, c.doc.small.url), connections: c.settings.conns.handshake, headers: ['Connection: close'] }),
    title: () => 'TLS handshakes (ECDSA P-256, no resumption)',
    unit: 'handshakes/s',
    method: (c) => `wrk -t1 -c${c.settings.conns.handshake} -d${c.settings.wrkSeconds}s -H 'Connection: close' on ${c.doc.small.url}; ssl_session_cache off, ssl_session_tickets off; ${c.settings.rounds} runs per binary, interleaved`,
  },
  {
    id: 'small',
    rounds: (s) => s.rounds,
    invoke: (c, side) => ({ client: 'wrk', url: c.plainUrl(side, c.doc.small.url), connections: c.settings.conns.small }),
    title: (c) => `small static file (${c.doc.small.bytes} bytes), keep-alive`,
    unit: 'req/s',
    method: ({ settings: s }) => `wrk -t1 -c${s.conns.small} -d${s.wrkSeconds}s, plain HTTP keep-alive; ${s.rounds} runs per binary, interleaved`,
  },
];

interface SideData {
  samples: number[];
  runs: WrkRun[];
  checks: Checks;
  /** server CPU per request of each run, µs */
  cpu: number[];
}

/** CPU seconds the workers spent between two readings (a worker started in between counts from 0). */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of after) s += t - (before.get(pid) ?? 0);
  return s;
}

/** One measured run: its sample (MiB/s for curl, requests/s for wrk), and wrk's details. */
async function measure(c: WorkloadRun, set: Side, server: Side, inv: Invocation, d: SideData): Promise<number> {
  const cpu0 = c.serverCpu?.(server);
  // the workers' CPU over the run divided by the requests it made (a download is one request)
  const perRequest = (requests: number) => {
    if (!cpu0 || requests <= 0) return;
    d.cpu.push((cpuDelta(cpu0, c.serverCpu!(server)) / requests) * 1e6);
  };
  if (inv.client === 'curl') {
    const r = await c.clients.curl({ url: inv.url, maxSeconds: c.settings.downloadMaxSeconds, ...(inv.tls13Ciphers ? { tls13Ciphers: inv.tls13Ciphers } : {}) });
    perRequest(1);
    if (r.bytes !== inv.expectBytes) throw new ForgeError(`${set}: downloaded ${r.bytes} bytes of ${inv.expectBytes}`);
    d.samples.push(r.bytesPerSec / MiB);
    return r.bytesPerSec / MiB;
  }
  const w = await c.clients.wrk({ url: inv.url, seconds: c.settings.wrkSeconds, threads: 1, connections: inv.connections, ...(inv.headers ? { headers: inv.headers } : {}), script: c.script });
  perRequest(w.requests);
  d.runs.push(w);
  d.samples.push(w.rps);
  return w.rps;
}

/** Run one workload row: checks per data set, then `rounds` measured runs per set, interleaved. */
export async function runWorkload(c: WorkloadRun, w: WorkloadRow): Promise<WorkloadResult> {
  const sets = w.sets?.(c) ?? c.sides;
  const data: Partial<Record<Side, SideData>> = {};
  for (const s of sets) data[s] = { samples: [], runs: [], checks: {}, cpu: [] };
  w.prepare?.(c);
  for (const s of sets) if (w.check) data[s]!.checks = await w.check(c, s);
  const rounds = w.rounds(c.settings);
  await interleave(sets, rounds, async (s, round) => {
    c.checkAbort();
    const inv = w.invoke(c, s);
    const d = data[s]!;
    const v = await measure(c, s, w.server?.(s) ?? s, inv, d);
    const cpu = d.cpu.length === d.samples.length ? `, server CPU ${d.cpu.at(-1)!.toFixed(1)} µs/request` : '';
    c.say(`${w.id} round ${round + 1}/${rounds} ${w.label?.(s) ?? s}: ${v.toFixed(inv.client === 'curl' ? 1 : 0)} ${w.unit}${cpu}`);
  });
  const checks: Partial<Record<Side, Checks>> = {};
  for (const s of sets) checks[s] = data[s]!.checks;
  return compare({
    id: w.id,
    title: w.title(c),
    unit: w.unit,
    method: w.method(c),
    baseline: data.baseline ? side(data.baseline) : undefined,
    candidate: side(data.candidate!),
    judgedOn: w.judgeOn ?? 'rate',
    notes: w.notes?.(c, checks) ?? [],
  });
}

/** Every row of `rows` that is not skipped, in order; `after` runs after each (a load sample). */
export async function runWorkloads(c: WorkloadRun, rows: readonly WorkloadRow[] = WORKLOADS, after?: () => void): Promise<WorkloadResult[]> {
  const out: WorkloadResult[] = [];
  for (const w of rows) {
    const why = w.skip?.(c);
    if (why) {
      c.say(why);
      continue;
    }
    out.push(await runWorkload(c, w));
    after?.();
  }
  return out;
}

function side(d: SideData): SideResult {
  return {
    samples: d.samples,
    summary: summarize(d.samples),
    runs: d.runs.length ? d.runs : undefined,
    checks: Object.keys(d.checks).length ? d.checks : undefined,
    // every run has its CPU reading, or none counts (the workers' /proc was not read)
    ...(d.cpu.length && d.cpu.length === d.samples.length ? { cpu: { samples: d.cpu, summary: summarize(d.cpu) } } : {}),
  };
}

export function humanBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

function fmtSigned(p: number): string {
  const r = Math.round(p * 10) / 10;
  return `${r > 0 ? '+' : ''}${r.toFixed(1)}`;
}
