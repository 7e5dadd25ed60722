// The signed stage cache on a real OCI registry (Debian's docker-registry, the `distribution`
// registry, started on loopback by test/helpers/registry.ts): the runner pulls what a pusher
// signed, and refuses, with one line each and a local build, everything it cannot verify.
// The stages are the runner's fake graph (a, b -> c); the real build's round trip through a
// registry is test/remote-cache.e2e.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { CACHEABLE_KINDS, remoteSettingsOf, type RemoteSettings } from '../src/flags/cache.ts';
import { runGraph } from '../src/pipeline/runner.ts';
import { packEntry } from '../src/remote/entry.ts';
import { ENTRY_ANNOTATIONS, ENTRY_ARTIFACT_TYPE, ENTRY_LAYER_TYPE, entryTag, OciStageCache } from '../src/remote/index.ts';
import { MEDIA_TYPES, OciClient } from '../src/remote/oci.ts';
import { parseRemoteRef } from '../src/remote/ref.ts';
import { EMPTY_CONFIG, EMPTY_CONFIG_BYTES, generateKeyPair } from '../src/remote/sign.ts';
import { sha256File } from '../src/hash.ts';
import { fakeStages } from './helpers/fakeStages.ts';
import { startRegistry, type TestRegistry } from './helpers/registry.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-remote-cache-'));
const keyFiles = (name: string) => {
  const k = generateKeyPair();
  const key = path.join(work, `${name}.key`);
  const pub = path.join(work, `${name}.pub`);
  writeFileSync(key, k.privatePem, { mode: 0o600 });
  writeFileSync(pub, k.publicPem);
  return { key, pub };
};
const ours = keyFiles('ours');
const theirs = keyFiles('theirs');

function settings(over: Partial<RemoteSettings>): RemoteSettings {
  return { from: [], trust: [ours.pub], kinds: CACHEABLE_KINDS, insecure: false, notes: [], ...over };
}

/** A fresh machine: its own state dir, the fake graph, the registry behind the runner. */
function machine(remote: RemoteSettings, keys: Partial<Record<'a' | 'b' | 'c', string>> = {}) {
  const home = mkdtempSync(path.join(work, 'home-'));
  const runs: string[] = [];
  const f = fakeStages(
    {
      a: async (ctx) => {
        runs.push('a');
        mkdirSync(path.join(ctx.out, 'root'), { recursive: true });
        writeFileSync(path.join(ctx.out, 'root/libssl.a'), `library bytes ${'x'.repeat(4096)}`);
      },
      b: async (ctx) => {
        runs.push('b');
        writeFileSync(path.join(ctx.out, 'nginx'), '\x7fELF the server');
      },
      c: async (ctx) => {
        runs.push('c');
        return { lib: readFileSync(path.join(ctx.input('a').dir!, 'root/libssl.a'), 'utf8').slice(0, 13) };
      },
    },
    keys,
  );
  const warnings: string[] = [];
  const cache = new OciStageCache(remote, { planHash: 'plan-hash-of-test' });
  const run = async () => {
    try {
      return await runGraph(f.stages, f.modeOf, f.implOf, new StageCache(path.join(home, 'stages')), { targets: ['c', 'b'], slots: 1, remote: cache, logFor: (id) => path.join(home, `${id}.log`) }, { refused: (_id, l) => warnings.push(l) });
    } finally {
      await cache.close();
    }
  };
  return { run, runs, warnings, stats: cache.stats, stages: f.stages };
}

