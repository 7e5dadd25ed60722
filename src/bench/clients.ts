// Load generators: wrk (requests per second) and curl (one large download). Loopback only, and
// every run is bounded: wrk by its duration, curl by --max-time, both by a process timeout.
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { ForgeError, MissingToolError } from '../errors.ts';

export const WRK_MARK = 'NGINX_FORGE_WRK ';

/** wrk's done() hook, printing one JSON line we can parse (wrk's own text output is for humans). */
export const WRK_SCRIPT = `-- written by nginx-forge bench serve: report wrk's summary as one JSON line
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${WRK_MARK}{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

export function writeWrkScript(file: string): string {
  writeFileSync(file, WRK_SCRIPT);
  return file;
}

export interface WrkRun {
  requests: number;
  seconds: number;
  bytes: number;
  /** requests / seconds */
  rps: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  p50Ms: number;
  p99Ms: number;
}

export function parseWrk(stdout: string): WrkRun {
  const line = stdout.split('\n').find((l) => l.startsWith(WRK_MARK));
  if (!line) throw new ForgeError(`wrk printed no summary line (is the script hook supported?):\n${stdout.slice(-2000)}`);
  const j = JSON.parse(line.slice(WRK_MARK.length)) as Record<string, number>;
  const seconds = j.duration_us! / 1e6;
  return {
    requests: j.requests!,
    seconds,
    bytes: j.bytes!,
    rps: seconds > 0 ? j.requests! / seconds : 0,
    errors: { connect: j.connect!, read: j.read!, write: j.write!, status: j.status!, timeout: j.timeout! },
    p50Ms: j.p50_us! / 1000,
    p99Ms: j.p99_us! / 1000,
  };
}

export interface WrkOptions {
  url: string;
  seconds: number;
  threads: number;
  connections: number;
  headers?: string[];
  script: string;
}

export async function wrk(o: WrkOptions): Promise<WrkRun> {
  if (!/^https?:\/\/127\.0\.0\.1[:/]/.test(o.url)) throw new ForgeError(`refusing to load-test a non-loopback URL: ${o.url}`);
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '-s', o.script];
  for (const h of o.headers ?? []) args.push('-H', h);
  args.push(o.url);
  const r = await execa('wrk', args, { reject: false, timeout: (o.seconds + 30) * 1000, stdin: 'ignore' });
  if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError('wrk', 'bench serve');
  if (r.failed) throw new ForgeError(`wrk ${args.join(' ')} failed: ${r.shortMessage}\n${String(r.stderr).slice(-2000)}`);
  return parseWrk(String(r.stdout));
}

export interface CurlRun {
  httpCode: number;
  bytes: number;
  /** curl's %{speed_download}: bytes per second */
  bytesPerSec: number;
  seconds: number;
}

export function parseCurlWriteOut(out: string): CurlRun {
  const m = /^(\d{3}) (\d+) ([\d.]+) ([\d.]+)\s*$/.exec(out.trim());
  if (!m) throw new ForgeError(`unexpected curl -w output: ${JSON.stringify(out)}`);
  return { httpCode: Number(m[1]), bytes: Number(m[2]), bytesPerSec: Number(m[3]), seconds: Number(m[4]) };
}

export interface CurlOptions {
  url: string;
  maxSeconds: number;
  /** TLS 1.3 cipher suite to ask for (the article used TLS_AES_256_GCM_SHA384) */
  tls13Ciphers?: string;
  headers?: string[];
  /** write the body here instead of /dev/null */
  output?: string;
  compressed?: boolean;
}

/** One download with curl; rejects on a transfer error or a non-200 status. */
export async function curl(o: CurlOptions): Promise<CurlRun & { headers: string }> {
  if (!/^https?:\/\/127\.0\.0\.1[:/]/.test(o.url)) throw new ForgeError(`refusing to benchmark a non-loopback URL: ${o.url}`);
  const args = ['-k', '-s', '-S', '--http1.1', '--max-time', String(o.maxSeconds), '-o', o.output ?? '/dev/null', '-D', '-'];
  args.push('-w', '\\n@@%{http_code} %{size_download} %{speed_download} %{time_total}');
  if (o.tls13Ciphers) args.push('--tls13-ciphers', o.tls13Ciphers);
  if (o.compressed) args.push('--compressed');
  for (const h of o.headers ?? []) args.push('-H', h);
  args.push(o.url);
  const r = await execa('curl', args, { reject: false, timeout: (o.maxSeconds + 15) * 1000, stdin: 'ignore' });
  if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError('curl', 'bench serve');
  if (r.failed) throw new ForgeError(`curl ${o.url} failed: ${String(r.stderr).trim() || r.shortMessage}`);
  const out = String(r.stdout);
  const at = out.lastIndexOf('@@');
  const run = parseCurlWriteOut(out.slice(at + 2));
  if (run.httpCode !== 200) throw new ForgeError(`curl ${o.url}: HTTP ${run.httpCode}, expected 200`);
  return { ...run, headers: out.slice(0, at) };
}
