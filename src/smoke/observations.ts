// Read what the probe script wrote into the io directory into typed observations. Pure parsing
// (plus reading files); judging happens in verdict.ts.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { gzipRequests, moduleIo, PROBE_FILES } from './probe.ts';
import type { SmokeModule } from './types.ts';

/** Content-Encoding tokens node:zlib decodes (the smoke test decodes on the host, natively and for the VM). */
export const DECODERS: Record<NonNullable<SmokeModule['encoding']>['token'], (b: Buffer) => Buffer> = {
  br: (b) => brotliDecompressSync(b),
  gzip: (b) => gunzipSync(b),
  deflate: (b) => inflateSync(b),
};

/** What the host prepared for a module's proof (io/mod-<name>/expect.json). */
export interface ModuleExpectation {
  name: string;
  displayName: string;
  link: 'static' | 'dynamic';
  load: string[];
  directives: string[];
  token: 'br' | 'gzip' | 'deflate';
  originalSha256: string;
  originalSize: number;
  /** the pre-compressed file's hash (static proof), when the module has one */
  staticSha256?: string;
  staticSize?: number;
  staticSuffix?: string;
}

export interface ModuleResponse {
  httpCode: string;
  encoding: string;
  bodySize: number;
  bodySha256: string;
  /** sha256 after decoding with the expected encoding ('-' when not decodable) */
  decodedSha256: string;
  problem?: string;
}

export interface ModuleObservation {
  expect: ModuleExpectation;
  dyn?: ModuleResponse;
  static?: ModuleResponse;
}

export type TlsStat = Record<string, number>;

export interface SuiteObservation {
  index: number;
  protocol: string;
  suite: string;
  curlExit: number;
  httpCode: string;
  bodySha256: string;
  bodySize: number;
  /** debug log lines written during this download */
  log: string;
  tlsBefore: TlsStat | null;
  tlsAfter: TlsStat | null;
  /** "TLSv1.3 / TLS_AES_128_GCM_SHA256" as curl reports it */
  negotiated?: string;
  curlError?: string;
  /** curl's time_total, seconds */
  seconds: number;
}

export interface GzipObservation {
  kind: 'static' | 'proxied';
  level: number;
  size: 'small' | 'large';
  httpCode: string;
  /** Content-Encoding of the response ('-' when none) */
  encoding: string;
  /** sha256 of the body after gunzip ('-' when missing or not decodable) */
  decodedSha256: string;
  problem?: string;
}

export interface Observations {
  results: Record<string, string>;
  kernel: string;
  ulp: string[];
  tlsStatAvailable: boolean;
  dataSha256: string;
  dataSize: number;
  suites: SuiteObservation[];
  /** null: the gzip checks were not run (extras off) */
  gzip: GzipObservation[] | null;
  gzipCurlExit?: number;
  gzipExpected: { small: string; large: string };
  nginxTExit?: number;
  nginxTOutput: string;
  nginxStartExit?: number;
  nginxStartOutput: string;
  nginxUp: boolean;
  reBody?: string;
  reNomatchCode?: string;
  errorLog: string;
  /** third-party modules with an encoding proof (empty: none in this run) */
  modules?: ModuleObservation[];
  complete: boolean;
  /** t_end - t_start of the probe */
  probeMs?: number;
}

export function parseResults(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** /proc/net/tls_stat: "TlsCurrTxSw   0" lines; empty text (no tls module) → null. */
export function parseTlsStat(text: string): TlsStat | null {
  const out: TlsStat = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)\s*$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return Object.keys(out).length ? out : null;
}

/** Software + device TX offload setups between two snapshots (null when counters are unavailable). */
export function txDelta(before: TlsStat | null, after: TlsStat | null): number | null {
  if (!after) return null;
  const v = (s: TlsStat | null, k: string) => s?.[k] ?? 0;
  return v(after, 'TlsTxSw') - v(before, 'TlsTxSw') + (v(after, 'TlsTxDevice') - v(before, 'TlsTxDevice'));
}

export function rxDelta(before: TlsStat | null, after: TlsStat | null): number | null {
  if (!after) return null;
  const v = (s: TlsStat | null, k: string) => s?.[k] ?? 0;
  return v(after, 'TlsRxSw') - v(before, 'TlsRxSw') + (v(after, 'TlsRxDevice') - v(before, 'TlsRxDevice'));
}

/** "* SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256" from curl -v. */
export function negotiatedFrom(curlVerbose: string): string | undefined {
  return /SSL connection using ([^\r\n]+)/.exec(curlVerbose)?.[1]?.trim();
}

function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function num(v: string | undefined): number | undefined {
  return v === undefined || v === '' || Number.isNaN(Number(v)) ? undefined : Number(v);
}

