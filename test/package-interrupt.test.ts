// Ctrl-C and SIGTERM while `nginx-forge package` runs dpkg-deb (issue 21, defect 7): the real CLI
// in a child process, the build already in the stage cache (helpers/cachedBuild.ts), a slow fake
// dpkg-deb on PATH that forks a child of its own. The interrupt stops dpkg-deb and what it forked,
// removes the partial package from --out and the staging tree from $TMPDIR, prints the one
// interrupt message and exits 130.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { fakeTools, seedCachedBuild } from './helpers/cachedBuild.ts';

let tmp: string;
let state: string;
let bin: string;
let deadPid: number;
const CLI = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-pkg-int-'));
  state = path.join(tmp, 'state');
  await seedCachedBuild(state);
  deadPid = Number((await execa('sh', ['-c', 'echo $$'])).stdout);
  // dpkg-deb --root-owner-group -Zxz --build <root> <deb>: starts the package file, then works
  // (a forked compressor stands in for xz) until stopped
  bin = fakeTools(path.join(tmp, 'bin'), {
    'dpkg-deb': [
      'for last; do :; done',
      'printf partial > "$last"',
      'sleep 300 &',
      'echo "$$ $!" > "$MARKS/dpkg-deb.pids"',
      'wait',
    ].join('\n'),
  });
}, 120_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(cond: () => boolean, ms = 60_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('package: interrupted while dpkg-deb runs', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig}: dpkg-deb and its child stopped, no temp file in --out or $TMPDIR, exit 130`, async () => {
      const run = path.join(tmp, sig);
      const [out, marks, tmpdir] = ['out', 'marks', 'tmp'].map((d) => path.join(run, d)) as [string, string, string];
      for (const d of [marks, tmpdir]) mkdirSync(d, { recursive: true });
      // the staging tree of a package run killed with -9 earlier: swept when this one starts
      const stale = path.join(tmpdir, `nginx-forge-deb-${deadPid}-1-AbC123`);
      mkdirSync(path.join(stale, 'pkg'), { recursive: true });
      const child = execa('node', [CLI, 'package', '--format', 'deb', '--out', out], {
        reject: false,
        env: { CI: '1', NGINX_FORGE_HOME: state, TMPDIR: tmpdir, MARKS: marks, PATH: `${bin}:${process.env.PATH}` },
      });
      const pidsFile = path.join(marks, 'dpkg-deb.pids');
      await until(() => existsSync(pidsFile) && readFileSync(pidsFile, 'utf8').includes('\n'));
      const pids = readFileSync(pidsFile, 'utf8').trim().split(' ').map(Number);
      expect(pids.every(alive)).toBe(true);
      // the staging tree (the package root dpkg-deb packs) is there while it runs; the dead one's is gone
      expect(readdirSync(tmpdir).filter((f) => f.startsWith('nginx-forge-deb-'))).toEqual([expect.stringMatching(new RegExp(`^nginx-forge-deb-${child.pid}-`))]);
      child.kill(sig);
      const r = await child;
      expect(r.exitCode, `${r.signal ?? ''} ${r.stderr}`).toBe(ExitCode.interrupted);
      expect(r.stderr).toMatch(new RegExp(`${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'}: stopping package`));
      expect(r.stderr.match(/error: package interrupted/g)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/internal error|does not apply|command failed/);
      // dpkg-deb and the process it forked are gone
      await until(() => !pids.some(alive), 5_000);
      // nothing half-made is left: no temp package in --out, no staging tree under $TMPDIR
      expect(existsSync(out) ? readdirSync(out).filter((f) => /\.deb|tmp/.test(f)) : []).toEqual([]);
      expect(readdirSync(tmpdir).filter((f) => f.startsWith('nginx-forge-'))).toEqual([]);
    }, 120_000);
  }
});
