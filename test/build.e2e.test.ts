// End-to-end: the README's main command on these machines, for real. Slow (a cold build is
// minutes on 2 cores) but always part of the test command, and so of CI.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';
import { KINDS } from '../src/kinds.ts';
import { OpenVexDocument } from '../src/vex.ts';
import { builtSummary, CLI, forge, TEST_DISTFILES, TEST_HOME } from './helpers/builtNginx.ts';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const BUILD_TIMEOUT = 30 * 60_000;

describe('build --profile ktls (real, from an empty cache)', () => {
  it('builds every stage, verifies, and writes tarball, manifest, SBOM and SHA256SUMS', async () => {
    const s = await builtSummary('ktls');
    // the first build of this test run started from an empty stage cache
    for (const st of s.cold.stages) expect([st.id, st.status]).toEqual([st.id, 'built']);

    const names = s.artifacts.map((a) => path.basename(a)).sort();
    expect(names).toEqual(['SHA256SUMS', 'manifest.json', 'nginx-1.26.3-ktls-linux-x86_64-debug.tar.gz', 'nginx-1.26.3-ktls-linux-x86_64.tar.gz', 'sbom.cdx.json', 'vex.openvex.json']);
    const dir = path.dirname(s.artifacts[0]!);
    for (const line of readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n')) {
      const [hash, file] = line.split(/\s+/);
      expect(sha(path.join(dir, file!))).toBe(hash);
    }

    const v = await execa(s.binary, ['-V'], { all: true });
    expect(v.all).toMatch(/built with OpenSSL 3\.5\.\d+/);
    expect(v.all).toContain('enable-ktls');
    expect(v.all).toContain('--with-pcre-jit');
    expect(v.all).not.toMatch(/configure arguments:.*=\/(tmp|root|work)\//); // no build paths
    expect(readFileSync(s.binary).includes(Buffer.from('zlib-ng'))).toBe(true);
    const je = await execa(s.binary, ['-t', '-p', tmpdir(), '-c', '/nonexistent.conf'], { reject: false, all: true, env: { MALLOC_CONF: 'stats_print:true' } });
    expect(je.all).toContain('Begin jemalloc statistics');

    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.components.map((c: { name: string }) => c.name)).toEqual(['nginx', 'openssl', 'pcre2', 'zlib-ng', 'jemalloc']);
    expect(manifest.patches.filter((p: { id: string }) => p.id.includes('CVE-')).length).toBeGreaterThanOrEqual(15);
    expect(manifest.binary.sha256).toBe(sha(s.binary));
    const sbom = JSON.parse(readFileSync(path.join(dir, 'sbom.cdx.json'), 'utf8'));
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.components.filter((c: { type: string }) => c.type === 'library')).toHaveLength(5);
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot5).validate(JSON.stringify(sbom))).toBeNull();
    const resolved = sbom.vulnerabilities.filter((x: { analysis: { state: string } }) => x.analysis.state === 'resolved').map((x: { id: string }) => x.id);
    expect(resolved).toEqual(expect.arrayContaining(['CVE-2026-42055', 'CVE-2026-48142', 'CVE-2026-42533', 'CVE-2026-75803']));
    // the QUIC fix's code is not compiled (no-quic): not_affected, in the SBOM and in the VEX document
    expect(sbom.vulnerabilities.find((x: { id: string }) => x.id === 'CVE-2026-14456').analysis).toMatchObject({ state: 'not_affected', justification: 'code_not_present' });
    const vex = JSON.parse(readFileSync(path.join(dir, 'vex.openvex.json'), 'utf8'));
    expect(OpenVexDocument.safeParse(vex).success).toBe(true);
    expect(vex.statements.map((x: { vulnerability: { name: string } }) => x.vulnerability.name).sort()).toEqual([...manifest.resolvedCves].sort());
    expect(vex.statements.find((x: { vulnerability: { name: string } }) => x.vulnerability.name === 'CVE-2026-14456')).toMatchObject({ status: 'not_affected', justification: 'vulnerable_code_not_present' });
    expect(vex.timestamp).toBe(new Date(manifest.sourceDateEpoch * 1000).toISOString());
    // vulnerable_code_not_present, seen in the binary: no symbol of the QUIC, CMP and CMS code those
    // CVEs are in (quic_port.c, quic_ackm.c, cmp_protect.c, cms_kari.c); the TLS code is there
    const syms = (await execa('nm', [s.binary])).stdout;
    for (const f of ['ossl_quic_port_new', 'ossl_ackm_new', 'ossl_cmp_calc_protection', 'CMS_RecipientInfo_kari_decrypt']) expect(syms).not.toMatch(new RegExp(` ${f}$`, 'm'));
    expect(syms).toMatch(/ SSL_CTX_new$/m);
    // the switch list the library stage passed, as the manifest records it
    expect(manifest.components.find((c: { name: string }) => c.name === 'openssl').configure).toEqual(expect.arrayContaining(['no-quic', 'no-cmp', 'enable-ktls']));

    const tar = await execa('tar', ['-tzf', s.artifacts.find((a) => a.endsWith('.tar.gz'))!]);
    const members = tar.stdout.split('\n');
    expect(members).toContain('nginx-1.26.3-ktls-linux-x86_64/sbin/nginx');
    expect(members).toContain('nginx-1.26.3-ktls-linux-x86_64/conf/nginx.conf');
    for (const c of ['nginx', 'openssl', 'pcre2', 'zlib-ng', 'jemalloc']) {
      expect(members.some((m) => m.startsWith(`nginx-1.26.3-ktls-linux-x86_64/licenses/${c}/`))).toBe(true);
    }
  }, BUILD_TIMEOUT);

  it('the same command again restores every stage from the cache and runs nothing', async () => {
    const s = await builtSummary('ktls');
    for (const st of s.stages) {
      const kept = KINDS[st.id.split(':')[0] as keyof typeof KINDS].cache; // a stage id starts with its kind
      // cached outputs are restored; scratch steps (fetch, extract, patch, configure, compile) are not needed
      if (kept === 'none') expect([st.id, st.status, st.detail]).toEqual([st.id, 'skipped', expect.stringMatching(/^not needed: .* cached$/)]);
      else expect([st.id, st.status]).toEqual([st.id, 'cached']);
    }
  }, BUILD_TIMEOUT);

  it('`verify` accepts the binary against its profile and rejects it against another', async () => {
    const s = await builtSummary('ktls');
    const ok = await forge(['verify', s.binary, '--profile', 'ktls']);
    expect(ok.exitCode).toBe(0);
    const bad = await forge(['verify', s.binary, '--profile', 'userspace']);
    expect(bad.exitCode).toBe(5);
    // each failed check is printed once (the table on stdout); the error only sums up
    expect(bad.stdout).toMatch(/^FAIL  configure arguments\n      expected: the \d+ arguments of the plan/m);
    expect(bad.stderr).toMatch(/failed: 1 check \(listed above\)/);
    expect(bad.stderr).toMatch(/check that --profile .* rebuild it with `nginx-forge build --profile userspace --force`/);
  }, BUILD_TIMEOUT);

  it('changing only an nginx configure flag rebuilds only nginx', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'nf-flag-'));
    const recipes = path.join(base, 'recipes');
    cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
    cpSync(path.join(PROJECT_ROOT, 'patches'), path.join(base, 'patches'), { recursive: true });
    const file = path.join(recipes, 'profiles/ktls.json');
    const j = JSON.parse(readFileSync(file, 'utf8'));
    j.nginx.modules.push('--with-http_sub_module');
    writeFileSync(file, JSON.stringify(j));
    const r = await forge(['build', '--recipes', recipes, '--profile', 'ktls', '--json', '--no-smoke', '--out', path.join(base, 'dist')]);
    expect(r.exitCode, r.stderr).toBe(0);
    const st = Object.fromEntries((JSON.parse(r.stdout).stages as { id: string; status: string }[]).map((x) => [x.id, x.status]));
    for (const d of ['openssl', 'pcre2', 'zlib-ng', 'jemalloc']) expect([d, st[`library:${d}`]]).toEqual([d, 'cached']);
    for (const n of ['fetch:nginx', 'extract:nginx', 'patch:nginx', 'configure:nginx', 'compile:nginx', 'install:nginx', 'verify', 'artifacts']) expect([n, st[n]]).toEqual([n, 'built']);
    // no other component was even fetched
    for (const d of ['openssl', 'pcre2', 'zlib-ng', 'jemalloc']) expect([d, st[`fetch:${d}`]]).toEqual([d, 'skipped']);
    rmSync(base, { recursive: true, force: true });
  }, BUILD_TIMEOUT);

  it('a component added by recipe files alone (libatomic_ops, profile ktls-libatomic) builds, links and verifies; the shared libraries come from the cache', async () => {
    await builtSummary('ktls');
    const out = mkdtempSync(path.join(tmpdir(), 'nf-atomic-'));
    const r = await forge(['build', '--profile', 'ktls-libatomic', '--until', 'verify', '--json', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const st = Object.fromEntries((j.stages as { id: string; status: string }[]).map((x) => [x.id, x.status]));
    for (const d of ['openssl', 'pcre2', 'zlib-ng', 'jemalloc']) expect([d, st[`library:${d}`]]).toEqual([d, 'cached']);
    for (const id of ['library:libatomic-ops', 'configure:nginx', 'compile:nginx', 'install:nginx', 'verify']) expect([id, st[id]]).toEqual([id, 'built']);
    const v = await execa(j.binary, ['-V'], { all: true });
    expect(v.all).toContain('--with-libatomic=../libatomic_ops-7.8.2');
    rmSync(out, { recursive: true, force: true });
  }, BUILD_TIMEOUT);

  it('a patch that does not apply stops the build at the patch stage, naming the patch', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'nf-badpatch-'));
    const dir = path.join(base, 'patches/nginx/1.26.3');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, '0001-broken.patch'),
      'Test fixture: context that is not in nginx 1.26.3.\nWhy: the build must stop at the patch stage.\nUpstream: n/a.\n\n' +
        '--- a/src/core/nginx.h\n+++ b/src/core/nginx.h\n@@ -1,3 +1,3 @@\n-this line is not in nginx.h\n+neither is this one\n context\n',
    );
    const r = await forge(['build', '--profile', 'ktls', '--patches', path.join(base, 'patches'), '--no-smoke', '--out', path.join(base, 'dist')]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('nginx: patch failed');
    expect(r.stderr).toContain('0001-broken.patch does not apply to src/core/nginx.h');
    expect(existsSync(path.join(base, 'dist'))).toBe(false);
    // the failed build's scratch tree is gone (nothing left in work/ until the next build)
    const work = path.join(TEST_HOME, 'work');
    expect(existsSync(work) ? readdirSync(work) : []).toEqual([]);
    rmSync(base, { recursive: true, force: true });
  }, BUILD_TIMEOUT);

  it('a second clean build, killed mid-way and resumed, gives a byte-identical nginx and tarball', async () => {
    const first = await builtSummary('ktls');
    const home = mkdtempSync(path.join(tmpdir(), 'nf-repro-'));
    const args = ['build', '--profile', 'ktls', '--json', '--no-smoke', '--out', `${home}-dist`];
    const env = { ...process.env, NGINX_FORGE_HOME: home, NGINX_FORGE_DISTDIR: TEST_DISTFILES };

    // start, wait until at least one dependency entry is committed while others are compiling, kill -9 the whole tree
    const child = execa('node', [CLI, ...args], { cwd: PROJECT_ROOT, env, reject: false, detached: true });
    const stages = path.join(home, 'stages');
    const committed = () => (existsSync(stages) ? readdirSync(stages).flatMap((d) => readdirSync(path.join(stages, d)).filter((k) => /^[0-9a-f]{64}$/.test(k))) : []);
    while (committed().length < 1 && child.exitCode === null) await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull(); // still building: the kill lands mid-way
    process.kill(-child.pid!, 'SIGKILL');
    await child;
    expect(existsSync(path.join(stages, 'install_nginx'))).toBe(false);

    const resumed = await execa('node', [CLI, ...args], { cwd: PROJECT_ROOT, env, reject: false, timeout: BUILD_TIMEOUT });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    const second = JSON.parse(resumed.stdout);
    expect(second.stages.some((x: { status: string }) => x.status === 'cached')).toBe(true); // reused what the killed run committed
    expect(sha(second.binary)).toBe(sha(first.binary));
    const tb = (s: { artifacts: string[] }) => s.artifacts.find((a) => a.endsWith('.tar.gz'))!;
    expect(sha(tb(second))).toBe(sha(tb(first)));
    rmSync(home, { recursive: true, force: true });
    rmSync(`${home}-dist`, { recursive: true, force: true });
  }, BUILD_TIMEOUT);
});
