// The binaries are the project's own builds of the ktls and userspace profiles
// (test/helpers/builtNginx.ts).
//
// Real nginx runs in the QEMU guest (pinned Debian kernel, TCG). ONE boot serves every scenario
// (runSmokeBatch runs the probes one after another in the same guest), because each boot costs
// 30-60 s on a 2-core CI machine:
//   run 0  blockCrypto: the kernel cannot load gcm/ctr/chacha modules (run first)  → CIPHER_FALLBACK
//   run 1  the full matrix, 1 MiB, with the PCRE2/zlib-ng/jemalloc proofs          → PASS
//   run 2  config without `ssl_conf_command Options KTLS`                          → BINARY_NO_KTLS
//   run 3  the debug twin with error_log at info (no debug lines)                 → NO_DEBUG_LOG
//   run 4  the userspace profile's binary (OpenSSL without kTLS)                  → BINARY_NO_KTLS
//   run 5  the production binary (no --with-debug): counters + body hashes        → PASS
// Runs 0-3 use the ktls profile's nginx-debug twin, whose debug log is one of the proofs.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSmoke, runSmokeBatch, type SmokeRun } from '../src/smoke/index.ts';
import type { SmokeResult } from '../src/smoke/types.ts';
import { TEST_DISTFILES, TEST_HOME } from './helpers/builtNginx.ts';
import { productionNginx, smokeNginx, smokeTmp, userspaceNginx } from './helpers/smokeNginx.ts';

process.env.NGINX_FORGE_HOME = TEST_HOME;
process.env.NGINX_FORGE_DISTDIR = TEST_DISTFILES;
let dir: string;
let results: SmokeResult[] = [];
let seconds = 0;
const small = { size: 256 * 1024, extras: false } as const;

