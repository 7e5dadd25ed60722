// The smoke test's HTTP/3 request, the pure half: the io file names, and the `http3` proof judged
// from what the probe recorded (smoke/http3.ts prepares the client; verdict.ts calls the proof).
import type { Proof } from './types.ts';

/** Files of the HTTP/3 client in the io directory. */
export const H3_FILES = {
  /** the client's Perl library (Test/Nginx.pm, Test/Nginx/HTTP3.pm), copied from the pinned suite */
  lib: 'h3-client/lib',
  script: 'h3-client/get.pl',
  /** the client's stderr */
  output: 'h3-client.txt',
  /** the small file it fetches, under the TLS server's root */
  file: 'h3.bin',
} as const;

/** Size of the file fetched over HTTP/3 (the Perl client is slow under TCG: one small file). */
export const H3_SIZE = 4096;

/** What the probe is told: run the client, or why not. */
export type Http3Plan = { tried: true; suite: string } | { tried: false; why: string };

/** The `http3` proof from the probe's results (h3_* keys) and the access log. */
export function http3Proof(plan: Http3Plan | undefined, results: Record<string, string>, accessLog: { request: string; status: string }[], token: string): Proof {
  if (!plan) return { ok: false, detail: 'not tried: not asked for in this run', required: false };
  if (!plan.tried) return { ok: false, detail: `not tried: ${plan.why}`, required: false };
  const want = results.h3_data_sha256;
  const status = results.h3_status;
  const bytes = Number(results.h3_bytes ?? 0);
  const logged = accessLog.some((l) => l.request === `GET /${H3_FILES.file}?${token} HTTP/3.0` && l.status === '200');
  const problems: string[] = [];
  if (results.h3_exit === undefined) problems.push('the probe did not run the client (nginx not up?)');
  else if (results.h3_exit !== '0') problems.push(`client exit ${results.h3_exit}${results.h3_error ? `: ${results.h3_error}` : ''}`);
  if (results.h3_exit === '0' && status !== '200') problems.push(`HTTP status ${status ?? '-'}`);
  if (results.h3_exit === '0' && (results.h3_sha256 !== want || bytes !== H3_SIZE)) problems.push(`body ${bytes} bytes, sha256 ${String(results.h3_sha256).slice(0, 16)}… (want ${H3_SIZE} bytes, ${String(want).slice(0, 16)}…)`);
  if (!logged) problems.push('no "HTTP/3.0" 200 line for it in the access log');
  return {
    ok: problems.length === 0,
    detail: problems.length
      ? `HTTP/3 GET /${H3_FILES.file} with ${plan.suite}'s QUIC client failed: ${problems.join('; ')} (client output: ${H3_FILES.output})`
      : `GET /${H3_FILES.file} over HTTP/3 (QUIC, UDP ${results.h3_port ?? '?'}) with ${plan.suite}'s client (Test::Nginx::HTTP3): 200, ${bytes} bytes, sha256 matches; access log: HTTP/3.0 200`,
    // the binary claims HTTP/3 and the client is here: a failed request fails the smoke test
    required: true,
  };
}
