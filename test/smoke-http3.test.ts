// The smoke test's one HTTP/3 request (src/smoke/http3.ts, http3-proof.ts): the TLS server gets a
// QUIC listener on its port, the probe runs nginx-tests' QUIC client, and the `http3` proof says
// what happened — or, when there is no client, that nothing was tried and why (never a silent pass).
// The real request is made in test/smoke-native.e2e.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderConfig } from '../src/smoke/config.ts';
import { H3_FILES, H3_SIZE, http3Proof, prepareHttp3 } from '../src/smoke/http3.ts';
import { renderProbe } from '../src/smoke/probe.ts';
import { formatHuman } from '../src/smoke/report.ts';
import { parseSuites } from '../src/smoke/suites.ts';
import type { SmokeResult } from '../src/smoke/types.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'nf-h3-'));
  dirs.push(d);
  return d;
};
const base = { work: '/w', io: '/io', tlsPort: 8443, httpPort: 8080, upstreamPort: 8081 };

describe('the TLS server listens for QUIC when the run makes its HTTP/3 request', () => {
  it('the shipped server: a quic listener on the same address, right after its ssl one', () => {
    const conf = renderConfig({ ...base, suites: parseSuites(undefined), quic: true });
    expect(conf).toMatch(/\n(\s+)listen 127\.0\.0\.1:8443 ssl;\n\1# added by the smoke test for its one HTTP\/3 request \(not in the shipped file\)\n\1listen 127\.0\.0\.1:8443 quic;\n/);
    expect(conf.match(/quic;/g)).toHaveLength(1);
    // the shipped server itself is unchanged otherwise
    expect(conf.replace(/\n\s+# added by the smoke test[^\n]*\n\s+listen 127\.0\.0\.1:8443 quic;/, '')).toBe(renderConfig({ ...base, suites: parseSuites(undefined) }));
  });

  it('a server pinned to --ciphers gets it too; without the request no quic anywhere', () => {
    const custom = renderConfig({ ...base, suites: parseSuites(['TLS_AES_128_CCM_SHA256']), quic: true });
    expect(custom).toContain('listen 127.0.0.1:8443 quic;');
    expect(renderConfig({ ...base, suites: parseSuites(undefined) })).not.toContain('quic');
  });
});

describe('the probe', () => {
  const probe = (http3: boolean) => renderProbe({ nginx: '/n', work: '/w', io: '/io', size: 1024, tlsPort: 8443, httpPort: 8080, upstreamPort: 8081, suites: parseSuites(undefined), extras: false, uaToken: 'tok', http3 });

  it('serves a small random file, hashed before nginx starts, and GETs it with the client, its path carrying the run token', () => {
    const p = probe(true);
    expect(p).toContain(`head -c ${H3_SIZE} /dev/urandom > '/w/html/${H3_FILES.file}'`);
    expect(p).toContain(`put h3_data_sha256 "$(sha '/w/html/${H3_FILES.file}')"`);
    expect(p).toContain(`timeout 120 perl -I "$IO/${H3_FILES.lib}" "$IO/${H3_FILES.script}" "$TLS_PORT" "/${H3_FILES.file}?$UA_TOKEN" >> "$R"`);
    expect(p).toContain('put h3_exit $?');
    expect(p.indexOf(`/w/html/${H3_FILES.file}`)).toBeLessThan(p.indexOf('"$NGINX" -p'));
  });

  it('no client: no perl, no file', () => {
    const p = probe(false);
    expect(p).not.toContain('perl');
    expect(p).not.toContain(H3_FILES.file);
  });
});

describe('the http3 proof', () => {
  const plan = { tried: true as const, suite: 'nginx-tests 76bb761cdcae' };
  const good = { h3_port: '8443', h3_exit: '0', h3_status: '200', h3_bytes: String(H3_SIZE), h3_sha256: 'ab'.repeat(32), h3_data_sha256: 'ab'.repeat(32) };
  const logged = [{ request: `GET /${H3_FILES.file}?tok HTTP/3.0`, status: '200' }];

  it('a request made: status 200, the bytes served, and the access log says HTTP/3.0 → ok, required', () => {
    const p = http3Proof(plan, good, logged, 'tok');
    expect(p).toEqual({ ok: true, required: true, detail: `GET /h3.bin over HTTP/3 (QUIC, UDP 8443) with nginx-tests 76bb761cdcae's client (Test::Nginx::HTTP3): 200, ${H3_SIZE} bytes, sha256 matches; access log: HTTP/3.0 200` });
  });

  it('a request made and failed fails the run (the binary claims HTTP/3 and the client is there), naming what went wrong', () => {
    const noHandshake = http3Proof(plan, { ...good, h3_exit: '1', h3_error: 'no QUIC handshake with 127.0.0.1:8443', h3_status: undefined as unknown as string }, [], 'tok');
    expect(noHandshake).toMatchObject({ ok: false, required: true });
    expect(noHandshake.detail).toContain('client exit 1: no QUIC handshake with 127.0.0.1:8443');
    expect(noHandshake.detail).toContain('no "HTTP/3.0" 200 line');
    const wrongBody = http3Proof(plan, { ...good, h3_sha256: 'cd'.repeat(32) }, logged, 'tok');
    expect(wrongBody).toMatchObject({ ok: false, required: true });
    expect(wrongBody.detail).toMatch(/body 4096 bytes, sha256 cdcd.*want 4096 bytes, abab/);
    // over HTTP/1.1 or HTTP/2 it is not an HTTP/3 request
    expect(http3Proof(plan, good, [{ request: `GET /${H3_FILES.file}?tok HTTP/1.1`, status: '200' }], 'tok').ok).toBe(false);
    expect(http3Proof(plan, { ...good, h3_status: '404' }, logged, 'tok').detail).toContain('HTTP status 404');
  });

  it('no client: not tried, reported only, and the reason is in the report', () => {
    const p = http3Proof({ tried: false, why: "no client: Perl's CryptX is missing" }, {}, [], 'tok');
    expect(p).toEqual({ ok: false, required: false, detail: "not tried: no client: Perl's CryptX is missing" });
    const r = { verdict: 'PASS', reason: 'r', mode: 'native', passed: true, proofs: { http3: p }, ciphers: [], logs: { dir: '/l' }, env: { kernel: 'k', kernelTls: true, nginx: '/n', debug: false, opensslKtls: 'yes', durationMs: 1 } } as SmokeResult;
    expect(formatHuman(r)).toMatch(/\n\s+no\s+http3\s+not tried: no client: Perl's CryptX is missing \(reported only\)\n/);
  });
});

describe('whether the client is there (prepareHttp3)', () => {
  it('a binary without --with-http_v3_module: not tried, and it says so', async () => {
    const r = await prepareHttp3(tmp(), { configureArgs: '--with-http_ssl_module --with-http_v2_module', distdir: tmp() });
    expect(r).toEqual({ tried: false, why: 'the binary has no HTTP/3 (--with-http_v3_module not in its configure arguments)' });
  });

  it('the pinned suite is not in the store (offline lookup): not tried, naming the file and how to get it', async () => {
    const r = await prepareHttp3(tmp(), { configureArgs: '--with-http_ssl_module --with-http_v3_module', distdir: tmp() });
    expect(r.tried).toBe(false);
    if (!r.tried) expect(r.why).toMatch(/^no client: the pinned nginx-tests \(nginx-tests-76bb761cdcaeb6cb024d605c2ef91bf8d8a602d7\.tar\.gz\) is not in the distfiles store .*`nginx-forge test` or `fetch` stores it$/);
  });
});
