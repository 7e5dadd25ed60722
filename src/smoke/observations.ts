// Read what the probe script wrote into the io directory into typed observations. Pure parsing
// (plus reading files); judging happens in verdict.ts.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { componentT, gzipRequests, moduleIo, PROBE_FILES } from './probe.ts';
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
  /** the response's Server header (curl -v), undefined when it had none */
  serverHeader?: string;
}

/** A line of nginx's access log in the default (combined) format. */
export interface AccessLogLine {
  request: string;
  status: string;
  bytes: number;
  userAgent: string;
}

/** A process holding a test port's listening socket, as the probe saw it where nginx ran. */
export interface ListenerObservation {
  port: number;
  inode: string;
  pid: number;
}

export interface ProcessObservation {
  pid: number;
  /** readlink /proc/<pid>/exe */
  exe: string;
  /** device:inode of /proc/<pid>/exe as the probe saw it ('-': unreadable) */
  devIno: string;
  /** sha256 of /proc/<pid>/exe: the file the process runs ('same': its device:inode is the binary's, not hashed; '-': unreadable) */
  sha256: string;
  /** files it maps (/proc/<pid>/maps), e.g. the libssl it really loaded */
  mapped: string[];
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
  /** what each component's nginx -t run printed (its recipe's verify.nginxT), by component name */
  componentT: Record<string, string>;
  nginxStartExit?: number;
  nginxStartOutput: string;
  nginxUp: boolean;
  reBody?: string;
  reNomatchCode?: string;
  errorLog: string;
  /** third-party modules with an encoding proof (empty: none in this run) */
  modules?: ModuleObservation[];
  /** device:inode of the binary under test, as the probe saw it */
  nginxId: string;
  /** the ports nginx was told to listen on (TLS, HTTP, upstream) */
  testPorts: number[];
  /** the probe looked for the listeners (nginx was up) */
  listenersSeen: boolean;
  listeners: ListenerObservation[];
  /** by pid */
  processes: Record<number, ProcessObservation>;
  /** nginx's access log, parsed */
  accessLog: AccessLogLine[];
  /** the per-run token in each TLS download's User-Agent */
  uaToken: string;
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

/** The last "< Server: ..." response header of curl -v output. */
export function serverHeaderFrom(curlVerbose: string): string | undefined {
  const all = [...curlVerbose.matchAll(/^< server:[ \t]*([^\r\n]*)/gim)];
  return all.length ? all[all.length - 1]![1]!.trim() : undefined;
}

/** nginx's access log in the combined format: `addr - user [time] "request" status bytes "referer" "user agent"`. */
export function parseAccessLog(text: string): AccessLogLine[] {
  const out: AccessLogLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^\S+ \S+ \S+ \[[^\]]*\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"/.exec(line);
    if (m) out.push({ request: m[1]!, status: m[2]!, bytes: m[3] === '-' ? 0 : Number(m[3]), userAgent: m[4]! });
  }
  return out;
}

/**
 * Does this process run the binary under test? The same file where the probe ran (device:inode
 * of /proc/<pid>/exe and of the binary's path, both seen by the probe: natively or in the VM), or
 * the same bytes (sha256, e.g. a copy).
 */
export function runsBinary(obs: Pick<Observations, 'nginxId'>, p: ProcessObservation | undefined, sha256: string): boolean {
  if (!p) return false;
  return (p.devIno !== '-' && p.devIno !== '' && p.devIno === obs.nginxId) || p.sha256 === sha256;
}

/** listeners.txt (port|inode|pid), processes.txt (pid|device:inode|sha256|exe) and maps-<pid>.txt. */
export function readListeners(io: string): { listeners: ListenerObservation[]; processes: Record<number, ProcessObservation> } {
  const listeners: ListenerObservation[] = [];
  for (const line of readOr(path.join(io, PROBE_FILES.listeners)).split('\n')) {
    const [port, inode, pid] = line.split('|');
    if (pid && /^\d+$/.test(pid) && /^\d+$/.test(port ?? '')) listeners.push({ port: Number(port), inode: inode ?? '', pid: Number(pid) });
  }
  const processes: Record<number, ProcessObservation> = {};
  for (const line of readOr(path.join(io, PROBE_FILES.processes)).split('\n')) {
    const f = line.split('|');
    if (f.length < 4 || !/^\d+$/.test(f[0]!)) continue;
    const pid = Number(f[0]);
    processes[pid] = { pid, devIno: f[1]!, sha256: f[2]!, exe: f.slice(3).join('|'), mapped: mappedFiles(readOr(path.join(io, `maps-${pid}.txt`))) };
  }
  return { listeners, processes };
}

/** The files of /proc/<pid>/maps (its sixth field, when it is a path). */
export function mappedFiles(maps: string): string[] {
  const out = new Set<string>();
  for (const line of maps.split('\n')) {
    const m = /^\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\/.*)$/.exec(line);
    if (m) out.add(m[1]!.replace(/ \(deleted\)$/, ''));
  }
  return [...out];
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

/** What the probe wrote into `io`; `components`: the names of the component proofs it ran. */
export function readObservations(io: string, components: string[] = []): Observations {
  const names = components;
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
      serverHeader: serverHeaderFrom(curlText),
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
    componentT: Object.fromEntries(names.map((n) => [n, readOr(path.join(io, componentT(n)))])),
    nginxStartExit: num(results.nginx_start_exit),
    nginxStartOutput: readOr(path.join(io, PROBE_FILES.nginxStart)),
    nginxUp: results.nginx_up === '1',
    reBody: results.re_body,
    reNomatchCode: results.re_nomatch_code,
    errorLog: errorLogBuf.toString('utf8'),
    modules: readModules(io),
    nginxId: results.nginx_id ?? '',
    testPorts: (results.test_ports ?? '').split(/\s+/).filter(Boolean).map(Number),
    listenersSeen: results.listeners_seen === '1',
    ...readListeners(io),
    accessLog: parseAccessLog(readOr(path.join(io, PROBE_FILES.accessLog))),
    uaToken: results.ua_token ?? '',
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