describe('smoke test in the VM (one boot, several runs)', () => {
  beforeAll(async () => {
    const nginx = await smokeNginx();
    dir = smokeTmp('vm');
    const runs: SmokeRun[] = [
      { nginx, ...small, testHooks: { blockCrypto: true } },
      { nginx, size: 1024 * 1024 },
      { nginx, ...small, ciphers: ['TLS_AES_128_GCM_SHA256'], testHooks: { noKtlsOption: true } },
      { nginx, ...small, ciphers: ['TLS_AES_128_GCM_SHA256'], testHooks: { noDebugLog: true } },
    ];
    runs.push({ nginx: await userspaceNginx(), ...small, ciphers: ['TLS_AES_128_GCM_SHA256'] });
    runs.push({ nginx: await productionNginx(), ...small });
    const t0 = Date.now();
    results = await runSmokeBatch(runs, { vm: 'always', logDir: dir, vmTimeoutSec: 420, onLog: (l) => process.stderr.write(`smoke-vm: ${l}\n`) });
    seconds = (Date.now() - t0) / 1000;
  }, 45 * 60_000);

  afterAll(() => {
    if (dir && process.env.NGINX_FORGE_TEST_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  });

  it('booted once and ran every scenario in the guest kernel', () => {
    expect(results.length).toBe(6);
    for (const r of results) {
      expect(r.mode).toBe('vm');
      expect(r.env.kernel).toBe('6.1.0-56-amd64');
      expect(r.env.kernelTls).toBe(true);
    }
    expect(readFileSync(path.join(dir, 'console.log'), 'utf8').match(/Power down/g)?.length).toBe(1);
    process.stderr.write(`smoke-vm: ${results.length} runs in one boot: ${seconds.toFixed(1)} s (boot ${results[0]!.env.vmBootMs} ms)\n`);
  });

  it('PASS: the default suite is sent by kTLS, both proofs, every body verified', () => {
    const r = results[1]!;
    expect(r.verdict, r.reason).toBe('PASS');
    expect(r.passed).toBe(true);
    // the TLS server was the packages' shipped configuration (conf.d/ktls.conf + example-tls)
    expect(r.env.tlsServer).toBe('shipped');
    for (const c of r.ciphers) expect(c.negotiated, c.suite).toContain(c.suite);
    expect(r.proofs.ktls_log).toMatchObject({ ok: true });
    expect(r.proofs.ktls_counters).toMatchObject({ ok: true });
    expect(r.proofs.body).toMatchObject({ ok: true });
    const d = r.ciphers.find((c) => c.suite === 'TLS_AES_128_GCM_SHA256')!;
    expect(d).toMatchObject({ ktls: true, verdict: 'PASS', ktlsSendLine: true, bodyOk: true });
    expect(d.tlsTxDelta).toBeGreaterThanOrEqual(1);
    expect(d.sslSendfileBytes).toBe(1024 * 1024);
  });

  it('PASS for the production binary (no --with-debug): kernel counters and body hashes, every suite', () => {
    const r = results[5]!;
    expect(r.env.debug).toBe(false);
    expect(r.env.tlsServer).toBe('shipped');
    expect(r.verdict, r.reason).toBe('PASS');
    expect(r.passed).toBe(true);
    expect(r.reason).toMatch(/without --with-debug, proved by the kernel counters and the body hashes/);
    expect(r.proofs.ktls_log).toMatchObject({ ok: false, required: false });
    expect(r.proofs.ktls_counters).toMatchObject({ ok: true, required: true });
    expect(r.proofs.body).toMatchObject({ ok: true });
    for (const c of r.ciphers) {
      expect(c.ktlsSendLine).toBe(false);
      expect(c.tlsTxDelta, c.suite).toBeGreaterThanOrEqual(1);
    }
  });

  it('the matrix: which suites the pinned 6.1 kernel offloads', () => {
    const r = results[1]!;
    expect(r.ciphers.map((c) => c.suite)).toEqual([
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
    ]);
    // measured on 6.1.0-56-amd64: all five are offloaded
    for (const c of r.ciphers) {
      expect(c.bodyOk).toBe(true);
      expect(c.negotiated).toBe(`${c.protocol} / ${c.suite}`);
      expect(c.verdict, `${c.suite}: ${c.detail}`).toBe('PASS');
    }
    expect(r.env.modulesLoaded).toEqual(expect.arrayContaining(['tls', 'gcm', 'chacha20poly1305']));
  });

  it('the same run proves PCRE2 JIT, zlib-ng gzip and jemalloc inside the guest', () => {
    const r = results[1]!;
    expect(r.proofs.pcre_jit).toMatchObject({ ok: true });
    expect(r.proofs.gzip).toMatchObject({ ok: true });
    expect(r.proofs.jemalloc).toMatchObject({ ok: true });
  });

  it('CIPHER_FALLBACK: tls ULP present, no cipher module loadable → every suite falls back, downloads verify', () => {
    const r = results[0]!;
    expect(r.verdict, r.reason).toBe('CIPHER_FALLBACK');
    expect(r.reason).toMatch(/no suite was offloaded/);
    expect(r.next).toMatch(/crypto modules/);
    for (const c of r.ciphers) expect(c).toMatchObject({ verdict: 'CIPHER_FALLBACK', ktls: false, bodyOk: true, tlsTxDelta: 0 });
    expect(r.env.modulesLoaded).not.toContain('gcm');
  });

  it('BINARY_NO_KTLS: kernel ready, kTLS not enabled by the config — never PASS, the download still verifies', () => {
    const r = results[2]!;
    expect(r.verdict, r.reason).toBe('BINARY_NO_KTLS');
    expect(r.passed).toBe(false);
    expect(r.next).toMatch(/Options KTLS/);
    expect(r.ciphers[0]).toMatchObject({ ktls: false, bodyOk: true, tlsTxDelta: 0, ktlsSendLine: false });
    expect(r.proofs.body).toMatchObject({ ok: true });
  });

  it('NO_DEBUG_LOG: no debug lines, judged by kernel counters alone, and said so', () => {
    const r = results[3]!;
    expect(r.verdict, r.reason).toBe('NO_DEBUG_LOG');
    expect(r.reason).toMatch(/kernel counters alone/);
    expect(r.proofs.ktls_counters).toMatchObject({ ok: true });
    expect(r.proofs.ktls_log).toMatchObject({ ok: false, required: false });
    expect(r.ciphers[0]).toMatchObject({ ktls: true, bodyOk: true });
  });

  it("the userspace profile's binary → BINARY_NO_KTLS, and its download still verifies", () => {
    const r = results[4];
    expect(r!.verdict, r!.reason).toBe('BINARY_NO_KTLS');
    expect(r!.env.opensslKtls).toBe('no');
    expect(r!.ciphers[0]!.bodyOk).toBe(true);
  });

  it('raw evidence is kept per run', () => {
    for (const r of results) {
      expect(existsSync(path.join(r.logs.dir, 'io', 'error.log'))).toBe(true);
      expect(existsSync(path.join(r.logs.dir, 'result.json'))).toBe(true);
    }
  });
});

describe('VM time limit', () => {
  it('a guest that does not finish in time is stopped: clear error, console log kept (path printed)', async () => {
    const d = smokeTmp('vm-timeout');
    try {
      const t0 = Date.now();
      await expect(
        runSmoke(await smokeNginx(), { vm: 'always', logDir: d, vmTimeoutSec: 3, size: 65536, extras: false, ciphers: ['TLS_AES_128_GCM_SHA256'] }),
      ).rejects.toThrow(new RegExp(`did not finish within 3 s[\\s\\S]*console log kept: ${path.join(d, 'console.log')}`));
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(readFileSync(path.join(d, 'console.log'), 'utf8')).toMatch(/qemu-system-x86_64/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);
});
