// Bad input on the build path: clear errors, exit codes, nothing half-done.
import { mkdtempSync, readdirSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/builtNginx.ts';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';

describe('build: bad input', () => {
  it('a missing compiler stops the build before it starts, naming the tool and the install command', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'nf-nocc-'));
    const bin = path.join(home, 'bin');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin);
    // a PATH with everything a build needs except a C compiler
    for (const t of ['node', 'make', 'perl', 'cmake', 'patch', 'xz', 'bzip2', 'gpgv', 'tar', 'sh', 'nm']) {
      const w = await execa('sh', ['-c', `command -v ${t}`], { reject: false });
      if (w.exitCode === 0) symlinkSync(w.stdout.trim(), path.join(bin, t));
    }
    const r = await execa('node', [CLI, 'build', '--profile', 'ktls', '--no-smoke', '--out', `${home}-dist`], {
      cwd: PROJECT_ROOT,
      reject: false,
      env: { PATH: bin, NGINX_FORGE_HOME: home, CI: 'true' },
      extendEnv: false,
    });
    expect(r.exitCode).toBe(7);
    expect(r.stderr).toContain('cannot build: missing cc');
    expect(r.stderr).toMatch(/apt-get install -y [^\n]*build-essential/);
    expect(existsSync(path.join(home, 'stages'))).toBe(false);
    expect(existsSync(`${home}-dist`)).toBe(false);
  });

  it('an unknown profile is a usage error listing the known ones', async () => {
    const r = await execa('node', [CLI, 'build', '--profile', 'nope'], { cwd: PROJECT_ROOT, reject: false });
    expect(r.exitCode).toBe(2);
    // the profiles are whatever recipes/profiles/ holds: a new one needs no edit here
    const known = readdirSync(path.join(BUILTIN_RECIPES, 'profiles')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    expect(known.length).toBeGreaterThan(1);
    expect(r.stderr).toContain(`unknown profile "nope" (known: ${known.join(', ')})`);
  });
});
