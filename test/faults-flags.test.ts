// Flags and paths are checked before any work starts: exit 2 and a message naming the flag and
// the value (no "internal error", no stack trace, nothing fetched or built). And --offline names
// a damaged store entry as damaged.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { fetchArtifact, fetchOneOf, OfflineMissingError } from '../src/fetch/index.ts';
import { missingFromStore, planFetchItems } from '../src/fetch/plan.ts';
import { loadRecipes, PROJECT_ROOT } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'nf-faults-flags-'));
const home = path.join(tmp, 'home');
const cli = (args: string[]) =>
  execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false, env: { NGINX_FORGE_HOME: home, CI: '1' }, cwd: tmp });

async function usage(args: string[], message: RegExp) {
  const r = await cli(args);
  expect(r.exitCode, `${args.join(' ')}\n${r.stderr}`).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/internal error|    at /);
  // nothing was started: no state written
  expect(readdirSync(tmp).filter((f) => f === 'home' || f === 'dist')).toEqual([]);
}

describe('flags, before any work (exit 2)', () => {
  it('build --jobs: a whole number within a sane bound', async () => {
    for (const j of ['0', '-3', 'abc', '1e9', '2.5', '100000']) await usage(['build', '--jobs', j], /--jobs <n>' argument '.*' is invalid\. expected a whole number from 1 to \d+/);
  });

  it('fetch --jobs likewise', async () => {
    await usage(['fetch', '--jobs', '0'], /expected a whole number from 1 to 64/);
  });

  it('--smoke-vm: auto, always or never', async () => {
    await usage(['build', '--smoke-vm', 'bogus'], /argument 'bogus' is invalid\. Allowed choices are auto, always, never/);
  });

  it('--set twice for one component', async () => {
    await usage(['build', '--set', 'openssl=3.5.9', '--set', 'openssl=3.5.7'], /openssl is already set \("openssl=3\.5\.9"\); give one version per component/);
    await usage(['plan', '--set', 'openssl'], /expected <component>=<version>/);
  });

  it('--prefix: absolute, normalised, no control characters, quotes or $(…)', async () => {
    await usage(['plan', '--prefix', '/usr/../../tmp/x'], /option '--prefix <path>' argument '\/usr\/\.\.\/\.\.\/tmp\/x' is invalid\. "\/usr\/\.\.\/\.\.\/tmp\/x" contains "\.\."/);
    await usage(['build', '--prefix', "/opt/ng'x"], /--prefix <path>' argument .* is invalid\. .* contains "'"/);
    await usage(['plan', '--prefix', '/opt/$(id)'], /--prefix <path>' argument .* is invalid\. .* contains "\$"/);
    await usage(['package', '--format', 'deb', '--prefix', '/opt/x\nExecStartPre=/bin/id'], /--prefix <path>' argument .* is invalid\. .* contains a newline/s);
    await usage(['plan', '--prefix', 'opt/nginx'], /"opt\/nginx" is relative: it must be an absolute path, e\.g\. "\/usr\/share\/nginx"/);
  });

  it('--recipes naming a file or nothing', async () => {
    const f = path.join(tmpdir(), `nf-faults-file-${process.pid}`);
    writeFileSync(f, 'x');
    await usage(['build', '--recipes', f], new RegExp(`--recipes ${f}: not a directory`));
    await usage(['plan', '--recipes', path.join(tmpdir(), 'nf-no-such-dir')], /--recipes .*nf-no-such-dir: no such directory/);
  });

  it('--mirror: http(s), file:// or an absolute path; nothing else', async () => {
    await usage(['fetch', '--mirror', 'ftp://example.org/pub'], /the ftp:\/\/ scheme is not supported/);
    await usage(["build", "--mirror", "mirror/dir"], /"mirror\/dir" is neither an http\(s\):\/\/ or file:\/\/ URL nor a directory \(no such directory here\)/);
    await usage(['fetch', '--mirror', 'http://'], /--mirror/);
  });
});

describe('output and store paths, up front (exit 2)', () => {
  const file = path.join(tmpdir(), `nf-faults-out-${process.pid}`);
  writeFileSync(file, 'x');

  it('audit --timeout: a positive number of seconds (abc and -1 disabled the security gate: every source unreachable, exit 0)', async () => {
    for (const t of ['abc', '-1', '0', '', '1e9']) await usage(['audit', '--timeout', t], /--timeout <seconds>' argument '.*' is invalid\. expected a number of seconds above 0 and at most 3600/);
  });

  it('audit --archive: an http(s):// URL with a host', async () => {
    await usage(['audit', '--archive', 'ftp://deb.example/debian'], /--archive <url\.\.\.>' argument 'ftp:\/\/deb\.example\/debian' is invalid\. the ftp:\/\/ scheme is not supported \(use http:\/\/ or https:\/\/\)/);
    await usage(['audit', '--archive', 'debian'], /argument 'debian' is invalid\. "debian" is not an http\(s\):\/\/ URL/);
    await usage(['audit', '--archive', 'https://'], /--archive/);
  });

  it('smoke --ciphers: a list of suite names (",", or an empty name, silently ran the default matrix)', async () => {
    for (const c of [',', '', ' , ', 'TLS_AES_128_GCM_SHA256,,TLS_AES_256_GCM_SHA384']) {
      await usage(['smoke', '/bin/true', '--ciphers', c], /--ciphers <list>' argument '.*' is invalid\. expected comma-separated cipher suite names with none empty, e.g\. TLS_AES_128_GCM_SHA256,ECDHE-ECDSA-AES128-GCM-SHA256 \(leave --ciphers out for the full matrix\)/);
    }
    await usage(['smoke', '/bin/true', '--ciphers', 'RC4-MD5'], /--ciphers <list>' argument 'RC4-MD5' is invalid\. "RC4-MD5" cannot be negotiated with the smoke test's ECDSA P-256 certificate/);
  });

  it('test --files: globs on file names, no directories (a "/" matched nothing, or reached outside the suite)', async () => {
    for (const f of ['../x/*.t', '/etc/*.t', 'sub/ssl*.t', '']) {
      await usage(['test', '/bin/true', '--files', f], /--files <glob\.\.\.>' argument '.*' is invalid\. each is a glob on a test file name, e.g\. 'ssl\*\.t' \(no directories\)/);
    }
  });

  it('--out naming an existing file (build, package) or below a file', async () => {
    await usage(['build', '--out', file], new RegExp(`--out ${file}: is a file, not a directory`));
    await usage(['package', '--format', 'deb', '--out', file], /is a file, not a directory/);
    await usage(['build', '--out', path.join(file, 'sub')], new RegExp(`cannot be created: ${file} is a file`));
  });

  it('a state directory (NGINX_FORGE_HOME) that is a file', async () => {
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'build', '--distdir', path.join(tmp, 'dd')], { reject: false, env: { NGINX_FORGE_HOME: file, CI: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`NGINX_FORGE_HOME ${file}: is a file, not a directory`);
  });

  it('--distdir naming a file', async () => {
    await usage(['fetch', '--distdir', file], new RegExp(`--distdir ${file}: is a file, not a directory`));
    await usage(['build', '--distdir', path.join(file, 'x')], /--distdir .*: cannot create it \(ENOTDIR: a parent of it is a file\)/);
  });
});

describe('--offline and a damaged store entry', () => {
  it('is reported as damaged (with its path and hash), not as "not in the store"', async () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const distdir = path.join(tmp, 'distfiles');
    const items = planFetchItems(plan);
    const ps = items.find((i) => i.id.startsWith('patchset:'))!;
    const a = ps.alternatives[0]!;
    mkdirSync(path.join(distdir, a.sha256), { recursive: true });
    const bad = Buffer.alloc(a.size ?? 100, 1);
    writeFileSync(path.join(distdir, a.sha256, a.file), bad);
    const missing = await missingFromStore(items, distdir);
    const m = missing.find((x) => x.file === a.file)!;
    expect(m.damaged?.path).toBe(path.join(distdir, a.sha256, a.file));
    expect(m.damaged?.actual).toBe(createHash('sha256').update(bad).digest('hex'));
    const e = new OfflineMissingError(missing, distdir);
    expect(e.message).toMatch(/1 file is damaged in the distfiles store/);
    expect(e.message).toContain(`damaged: ${path.join(distdir, a.sha256, a.file)} hashes to ${m.damaged!.actual}, expected sha256 ${a.sha256}`);
    expect(e.hint).toMatch(/a damaged entry is removed and downloaded again by `nginx-forge fetch` without --offline/);
    // one artifact through fetchArtifact --offline: the same
    await expect(fetchArtifact(a, { distdir, offline: true })).rejects.toThrow(/damaged: .* hashes to/);
  });

  it('build --offline (fetchOneOf) says so too, for one archive and for equivalent ones', async () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const distdir = path.join(tmp, 'distfiles-oneof');
    const items = planFetchItems(plan);
    const one = items.find((i) => i.alternatives.length === 1)!.alternatives[0]!;
    mkdirSync(path.join(distdir, one.sha256), { recursive: true });
    writeFileSync(path.join(distdir, one.sha256, one.file), 'short');
    const e1 = await fetchOneOf([one], { distdir, offline: true }).catch((x) => x);
    expect(e1).toBeInstanceOf(OfflineMissingError);
    expect(e1.message).toMatch(/1 file is damaged in the distfiles store/);
    expect(e1.message).toContain(`damaged: ${path.join(distdir, one.sha256, one.file)} (size 5, expected ${one.size})`);
    const several = items.find((i) => i.alternatives.length > 1);
    if (several) {
      const b = several.alternatives[1]!;
      mkdirSync(path.join(distdir, b.sha256), { recursive: true });
      writeFileSync(path.join(distdir, b.sha256, b.file), 'short');
      const e2 = await fetchOneOf(several.alternatives, { distdir, offline: true }).catch((x) => x);
      expect(e2.message).toMatch(/is damaged in the distfiles store/);
      expect(e2.message).toContain(`damaged: ${path.join(distdir, b.sha256, b.file)} (size 5`);
    }
  });

  it('the fetch command --offline says so too (exit 3)', async () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const distdir = path.join(tmp, 'distfiles2');
    const a = planFetchItems(plan).find((i) => i.id === 'component:nginx')!.alternatives[0]!;
    mkdirSync(path.join(distdir, a.sha256), { recursive: true });
    writeFileSync(path.join(distdir, a.sha256, a.file), 'short');
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'fetch', '--offline', '--distdir', distdir], { reject: false, env: { NGINX_FORGE_HOME: path.join(tmp, 'h2'), CI: '1' } });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/damaged in the distfiles store/);
    expect(r.stderr).toMatch(new RegExp(`damaged: .*${a.file.replace(/[.+]/g, '\\$&')} \\(size 5, expected ${a.size}\\)`));
  });
});
