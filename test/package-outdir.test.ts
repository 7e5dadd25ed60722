// The output directory that build and package share (issue 21, defect 8): SHA256SUMS is merged
// (build after package keeps the packages' lines), two package runs into one --out do not share a
// temp file, and an --out inside the state directory is refused before any work (exit 2).
// The real CLI in child processes, the build already in the stage cache (helpers/cachedBuild.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.ts';
import { debPackageName, debVersion } from '../src/package/deb.ts';
import type { BuildPlan } from '../src/plan.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { fakeTools, seedCachedBuild } from './helpers/cachedBuild.ts';

let tmp: string;
let state: string;
let bin: string;
let plan: BuildPlan;
const CLI = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-outdir-'));
  state = path.join(tmp, 'state');
  plan = await seedCachedBuild(state);
  // a dpkg-deb that takes a moment between starting its output file and finishing it
  bin = fakeTools(path.join(tmp, 'bin'), {
    'dpkg-deb': ['for last; do :; done', 'printf "start $$\\n" > "$last"', 'sleep 1', 'printf "done $$\\n" >> "$last"'].join('\n'),
  });
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const forge = (args: string[]) =>
  execa('node', [CLI, ...args], { reject: false, env: { CI: '1', NGINX_FORGE_HOME: state, TMPDIR: tmp, PATH: `${bin}:${process.env.PATH}` } });

const sums = (dir: string) =>
  Object.fromEntries(
    readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).reverse()),
  ) as Record<string, string>;

describe('--out shared by build and package', () => {
  it('build --out D after package --out D keeps the packages\' lines in SHA256SUMS', async () => {
    const out = path.join(tmp, 'shared');
    const p = await forge(['package', '--format', 'deb', '--out', out]);
    expect(p.exitCode, p.stderr).toBe(0);
    const deb = readdirSync(out).find((f) => f.startsWith(`${debPackageName(plan)}_${debVersion(plan)}_`) && f.endsWith('.deb'))!;
    expect(deb).toBeDefined();
    const debs = readdirSync(out).filter((f) => f.endsWith('.deb'));
    expect(Object.keys(sums(out)).sort()).toEqual(expect.arrayContaining(debs));

    const b = await forge(['build', '--until', 'artifacts', '--out', out]);
    expect(b.exitCode, b.stderr).toBe(0);
    const after = sums(out);
    // the packages are still listed, with their hashes; the artifacts are listed with theirs
    for (const f of debs) expect(after[f], f).toBe(sha(path.join(out, f)));
    for (const f of ['nginx-forge-ktls.tar.gz', 'manifest.json', 'sbom.cdx.json']) expect(after[f], f).toBe(sha(path.join(out, f)));
    expect(after.SHA256SUMS).toBeUndefined();
    // and `sha256sum -c` accepts the whole file
    const check = await execa('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, reject: false });
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
  }, 120_000);

  it('two package runs into one --out at once: both succeed, no temp file left, SHA256SUMS lists each package once', async () => {
    const out = path.join(tmp, 'twice');
    const [a, b] = await Promise.all([forge(['package', '--format', 'deb', '--out', out]), forge(['package', '--format', 'deb', '--out', out])]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(a.stderr + b.stderr).not.toMatch(/internal error/);
    const files = readdirSync(out);
    expect(files.filter((f) => /tmp|lock/.test(f))).toEqual([]);
    // package also copies the build's artifacts there: every file once, nothing else
    const listed = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/)[1]);
    expect(listed.sort()).toEqual(files.filter((f) => f !== 'SHA256SUMS').sort());
    const debs = files.filter((f) => f.endsWith('.deb'));
    expect(debs.length).toBeGreaterThan(0);
    // each package is one whole dpkg-deb output (not two runs' writes mixed), and its line matches it
    for (const f of debs) {
      expect(readFileSync(path.join(out, f), 'utf8')).toMatch(/^start (\d+)\ndone \1\n$/);
      expect(sums(out)[f]).toBe(sha(path.join(out, f)));
    }
  }, 120_000);
});

describe('--out inside the state directory is refused (exit 2), before any work', () => {
  for (const [cmd, sub] of [
    ['package', 'dist'],
    ['build', path.join('stages', 'artifacts')],
    ['build', ''],
  ] as const) {
    it(`${cmd} --out <state>/${sub}`, async () => {
      const out = path.join(state, sub);
      const before = existsSync(out) ? readdirSync(out) : undefined;
      const r = await forge([cmd, ...(cmd === 'package' ? ['--format', 'deb'] : ['--until', 'artifacts']), '--out', out]);
      expect(r.exitCode, r.stderr).toBe(ExitCode.usage);
      expect(r.stderr).toContain(`--out ${out}: is inside NGINX_FORGE_HOME ${state}`);
      expect(r.stderr).toMatch(/what to do: .*outside it/);
      expect(r.stderr).not.toMatch(/cached|internal error/);
      expect(existsSync(out) ? readdirSync(out) : undefined).toEqual(before);
    });
  }

  it('also through a symbolic link to a directory inside it', async () => {
    const link = path.join(tmp, 'link-into-state');
    mkdirSync(path.join(state, 'logs'), { recursive: true });
    symlinkSync(path.join(state, 'logs'), link);
    const r = await forge(['package', '--format', 'deb', '--out', path.join(link, 'x')]);
    expect(r.exitCode, r.stderr).toBe(ExitCode.usage);
    expect(r.stderr).toContain('is inside NGINX_FORGE_HOME');
  });

  it('an --out beside the state directory whose name only starts like it is fine', async () => {
    const out = `${state}-dist`;
    const r = await forge(['build', '--until', 'artifacts', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(path.join(out, 'SHA256SUMS'))).toBe(true);
  }, 120_000);
});