export function readObservations(io: string): Observations {
  const results = parseResults(readOr(path.join(io, PROBE_FILES.results)));
  const errorLogBuf = (() => {
    try {
      return readFileSync(path.join(io, PROBE_FILES.errorLog));
    } catch {
      return Buffer.alloc(0);
    }
  })();
  const suites: SuiteObservation[] = [];
  for (const line of readOr(path.join(io, PROBE_FILES.suites)).split('\n')) {
    // idx|protocol|suite|curl exit|http code|bytes|seconds|body sha256|log start|log end
    const f = line.split('|');
    if (f.length < 10) continue;
    const index = Number(f[0]);
    const curlText = readOr(path.join(io, `curl-${index}.txt`));
    const start = Number(f[8]);
    const end = Number(f[9]);
    suites.push({
      index,
      protocol: f[1]!,
      suite: f[2]!,
      curlExit: Number(f[3]),
      httpCode: f[4]!,
      bodySize: Number(f[5]),
      seconds: Number(f[6]),
      bodySha256: f[7]!,
      log: errorLogBuf.subarray(start, end > start ? end : start).toString('utf8'),
      tlsBefore: parseTlsStat(readOr(path.join(io, `tls-${index}-before.txt`))),
      tlsAfter: parseTlsStat(readOr(path.join(io, `tls-${index}-after.txt`))),
      negotiated: negotiatedFrom(curlText),
      curlError:
        curlText
          .split('\n')
          .filter((l) => /^curl: \(\d+\)/.test(l))
          .join('; ') || undefined,
    });
  }
  const gzip = results.gzip_curl_exit === undefined ? null : readGzip(io);
  return {
    results,
    kernel: results.kernel ?? '',
    ulp: (results.ulp ?? '').split(/\s+/).filter(Boolean),
    tlsStatAvailable: results.tls_stat === '1' || suites.some((s) => s.tlsAfter !== null),
    dataSha256: results.data_sha256 ?? '',
    dataSize: num(results.data_size) ?? 0,
    suites,
    gzip,
    gzipCurlExit: num(results.gzip_curl_exit),
    gzipExpected: { small: results.gz_small_sha256 ?? '', large: results.gz_large_sha256 ?? '' },
    nginxTExit: num(results.nginx_t_exit),
    nginxTOutput: readOr(path.join(io, PROBE_FILES.nginxT)),
    nginxStartExit: num(results.nginx_start_exit),
    nginxStartOutput: readOr(path.join(io, PROBE_FILES.nginxStart)),
    nginxUp: results.nginx_up === '1',
    reBody: results.re_body,
    reNomatchCode: results.re_nomatch_code,
    errorLog: errorLogBuf.toString('utf8'),
    modules: readModules(io),
    complete: existsSync(path.join(io, PROBE_FILES.done)),
    probeMs: num(results.t_end) !== undefined && num(results.t_start) !== undefined ? num(results.t_end)! - num(results.t_start)! : undefined,
  };
}

/** Header blocks of `curl -D` over several transfers, in order: the Content-Encoding of each. */
export function encodingsFromHeaders(text: string): string[] {
  const out: string[] = [];
  let cur: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^HTTP\/\S+ \d{3}/.test(line)) {
      if (cur !== undefined) out.push(cur);
      cur = '-';
    } else if (cur !== undefined) {
      const m = /^content-encoding:\s*(.+)$/i.exec(line);
      if (m) cur = m[1]!.trim();
    }
  }
  if (cur !== undefined) out.push(cur);
  return out;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The raw gzip responses, decoded here on the host (the same code for native and VM runs). */
function readGzip(io: string): GzipObservation[] {
  const encodings = encodingsFromHeaders(readOr(path.join(io, PROBE_FILES.gzipHeaders)));
  const codes = readOr(path.join(io, PROBE_FILES.gzipStatus)).split('\n').filter(Boolean);
  return gzipRequests().map((g, i) => {
    const o: GzipObservation = {
      kind: g.kind === 'px' ? 'proxied' : 'static',
      level: g.level,
      size: g.size,
      httpCode: codes[i] ?? '000',
      encoding: encodings[i] ?? '-',
      decodedSha256: '-',
    };
    let body: Buffer;
    try {
      body = readFileSync(path.join(io, PROBE_FILES.gzipDir, g.file));
    } catch {
      o.problem = 'no response body';
      return o;
    }
    if (o.encoding !== 'gzip') {
      o.problem = `not gzip-encoded (Content-Encoding: ${o.encoding})`;
      o.decodedSha256 = sha256(body);
      return o;
    }
    try {
      o.decodedSha256 = sha256(gunzipSync(body));
    } catch (e) {
      o.problem = `gunzip failed: ${(e as Error).message}`;
    }
    return o;
  });
}

/** Every io/mod-<name>/ the host prepared: the responses the probe saved, decoded here. */
export function readModules(io: string): ModuleObservation[] {
  let dirs: string[] = [];
  try {
    dirs = readdirSync(io).filter((d) => d.startsWith('mod-')).sort();
  } catch {
    return [];
  }
  const out: ModuleObservation[] = [];
  for (const d of dirs) {
    const name = d.slice('mod-'.length);
    const f = moduleIo(name);
    let expect: ModuleExpectation;
    try {
      expect = JSON.parse(readFileSync(path.join(io, f.expect), 'utf8')) as ModuleExpectation;
    } catch {
      continue;
    }
    const read = (kind: 'dyn' | 'static'): ModuleResponse | undefined => {
      const r = f.responses(kind);
      if (!existsSync(path.join(io, r.status))) return undefined;
      const httpCode = readOr(path.join(io, r.status)).trim() || '000';
      const encoding = encodingsFromHeaders(readOr(path.join(io, r.headers)))[0] ?? '-';
      let body: Buffer;
      try {
        body = readFileSync(path.join(io, r.body));
      } catch {
        return { httpCode, encoding, bodySize: 0, bodySha256: '-', decodedSha256: '-', problem: 'no response body' };
      }
      const o: ModuleResponse = { httpCode, encoding, bodySize: body.length, bodySha256: sha256(body), decodedSha256: '-' };
      if (encoding !== expect.token) {
        o.problem = `not ${expect.token}-encoded (Content-Encoding: ${encoding})`;
        return o;
      }
      try {
        o.decodedSha256 = sha256(DECODERS[expect.token](body));
      } catch (e) {
        o.problem = `decoding ${expect.token} failed: ${(e as Error).message}`;
      }
      return o;
    };
    out.push({ expect, dyn: read('dyn'), static: expect.staticSha256 ? read('static') : undefined });
  }
  return out;
}
