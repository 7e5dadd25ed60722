// A hostile fake nginx, really run on the host (issue 21, defect 3): a shell script that prints an
// nginx-like -V (with the strings an old check took for kTLS and zlib-ng in a comment) and serves
// the smoke test's TLS downloads with `openssl s_server -WWW -sendfile`. It must get NOT_NGINX
// with a reason, never PASS: the script because it is no ELF (nothing is started), and the same
// fake behind an ELF whose -V lines are string literals of its own (fake-nginx.c) because what
// listens on the test ports is openssl and busybox, with no Server header and no access log.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSmoke } from '../src/smoke/index.ts';
import { formatHuman } from '../src/smoke/report.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures/smoke');
const SCRIPT = path.join(FIXTURES, 'fake-nginx.sh');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'smoke-fake-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const opts = (name: string) => ({ vm: 'never' as const, size: 64 * 1024, ciphers: ['TLS_AES_128_GCM_SHA256'], logDir: path.join(tmp, name) });

describe('a fake nginx (a script served by openssl s_server) gets NOT_NGINX', () => {
  it('the script itself: not an ELF, judged before anything is started', async () => {
    // the markers the old substring check found are really in it
    const text = readFileSync(SCRIPT, 'utf8');
    expect(text).toContain('ktls_meth.c');
    expect(text).toContain('.zlib-ng');
    const r = await runSmoke(SCRIPT, opts('script'));
    expect(r.verdict).toBe('NOT_NGINX');
    expect(r.passed).toBe(false);
    expect(r.reason).toBe(`${SCRIPT} is not nginx: it is not an ELF executable (it starts with "#!/bin/sh"); nothing was started`);
    expect(r.ciphers).toEqual([]);
    expect(r.env.opensslKtls).toBe('unknown');
    expect(formatHuman(r)).toMatch(/kTLS smoke test: NOT_NGINX {2}\(nothing was run;/);
  });

  it("behind an ELF whose -V is its own: the listeners are openssl and busybox, no nginx Server header, nothing in nginx's access log", async () => {
    const elf = path.join(tmp, 'fake-nginx');
    const cc = spawnSync('cc', ['-O0', '-o', elf, `-DFAKE_SCRIPT="${SCRIPT}"`, path.join(FIXTURES, 'fake-nginx.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const r = await runSmoke(elf, opts('elf'));
    expect(r.verdict).toBe('NOT_NGINX');
    expect(r.passed).toBe(false);
    // the fake did serve the bytes: the body proof alone would not have caught it
    expect(r.proofs.body!.ok).toBe(true);
    expect(r.proofs.identity!.ok).toBe(false);
    expect(r.reason).toMatch(/^what served the smoke test is not this nginx binary: /);
    expect(r.reason).toMatch(/listening on 127\.0\.0\.1:\d+ \(TLS\) \(pid \d+\) runs \S*\/openssl \(sha256 [0-9a-f]{16}…\), not this binary/);
    expect(r.reason).toMatch(/\(HTTP\) \(pid \d+\) runs \S*\/busybox/);
    expect(r.reason).toMatch(/every TLS response: no Server header/);
    expect(r.reason).toMatch(/no TLS download\(s\) \(TLS_AES_128_GCM_SHA256\) in nginx's access log/);
    // nothing of the fake is left running
    const left = spawnSync('sh', ['-c', `ps -eo args | grep -F -- "${path.join(tmp, 'elf')}" | grep -v grep`], { encoding: 'utf8' });
    expect(left.stdout).toBe('');
  });
});
