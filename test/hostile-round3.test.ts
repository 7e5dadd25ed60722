// Cases of the third hostile run (2026-12-07, on what landed): each failed before its fix.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { refusedLine } from '../src/cache/index.ts';
import { checkPaths } from '../src/commands/validate.ts';
import { checkOutputDir } from '../src/flags/dirs.ts';
import { remoteSettingsOf } from '../src/flags/cache.ts';
import { ownableDirProblem } from '../src/recipes/safe.ts';
import { generateKeyPair } from '../src/remote/sign.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { copyRecipes } from './helpers/recipes.ts';
import { readFileSync } from 'node:fs';

const work = mkdtempSync(path.join(tmpdir(), 'nf-hostile3-'));

describe('hostile run 3', () => {
  it('NEW-1: a temp or log directory inside another package\'s directory (/var/lib/dpkg, /var/log/apt) is not nginx\'s to own, remove or rotate', () => {
    for (const d of ['/var/lib/dpkg', '/var/log/apt', '/var/log/journal', '/etc/ssh', '/usr/lib/systemd/user', '/var/cache/apt/archives']) {
      expect(ownableDirProblem(d), d).toMatch(/is not a directory of nginx's own/);
    }
    for (const d of ['/var/lib/nginx', '/var/log/nginx', '/etc/nginx', '/usr/lib/nginx/modules', '/var/cache/nginx-forge', '/var/tmp/nginx', '/opt/acme/logs', '/usr/local/etc/nginx']) {
      expect(ownableDirProblem(d), d).toBeUndefined();
    }
  });

  it('NEW-2: a refused cache entry whose meta.json holds terminal control sequences is reported with them escaped', () => {
    const line = refusedLine('library:openssl', { path: '/s/meta.json', what: 'unreadable: Unexpected token \x1b]0;PWNED\x07\x1b[2J' });
    expect(line).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(line).toContain('\\x1b');
  });

  it('NEW-4, NEW-5: --read-patches of a missing file and an empty --out/--distdir are usage errors', () => {
    expect(() => checkPaths('audit', { readPatches: '/nonexistent' })).toThrow(/--read-patches \/nonexistent: no such file/);
    expect(() => checkPaths('package', { out: '' })).toThrow(/--out "": an empty path/);
    expect(() => checkPaths('fetch', { distdir: '' })).toThrow(/--distdir "": an empty path/);
  });

  it('an --out below /proc is named as given, and why it cannot be made (it said "--out /proc/self: not writable (ENOENT)")', () => {
    expect(() => checkOutputDir('--out', '/proc/self/out', { create: false })).toThrow(/^--out \/proc\/self\/out: cannot be created: \/proc\/self is not writable \(ENOENT: it takes no new files, as the kernel's \/proc and \/sys do\)$/);
    const ok = path.join(work, 'out-not-yet');
    expect(() => checkOutputDir('--out', ok, { create: false })).not.toThrow();
  });

  it('NEW-6: a recipe make argument with "$" (make runs $(shell …)) is refused when the recipes load', () => {
    const dir = copyRecipes('nf-hostile3-recipes-');
    const f = path.join(dir, 'components/jemalloc.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.build.before[0].makeArgs = ['EXTRA_CFLAGS=$(shell touch /tmp/pwnm)'];
    writeFileSync(f, JSON.stringify(j));
    expect(() => loadRecipes(dir)).toThrow(/build\.before\[0\]\.makeArgs\[0\]: "EXTRA_CFLAGS=\$\(shell touch \/tmp\/pwnm\)" contains "\$", which make expands/);
  });

  it('NEW-8: a recipe build.env value the port would expand is refused when the recipes load, naming the recipe file and field', () => {
    const dir = copyRecipes('nf-hostile3-recipes-');
    const f = path.join(dir, 'components/zlib-ng.json');
    const j = JSON.parse(readFileSync(f, 'utf8'));
    j.build.env = { CFLAGS: '-O2 $(shell touch /tmp/pwne)' };
    writeFileSync(f, JSON.stringify(j));
    // it was refused only when the port was written, as "component zlib-ng … fix the profile"
    expect(() => loadRecipes(dir)).toThrow(/components\/zlib-ng\.json: build\.env\.CFLAGS: "-O2 \$\(shell touch \/tmp\/pwne\)" contains "\$"/);
    j.build.env = { CFLAGS: '-O2 -g', LDFLAGS: null };
    writeFileSync(f, JSON.stringify(j));
    expect(() => loadRecipes(dir)).not.toThrow();
  });

  it('NEW-7, NEW-9, NEW-10, NEW-11: keys that are not the right PEM and an empty --cache-kinds are usage errors before any work', () => {
    const k = generateKeyPair();
    const pub = path.join(work, 'k.pub');
    const key = path.join(work, 'k.key');
    writeFileSync(pub, k.publicPem);
    writeFileSync(key, k.privatePem);
    const to = 'oci://127.0.0.1:9/x';
    expect(() => remoteSettingsOf({ cacheTo: to, cacheSignKey: '/etc/passwd' }, {})).toThrow(/--cache-sign-key \/etc\/passwd: no PEM private key in it/);
    expect(() => remoteSettingsOf({ cacheTo: to, cacheSignKey: pub }, {})).toThrow(/--cache-sign-key .*k\.pub: no PEM private key in it/);
    expect(() => remoteSettingsOf({ cacheFrom: [to], cacheTrust: ['/etc/passwd'] }, {})).toThrow(/--cache-trust \/etc\/passwd: not a PEM public key/);
    expect(() => remoteSettingsOf({ cacheFrom: [to], cacheTrust: [key] }, {})).toThrow(/--cache-trust .*k\.key: it is a private key/);
    expect(() => remoteSettingsOf({ cacheFrom: [to], cacheTrust: [pub], cacheKinds: ',' }, {})).toThrow(/--cache-kinds ",": no stage kind in it/);
    expect(remoteSettingsOf({ cacheFrom: [to], cacheTrust: [pub], cacheTo: to, cacheSignKey: key }, {})).toMatchObject({ from: [to], to });
  });
});
