// `verify` on a foreign binary (the distro's /usr/sbin/nginx, installed by ci/setup.sh): each
// failed check printed once, advice for a binary nginx-forge did not build, and kTLS judged in
// the TLS library the binary really uses (Debian's shared libssl3 does kTLS).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { VerifyError } from '../src/errors.ts';
import { BUILTIN_RECIPES, loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { assertChecks, builtByForge, resolveLibrary, sharedLibsslKtls, verifyBinary } from '../src/stages/verify.ts';
import { splitConfigureLine } from '../src/nginxv.ts';

const DISTRO_NGINX = '/usr/sbin/nginx';

describe('verify', () => {
  it('a foreign binary: one table, a short error, advice for a binary nginx-forge did not build', async () => {
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'verify', DISTRO_NGINX, '--profile', 'ktls'], { reject: false });
    expect(r.exitCode).toBe(5);
    // every failed check appears exactly once, in the table
    const fails = String(r.stdout).match(/^FAIL  .*/gm) ?? [];
    expect(fails.length).toBeGreaterThan(2);
    expect(new Set(fails).size).toBe(fails.length);
    for (const f of fails) expect(`${r.stdout}\n${r.stderr}`.split(f.slice(6)).length - 1, f).toBe(1);
    expect(r.stderr).toMatch(/verification of \/usr\/sbin\/nginx failed: \d+ checks \(listed above\)/);
    expect(r.stderr).not.toMatch(/configure arguments/);
    expect(r.stderr).toMatch(/not built by nginx-forge/);
    expect(r.stderr).not.toMatch(/--force/);
    // the configure arguments: what differs, not both full lines
    expect(r.stdout).toMatch(/FAIL  configure arguments\n\s+expected: the \d+ arguments of the plan \(nginx-forge plan --profile ktls\)\n\s+actual: +missing: .*; not in the plan: /);
    // kTLS judged on the shared libssl it loads, which does kTLS
    expect(r.stdout).toMatch(/^ok    kTLS in the shared OpenSSL it loads \(\/.*libssl\.so\.3\)$/m);
    expect(r.stdout).not.toMatch(/ktls_\*/);
  });

  it('a shared libssl is judged by whether SSL_sendfile can call sendfile', async () => {
    const lib = await resolveLibrary(DISTRO_NGINX, 'libssl.so.3');
    expect(lib).toMatch(/libssl\.so\.3$/);
    expect(await sharedLibsslKtls(lib!)).toBe(true);
    const crypto = await resolveLibrary(DISTRO_NGINX, 'libcrypto.so.3');
    expect(await sharedLibsslKtls(crypto!)).toBe(false); // no sendfile import: what a libssl without kTLS looks like
  });

  it('the advice fits the binary; the full list is kept where no table was printed (the build stage)', () => {
    const bad = [{ check: 'nginx version', ok: false, expected: '1.26.3', actual: '1.22.1' }];
    const e1 = (() => {
      try {
        assertChecks('/x/nginx', bad, { listed: false, foreign: false, profile: 'ktls' });
      } catch (e) {
        return e as VerifyError;
      }
    })()!;
    expect(e1.message).toContain('nginx version: expected 1.26.3, got 1.22.1');
    expect(e1.hint).toMatch(/nginx-forge build --profile ktls --force/);
    expect(builtByForge("configure arguments: --with-cc-opt='-O2 -I../deps/zlib-ng/include'")).toBe(true);
    expect(builtByForge("configure arguments: --with-cc-opt='-g -O2'")).toBe(false);
    expect(splitConfigureLine("--a=1 --b='x y' --c")).toEqual(['--a=1', "--b='x y'", '--c']);
  });
});

describe('verify: what is not an nginx binary', () => {
  const cli = (file: string) => execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'verify', file, '--profile', 'ktls'], { reject: false });

  it('a shell script, a text file, a directory: exit 2 naming the file and what it is (a script said "readelf not found", exit 7)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nf-verify-'));
    const script = path.join(dir, 'nginx');
    writeFileSync(script, '#!/bin/sh\necho "nginx version: nginx/1.26.3" >&2\n', { mode: 0o755 });
    let r = await cli(script);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${script}: is a script (#!/bin/sh), not an ELF executable`);
    expect(r.stderr).not.toMatch(/readelf/);
    r = await cli('/etc/passwd');
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\/etc\/passwd: is not executable \(mode 0644\)/);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/undefined/);
    r = await cli(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${dir}: is a directory, not an nginx binary`);
    writeFileSync(path.join(dir, 'data'), 'hello\n', { mode: 0o755 });
    r = await cli(path.join(dir, 'data'));
    expect(r.stderr).toContain('data: is not an ELF executable (it does not start with \\x7fELF)');
  });

  it('the verify stage itself: a check that names the problem, never "actual: undefined"', async () => {
    const plan = resolvePlan(loadRecipes(BUILTIN_RECIPES), 'ktls');
    const checks = await verifyBinary('/etc/passwd', plan);
    expect(checks).toEqual([{ check: 'an ELF executable', ok: false, expected: 'an executable nginx binary', actual: 'is not executable (mode 0644)' }]);
  });
});
