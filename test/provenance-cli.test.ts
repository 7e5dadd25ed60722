// Provenance through the real CLI (issue 22, item 5): `build` and `package --format deb` into one
// --out with a `cache keygen` key, the build already in the stage cache (helpers/cachedBuild.ts,
// a fake dpkg-deb); `verify-provenance` accepts what they wrote, and fails (exit 5, verify) after one
// byte of an artifact is flipped, with another key, and without a key nothing is written.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { generateKeyPair } from '../src/remote/sign.ts';
import { fakeTools, seedCachedBuild } from './helpers/cachedBuild.ts';

let tmp: string;
let state: string;
let bin: string;
const CLI = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-prov-cli-'));
  state = path.join(tmp, 'state');
  await seedCachedBuild(state);
  bin = fakeTools(path.join(tmp, 'bin'), { 'dpkg-deb': 'for last; do :; done\nprintf "a deb\\n" > "$last"' });
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const forge = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [CLI, ...args], { reject: false, env: { CI: '1', NGINX_FORGE_HOME: state, TMPDIR: tmp, PATH: `${bin}:${process.env.PATH}`, ...env }, extendEnv: false });

describe('provenance written by build and package, checked by verify-provenance', () => {
  it('signs what build and package wrote; a flipped byte, another key and a bad key file are refused', async () => {
    // the key pairs `cache keygen` writes (its own tests run the command)
    const keys = path.join(tmp, 'keys');
    for (const [prefix, k] of [[keys, generateKeyPair()], [`${keys}-other`, generateKeyPair()]] as const) {
      writeFileSync(`${prefix}.key`, k.privatePem, { mode: 0o600 });
      writeFileSync(`${prefix}.pub`, k.publicPem);
    }
    const out = path.join(tmp, 'dist');

    const b = await forge(['build', '--until', 'artifacts', '--out', out, '--provenance-key', `${keys}.key`, '--json']);
    expect(b.exitCode, b.stderr).toBe(0);
    const summary = JSON.parse(b.stdout);
    expect(summary.provenance).toBe(path.join(out, 'nginx-forge-ktls.intoto.jsonl'));
    expect(summary.artifacts).toContain(summary.provenance);
    // the key from the environment, for package (as CI passes it)
    const p = await forge(['package', '--format', 'deb', '--out', out, '--json'], { NGINX_FORGE_PROVENANCE_KEY: `${keys}.key` });
    expect(p.exitCode, p.stderr).toBe(0);
    const pkg = JSON.parse(p.stdout);
    expect(path.basename(pkg.provenance)).toBe(path.basename(pkg.deb).replace(/\.deb$/, '.intoto.jsonl'));

    // both files are in SHA256SUMS, with their hashes, and sha256sum -c accepts the whole file
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
    for (const f of [summary.provenance, pkg.provenance]) expect(sums).toContain(`${sha(f)}  ${path.basename(f)}\n`);
    expect((await execa('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: out, reject: false })).exitCode).toBe(0);

    // the build's provenance names its three artifacts; the package's its .deb files
    const subjects = (f: string) => JSON.parse(Buffer.from(JSON.parse(readFileSync(f, 'utf8')).payload, 'base64').toString()).subject.map((s: { name: string }) => s.name);
    expect(subjects(summary.provenance)).toEqual(['manifest.json', 'nginx-forge-ktls.tar.gz', 'sbom.cdx.json']);
    expect(subjects(pkg.provenance)).toEqual(readdirSync(out).filter((f) => f.endsWith('.deb')).sort());

    for (const f of [summary.provenance, pkg.provenance]) {
      const v = await forge(['verify-provenance', f, '--key', `${keys}.pub`]);
      expect(v.exitCode, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toMatch(/^ok +line 1: \d+ subject\(s\), signed by key /m);
    }
    const j = await forge(['verify-provenance', summary.provenance, '--key', `${keys}.pub`, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, envelopes: [{ ok: true, profile: 'ktls' }] });

    // another key: refused
    const wrong = await forge(['verify-provenance', summary.provenance, '--key', `${keys}-other.pub`]);
    expect(wrong.exitCode).toBe(ExitCode.verify);
    expect(wrong.stderr).toContain('signed by an unknown key');

    // one flipped byte in an artifact: refused, the file named; from another directory too
    const tarball = path.join(out, 'nginx-forge-ktls.tar.gz');
    const bytes = readFileSync(tarball);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(tarball, bytes);
    const flipped = await forge(['verify-provenance', summary.provenance, '--key', `${keys}.pub`]);
    expect(flipped.exitCode, flipped.stdout).toBe(ExitCode.verify);
    expect(flipped.stdout).toMatch(/FAIL {2}nginx-forge-ktls\.tar\.gz/);
    expect(flipped.stderr).toContain(`nginx-forge-ktls.tar.gz has sha256 ${sha(tarball)}`);
    expect((await forge(['verify-provenance', summary.provenance, '--key', `${keys}.pub`, '--artifacts', tmp])).stderr).toContain('nginx-forge-ktls.tar.gz is missing');

    // a private key where the public one goes, a missing provenance file: usage errors
    expect((await forge(['verify-provenance', summary.provenance, '--key', `${keys}.key`])).exitCode).toBe(ExitCode.usage);
    expect((await forge(['verify-provenance', path.join(out, 'none.intoto.jsonl'), '--key', `${keys}.pub`])).exitCode).toBe(ExitCode.usage);
  }, 240_000);

  it('a bad --provenance-key is exit 2 before any work; without a key nothing is written and the summary says so', async () => {
    const out = path.join(tmp, 'dist-nokey');
    writeFileSync(path.join(tmp, 'not-a-key'), 'hello\n');
    const bad = await forge(['build', '--until', 'artifacts', '--out', out, '--provenance-key', path.join(tmp, 'not-a-key')]);
    expect(bad.exitCode).toBe(ExitCode.usage);
    expect(bad.stderr).toContain(`--provenance-key ${path.join(tmp, 'not-a-key')}: no PEM private key in it`);
    expect(existsSync(out)).toBe(false);

    const b = await forge(['build', '--until', 'artifacts', '--out', out]);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(b.stderr).toContain('provenance: not written (no --provenance-key or --cache-sign-key');
    expect(readdirSync(out).filter((f) => f.endsWith('.intoto.jsonl'))).toEqual([]);
    const j = await forge(['build', '--until', 'artifacts', '--out', out, '--json']);
    expect(JSON.parse(j.stdout).provenance).toBeNull();
  }, 240_000);
});
