// The real build through a real registry (issue 22, "Done when"): the shared ktls build of this
// run pushes its entries, signed, to Debian's docker-registry on loopback behind htpasswd Basic
// auth; then a fresh state directory with an empty distfiles store, offline, builds the same
// profile from the registry alone: every stage restored, none built, and the binary is the
// pusher's byte for byte. The trust failures (flipped blob, unsigned, other key, wrong stage)
// are test/remote-cache.test.ts, on the runner's fake graph and the same registry.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtSummary, forge, type SummaryJson } from './helpers/builtNginx.ts';
import { startRegistry, type TestRegistry } from './helpers/registry.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-remote-e2e-'));
let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry({ kind: 'basic', user: 'fleet', password: 'p4ss' });
}, 60_000);
afterAll(async () => {
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const creds = { NGINX_FORGE_CACHE_USER: 'fleet', NGINX_FORGE_CACHE_PASSWORD: 'p4ss' };

describe('a fresh runner and a warm registry', () => {
  it('the pusher signs and pushes every entry; an empty, offline state dir then builds ktls from the registry alone, the same binary', async () => {
    const built = await builtSummary('ktls');
    const keygen = await forge(['cache', 'keygen', '--out', path.join(work, 'fleet')]);
    expect(keygen.exitCode, String(keygen.stderr)).toBe(0);
    const target = `oci://${reg.host}/fleet/stage-cache`;

    const push = await forge(['build', '--profile', 'ktls', '--no-smoke', '--json', '--out', path.join(work, 'dist-push'), '--cache-to', target, '--cache-sign-key', path.join(work, 'fleet.key')], creds);
    expect(push.exitCode, String(push.stderr)).toBe(0);
    const pushed = JSON.parse(String(push.stdout)) as SummaryJson & { remote: { pushed: number; pushedBytes: number } };
    expect(pushed.stages.filter((s) => s.status === 'built')).toEqual([]);
    expect(String(push.stderr)).not.toMatch(/not pushed/);
    // every cached stage the build used: the libraries, both installs, verify, artifacts
    expect(pushed.remote.pushed).toBeGreaterThanOrEqual(8);

    const home = mkdtempSync(path.join(work, 'fresh-'));
    const r = await forge(
      ['build', '--profile', 'ktls', '--no-smoke', '--json', '--offline', '--out', path.join(work, 'dist-pull'), '--cache-from', target, '--cache-trust', path.join(work, 'fleet.pub')],
      { ...creds, NGINX_FORGE_HOME: home, NGINX_FORGE_DISTDIR: path.join(home, 'empty-distfiles') },
    );
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const pulled = JSON.parse(String(r.stdout)) as SummaryJson & { remote: { pulled: number; pulledBytes: number } };
    expect(pulled.stages.filter((s) => s.status === 'built')).toEqual([]);
    // the targets come from the registry; what only they needed is not even asked for
    for (const id of ['install:nginx', 'install:nginx-debug', 'artifacts']) {
      expect(pulled.stages.find((s) => s.id === id), id).toMatchObject({ status: 'cached', detail: `from ${target}` });
    }
    expect(pulled.stages.find((s) => s.id === 'verify')).toMatchObject({ status: 'skipped', detail: 'not needed: artifacts is cached' });
    expect(pulled.stages.find((s) => s.id === 'library:openssl')).toMatchObject({ status: 'skipped' });
    expect(pulled.remote.pulled).toBeGreaterThan(0);
    expect(String(r.stderr)).not.toMatch(/registry .*: .*building it here/);
    expect(sha256(pulled.binary)).toBe(sha256(built.binary));
    console.log(`remote cache: pushed ${pushed.remote.pushed} entries (${(pushed.remote.pushedBytes / 1e6).toFixed(1)} MB), pulled ${pulled.remote.pulled} (${(pulled.remote.pulledBytes / 1e6).toFixed(1)} MB) in ${pulled.seconds}s; the cold build of this run took ${built.cold.seconds}s (${(built.cold.seconds / Math.max(pulled.seconds, 0.1)).toFixed(1)}x)`);
  }, 45 * 60_000);
});
