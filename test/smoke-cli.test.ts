// `nginx-forge smoke <binary> --profile P` (issue 21, deliverable 6): the plan's module and
// component proofs run by hand as in the build's smoke stage, and the result is judged as that
// stage judges it; without --profile every component recipe's proof runs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { smokeInputs } from '../src/commands/smoke.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'nf-smoke-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = (args: string[]) => execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false, env: { NGINX_FORGE_HOME: path.join(tmp, 'home'), CI: '1' }, cwd: tmp });
const FAKE = path.join(PROJECT_ROOT, 'test/fixtures/smoke/fake-nginx.sh');

describe('smoke --profile', () => {
  it("a module profile: its modules' .so files beside the binary are loaded and proved, its components' proofs required", () => {
    const i = smokeInputs('/dist/ktls-brotli/usr/sbin/nginx', { profile: 'ktls-brotli' });
    expect(i.plan?.profile).toBe('ktls-brotli');
    const brotli = i.nginxModules?.find((m) => m.name === 'ngx-brotli');
    expect(brotli).toMatchObject({ displayName: 'ngx_brotli', encoding: { token: 'br' } });
    for (const so of brotli!.load) expect(so.startsWith('/dist/ktls-brotli/')).toBe(true);
    expect(i.componentProofs).toEqual([expect.objectContaining({ name: 'jemalloc', required: true })]);
    // without a profile: no modules; every component recipe's proof, its requirement left to -V
    const bare = smokeInputs('/x/nginx', {});
    expect(bare.plan).toBeUndefined();
    expect(bare.nginxModules).toBeUndefined();
    expect(bare.componentProofs).toContainEqual(expect.objectContaining({ name: 'jemalloc' }));
    expect(bare.componentProofs.every((c) => c.required === undefined)).toBe(true);
    // a profile without jemalloc runs no jemalloc proof
    expect(smokeInputs('/x/nginx', { profile: 'ktls-asan' }).componentProofs).toEqual([]);
  });

  it('the CLI takes --profile and judges for it: the fake is NOT_NGINX, exit 6, with the profile named', async () => {
    const r = await cli(['smoke', FAKE, '--vm', 'never', '--profile', 'ktls-brotli']);
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stdout).toMatch(/kTLS smoke test: NOT_NGINX/);
    expect(r.stdout).toMatch(/^profile: ktls-brotli: FAIL: NOT_NGINX: .* is not nginx: it is not an ELF executable/m);
    const j = await cli(['smoke', FAKE, '--vm', 'never', '--profile', 'ktls', '--json']);
    expect(j.exitCode).toBe(6);
    expect(JSON.parse(j.stdout)).toMatchObject({ verdict: 'NOT_NGINX', passed: false, profile: { name: 'ktls', ok: false } });
  });

  it('--set and --prefix need --profile (exit 2)', async () => {
    const r = await cli(['smoke', FAKE, '--set', 'nginx=1.26.3']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--set needs --profile/);
  });
});