let reg: TestRegistry;
let auth: TestRegistry;
beforeAll(async () => {
  [reg, auth] = await Promise.all([startRegistry({ kind: 'anonymous' }), startRegistry({ kind: 'token', user: 'ci', password: 'secret' })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([reg?.stop(), auth?.stop()]);
});

const oci = (r: TestRegistry, repo: string) => `oci://${r.host}/${repo}`;

describe('the signed stage cache on a registry', () => {
  it('behind a Bearer-token challenge: a first machine builds and pushes signed entries; a fresh one runs nothing and gets the same outputs', async () => {
    process.env.NGINX_FORGE_CACHE_USER = 'ci';
    process.env.NGINX_FORGE_CACHE_PASSWORD = 'secret';
    try {
      const pusher = machine(settings({ to: oci(auth, 'team/cache'), signKey: ours.key }));
      await pusher.run();
      expect(pusher.runs.sort()).toEqual(['a', 'b', 'c']);
      expect(pusher.warnings).toEqual([]);
      expect(pusher.stats.pushed).toBe(3);
      const fresh = machine(settings({ from: [oci(auth, 'team/cache')] }));
      const { results, outputs } = await fresh.run();
      expect(fresh.runs).toEqual([]);
      expect(fresh.warnings).toEqual([]);
      expect(results.get('c')).toMatchObject({ status: 'cached', detail: `from oci://${auth.host}/team/cache` });
      expect(outputs.get('c')!.value).toEqual({ lib: 'library bytes' });
      expect(readFileSync(path.join(outputs.get('b')!.dir!, 'nginx'), 'utf8')).toBe('\x7fELF the server');
      // targets first: c and b came from the registry, a was never needed
      expect(fresh.stats.pulled).toBe(2);
      expect(auth.tokenRequests.some((t) => t.scopes.includes('repository:team/cache:pull,push'))).toBe(true);
    } finally {
      delete process.env.NGINX_FORGE_CACHE_USER;
      delete process.env.NGINX_FORGE_CACHE_PASSWORD;
    }
  });

  it('a flipped byte in the stored layer: refused (digest mismatch) in one line, that stage built here, the others pulled', async () => {
    await machine(settings({ to: oci(reg, 'flip/cache'), signKey: ours.key })).run();
    const st = machine(settings({})).stages.find((s) => s.id === 'c')!;
    const client = new OciClient({ ref: parseRemoteRef(oci(reg, 'flip/cache')) });
    const m = JSON.parse((await client.getManifest(entryTag('c', st.key))).bytes.toString('utf8')) as { layers: { digest: string }[] };
    await client.close();
    const hex = m.layers[0]!.digest.slice('sha256:'.length);
    const data = path.join(reg.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const bytes = readFileSync(data);
    bytes[bytes.length - 3]! ^= 0x01;
    writeFileSync(data, bytes);
    const fresh = machine(settings({ from: [oci(reg, 'flip/cache')] }));
    await fresh.run();
    expect(fresh.warnings).toEqual([`registry ${reg.host}/flip/cache: c: digest mismatch; building it here`]);
    expect(fresh.runs).toEqual(['c']);
  });

  it('entries signed by another key: each refused (signed by an unknown key), everything built here', async () => {
    await machine(settings({ to: oci(reg, 'other/cache'), signKey: theirs.key })).run();
    const fresh = machine(settings({ from: [oci(reg, 'other/cache')] }));
    await fresh.run();
    expect(fresh.runs.sort()).toEqual(['a', 'b', 'c']);
    expect(fresh.warnings.length).toBe(3);
    for (const w of fresh.warnings) expect(w).toMatch(new RegExp(`^registry ${reg.host}/other/cache: [abc]: signed by an unknown key \\(.*\\); building it here$`));
  });

  it('an unsigned entry, and a signed entry under another stage\'s tag: refused with the reason', async () => {
    // a first machine fills the repository, then someone with push access adds entries by hand
    const pusher = machine(settings({ to: oci(reg, 'hand/cache'), signKey: ours.key }));
    await pusher.run();
    const client = new OciClient({ ref: parseRemoteRef(oci(reg, 'hand/cache')) });
    const stages = pusher.stages;
    // 1. c's tag re-pointed at an unsigned manifest of a valid entry
    const home = mkdtempSync(path.join(work, 'hand-'));
    const cache = new StageCache(path.join(home, 'stages'));
    const c = stages.find((s) => s.id === 'c')!;
    const { dir } = await cache.produce('c', c.key, async (tmp) => writeFileSync(path.join(tmp, 'result.json'), '{"lib":"forged"}\n'));
    const layer = path.join(home, 'c.tar.gz');
    const { size } = await packEntry(dir, layer);
    const digest = `sha256:${sha256File(layer)}`;
    await client.pushBlob(EMPTY_CONFIG.digest, EMPTY_CONFIG_BYTES);
    await client.pushBlob(digest, layer);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, artifactType: ENTRY_ARTIFACT_TYPE, config: EMPTY_CONFIG, layers: [{ mediaType: ENTRY_LAYER_TYPE, digest, size }], annotations: { [ENTRY_ANNOTATIONS.stage]: 'c', [ENTRY_ANNOTATIONS.key]: c.key } }));
    await client.putManifest(entryTag('c', c.key), manifest, MEDIA_TYPES.ociManifest);
    // 2. b's tag re-pointed at a's signed manifest (a's entry, a's annotations)
    const a = stages.find((s) => s.id === 'a')!;
    const b = stages.find((s) => s.id === 'b')!;
    const aManifest = await client.getManifest(entryTag('a', a.key));
    await client.putManifest(entryTag('b', b.key), aManifest.bytes, MEDIA_TYPES.ociManifest);
    await client.close();

    const fresh = machine(settings({ from: [oci(reg, 'hand/cache')] }));
    const { outputs } = await fresh.run();
    expect(fresh.warnings.sort()).toEqual([
      `registry ${reg.host}/hand/cache: b: the entry under tag ${entryTag('b', b.key)} names stage a key ${a.key}; building it here`,
      `registry ${reg.host}/hand/cache: c: unsigned (no signature is attached to the entry); building it here`,
    ]);
    expect(fresh.runs.sort()).toEqual(['b', 'c']); // a (needed by c) came from the registry, signed
    expect(outputs.get('c')!.value).toEqual({ lib: 'library bytes' });
  });

  it('a registry that is down costs one line per stage asked for, never the build; no trusted key: not read at all', async () => {
    const down = machine(settings({ from: ['oci://127.0.0.1:9/none'] }));
    await down.run();
    expect(down.runs.sort()).toEqual(['a', 'b', 'c']);
    expect(down.warnings.sort()).toEqual([
      'registry 127.0.0.1:9/none: a: unreachable; building it here',
      'registry 127.0.0.1:9/none: b: unreachable; building it here',
      'registry 127.0.0.1:9/none: c: unreachable; building it here',
    ]);
    // a failed push fails nothing either
    const push = machine(settings({ to: 'oci://127.0.0.1:9/none', signKey: ours.key }));
    await push.run();
    expect(push.warnings).toHaveLength(3);
    for (const w of push.warnings) expect(w).toMatch(/^registry 127\.0\.0\.1:9\/none: [abc]: unreachable; not pushed$/);
    // without a trusted key nothing is read: an unverifiable entry is never a candidate
    const untrusted = remoteSettingsOf({ cacheFrom: [oci(reg, 'any/cache')] }, {})!;
    expect(untrusted.from).toEqual([]);
    expect(untrusted.notes).toEqual([`cache: ${oci(reg, 'any/cache')} not read: no --cache-trust key is given, and an entry is used only when signed by a trusted key`]);
    // and nothing is pushed unsigned
    expect(() => remoteSettingsOf({ cacheTo: oci(reg, 'any/cache') }, {})).toThrow(/--cache-to .* needs --cache-sign-key: every entry pushed is signed/);
    expect(() => remoteSettingsOf({ cacheFrom: ['oci://Reg/X'], cacheTrust: [ours.pub] }, {})).toThrow(/--cache-from/);
    expect(() => remoteSettingsOf({ cacheFrom: [oci(reg, 'a/b')], cacheTrust: [path.join(work, 'missing.pub')] }, {})).toThrow(/--cache-trust .*missing\.pub: no such file/);
  });

  it('two pushers of the same entries at once: both succeed, a fresh machine then pulls every entry signed', async () => {
    const one = machine(settings({ to: oci(reg, 'race/cache'), signKey: ours.key }));
    const two = machine(settings({ to: oci(reg, 'race/cache'), signKey: ours.key }));
    await Promise.all([one.run(), two.run()]);
    expect([...one.warnings, ...two.warnings]).toEqual([]);
    const fresh = machine(settings({ from: [oci(reg, 'race/cache')] }));
    await fresh.run();
    expect(fresh.warnings).toEqual([]);
    expect(fresh.runs).toEqual([]);
  });

  it('a stage whose key changed (its code changed) misses and is built; the rest is pulled', async () => {
    await machine(settings({ to: oci(reg, 'keys/cache'), signKey: ours.key })).run();
    const changed = machine(settings({ from: [oci(reg, 'keys/cache')] }), { b: 'key-b-after-an-edit' });
    await changed.run();
    expect(changed.runs).toEqual(['b']);
    expect(changed.warnings).toEqual([]);
  });

  it('--cache-kinds: a kind not accepted is never asked for (a release takes no install tree or verdict)', async () => {
    await machine(settings({ to: oci(reg, 'kinds/cache'), signKey: ours.key })).run();
    const release = machine(settings({ from: [oci(reg, 'kinds/cache')], kinds: ['library'] }));
    await release.run();
    expect(release.runs.sort()).toEqual(['b', 'c']);
    expect(release.stats.pulled).toBe(1);
  });
});

