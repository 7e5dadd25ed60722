import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { hostKernel, runSmokeBatch } from '../src/smoke/index.ts';
import type { SmokeResult } from '../src/smoke/types.ts';
import { TEST_DISTFILES, TEST_HOME } from './helpers/builtNginx.ts';
import { smokeNginx, smokeTmp } from './helpers/smokeNginx.ts';
import { TEST_MIRROR } from './helpers/mirror.ts';

process.env.NGINX_FORGE_HOME = TEST_HOME;
process.env.NGINX_FORGE_DISTDIR = TEST_DISTFILES;
const host = hostKernel();
const dirs: string[] = [];
let plain: SmokeResult;
let corrupt: SmokeResult;

beforeAll(async () => {
  const nginx = await smokeNginx();
  const dir = smokeTmp('native');
  dirs.push(dir);
  // both runs natively, one after the other
  const rs = await runSmokeBatch(
    [
      { nginx, size: 1024 * 1024 },
      { nginx, size: 256 * 1024, extras: false, ciphers: ['TLS_AES_128_GCM_SHA256'], testHooks: { tamperBody: true } },
    ],
    // the HTTP/3 client (the pinned nginx-tests) from the store, else the tests' mirror or upstream
    { vm: 'never', logDir: dir, http3Fetch: { distdir: TEST_DISTFILES, mirrors: TEST_MIRROR ? [TEST_MIRROR] : [] } },
  );
  plain = rs[0]!;
  corrupt = rs[1]!;
}, 45 * 60_000);

afterAll(() => {
  if (process.env.NGINX_FORGE_TEST_KEEP !== '1') for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('native smoke run (real nginx)', () => {
  it(host.tlsReady ? 'PASS on a host kernel with kTLS' : 'KERNEL_NO_KTLS on this host kernel, with the next step', () => {
    expect(plain.mode).toBe('native');
    if (host.tlsReady) {
      expect(plain.verdict).toBe('PASS');
      return;
    }
    expect(plain.verdict).toBe('KERNEL_NO_KTLS');
    expect(plain.passed).toBe(false);
    expect(plain.reason).toMatch(/no "tls" TCP ULP/);
    expect(plain.next).toMatch(host.tlsModule ? /modprobe tls/ : /--vm always/);
    expect(plain.ciphers).toHaveLength(5);
    expect(plain.ciphers.every((c) => c.verdict === 'KERNEL_NO_KTLS' && !c.ktls && c.bodyOk)).toBe(true);
  });

  it('one HTTP/3 request to the shipped TLS server with nginx-tests\' QUIC client: 200, the bytes served, logged as HTTP/3.0', () => {
    expect(plain.env.tlsServer).toBe('shipped');
    expect(plain.proofs.http3).toMatchObject({ ok: true, required: true });
    expect(plain.proofs.http3!.detail).toMatch(/^GET \/h3\.bin over HTTP\/3 \(QUIC, UDP \d+\) with nginx-tests 76bb761cdcae's client \(Test::Nginx::HTTP3\): 200, 4096 bytes, sha256 matches; access log: HTTP\/3\.0 200$/);
    const conf = readFileSync(path.join(plain.logs.dir, 'io', 'nginx.conf'), 'utf8');
    expect(conf).toMatch(/listen 127\.0\.0\.1:(\d+) ssl;\n.*\n\s+listen 127\.0\.0\.1:\1 quic;/);
  });

  it('every download verifies, and the negotiated suite is the one asked for', () => {
    expect(plain.proofs.body!.ok).toBe(true);
    for (const c of plain.ciphers) expect(c.negotiated).toBe(`${c.protocol} / ${c.suite}`);
  });

  it('proves PCRE2 JIT, zlib-ng gzip (static + proxied, 100 B + 1 MiB, levels 1/5/9) and jemalloc', () => {
    expect(plain.proofs.pcre_jit).toMatchObject({ ok: true });
    expect(plain.proofs.gzip).toMatchObject({ ok: true });
    expect(plain.proofs.gzip!.detail).toMatch(/12 responses/);
    expect(plain.proofs.gzip!.detail).toMatch(/no preallocated-memory alert/);
    expect(plain.proofs.jemalloc).toMatchObject({ ok: true });
    expect(plain.proofs.nginx_t).toMatchObject({ ok: true });
  });

  it('nginx touched no system path: everything is in the run directory', () => {
    const conf = readFileSync(path.join(plain.logs.dir, 'io', 'nginx.conf'), 'utf8');
    expect(conf).not.toMatch(/\/etc\/nginx|\/var\/log\/nginx|\/var\/lib\/nginx|\/run\/nginx/);
    expect(JSON.parse(readFileSync(path.join(plain.logs.dir, 'result.json'), 'utf8')).verdict).toBe(plain.verdict);
  });

  it('CORRUPT: the served file was tampered with after hashing — a real download that must fail', () => {
    expect(corrupt.verdict).toBe('CORRUPT');
    expect(corrupt.passed).toBe(false);
    expect(corrupt.ciphers[0]!.bodyOk).toBe(false);
    expect(corrupt.reason).toMatch(/differ/);
    expect(corrupt.next).toMatch(/do not ship/);
  });
});

describe('nginx-forge smoke CLI', () => {
  it('--vm never --json: one JSON object, exit code 0 only on PASS', async () => {
    const dir = smokeTmp('cli');
    dirs.push(dir);
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'smoke', await smokeNginx(), '--vm', 'never', '--json', '--size', '64K', '--ciphers', 'TLS_AES_128_GCM_SHA256'], {
      reject: false,
      env: { NGINX_FORGE_HOME: dir },
      timeout: 120_000,
    });
    const out = JSON.parse(String(r.stdout));
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['verdict', 'reason', 'next', 'mode', 'proofs', 'ciphers']));
    expect(out.mode).toBe('native');
    expect(r.exitCode).toBe(out.verdict === 'PASS' && out.passed ? ExitCode.ok : ExitCode.smoke);
    if (!host.tlsReady) {
      expect(out.verdict).toBe('KERNEL_NO_KTLS');
      expect(out.next).toBeTruthy();
    }
  }, 120_000);

  it('a missing binary is a usage error', async () => {
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'smoke', '/nonexistent/nginx', '--vm', 'never'], {
      reject: false,
      env: { NGINX_FORGE_HOME: smokeTmp('cli-missing') },
    });
    expect(r.exitCode).toBe(ExitCode.usage);
    expect(String(r.stderr)).toMatch(/does not exist or is not executable/);
  });
});
