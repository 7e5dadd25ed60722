// The FreeBSD port skeleton, compared byte for byte with test/golden/freebsd-port/<profile>/.
// After an intended change, regenerate the golden files and review the diff:
//   UPDATE_GOLDEN=1 npx vitest run test/package-freebsd.test.ts
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import { freebsdPath, freebsdPort, writeFreebsdPort } from '../src/package/freebsd/index.ts';
import type { BuildPlan } from '../src/plan.ts';
import { loadRecipes, BUILTIN_RECIPES } from '../src/recipes/load.ts';

const GOLDEN = path.join(import.meta.dirname, 'golden', 'freebsd-port');
const EPOCH = 1767225600;
const made: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'nf-port-'));
  made.push(d);
  return d;
};
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const planOf = (profile: string, extra: { patches?: string } = {}) => planFromFlags({ profile, ...extra }, false);

function listTree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const f of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${f}` : f;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...listTree(dir, r));
    else out.push(r);
  }
  return out;
}

/**
 * The golden Makefile with its CONFLICTS_INSTALL line as the recipe set makes it today: the
 * FreeBSD ports' own nginx flavours, then every other profile of recipes/profiles/ (sorted). The
 * list is enumerated here, not frozen in the golden file, so a profile added by recipe files
 * alone changes no golden file; everything else in the file is still compared byte for byte.
 */
function withConflicts(golden: string, profile: string): string {
  const others = readdirSync(path.join(BUILTIN_RECIPES, 'profiles'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .filter((p) => p !== profile)
    .sort();
  const line = /^(CONFLICTS_INSTALL=\t+)nginx nginx-devel nginx-full nginx-lite nginx-naxsi( nginx-forge-\S+)*$/m;
  expect(golden, `${profile}/Makefile has a CONFLICTS_INSTALL line`).toMatch(line);
  return golden.replace(line, (_, head: string) => `${head}${['nginx', 'nginx-devel', 'nginx-full', 'nginx-lite', 'nginx-naxsi', ...others.map((p) => `nginx-forge-${p}`)].join(' ')}`);
}

describe('FreeBSD port skeleton', () => {
  for (const profile of ['ktls', 'userspace']) {
    it(`matches the golden files for profile ${profile}`, async () => {
      const { files } = await freebsdPort({ plan: planOf(profile), sourceDateEpoch: EPOCH });
      const golden = path.join(GOLDEN, profile);
      if (process.env.UPDATE_GOLDEN) {
        rmSync(golden, { recursive: true, force: true });
        for (const [rel, text] of Object.entries(files)) {
          mkdirSync(path.dirname(path.join(golden, rel)), { recursive: true });
          writeFileSync(path.join(golden, rel), text);
        }
      }
      expect(Object.keys(files).sort()).toEqual(listTree(golden));
      for (const [rel, text] of Object.entries(files)) {
        const want = readFileSync(path.join(golden, rel), 'utf8');
        expect(text, `${profile}/${rel}`).toBe(rel === 'Makefile' ? withConflicts(want, profile) : want);
      }
    });
  }

  it('ktls-brotli: the module .so files are stripped and loaded through a snippet linked into modules-enabled/, pkg-message says how to disable it', async () => {
    const { files } = await freebsdPort({ plan: planOf('ktls-brotli'), sourceDateEpoch: EPOCH });
    expect(files['files/mod-http-brotli.conf.in']).toMatch(/^load_module %%PREFIX%%\/libexec\/nginx\/modules\/ngx_http_brotli_filter_module\.so;$/m);
    expect(files['files/mod-http-brotli.conf.in']).toMatch(/^load_module %%PREFIX%%\/libexec\/nginx\/modules\/ngx_http_brotli_static_module\.so;$/m);
    expect(files.Makefile).toMatch(/^SUB_FILES=.*mod-http-brotli\.conf/ms);
    const rule = files.Makefile!.split('\npost-install-HTTP_BROTLI-on:\n')[1]!.split('\n\n')[0]!;
    expect(rule).toContain('${STRIP_CMD} --strip-unneeded ${STAGEDIR}${PREFIX}/libexec/nginx/modules/ngx_http_brotli_filter_module.so');
    expect(rule).toContain('${INSTALL_DATA} ${WRKDIR}/mod-http-brotli.conf ${STAGEDIR}${PREFIX}/share/nginx/modules-available/mod-http-brotli.conf');
    const plist = files['pkg-plist']!.split('\n');
    expect(plist).toContain('%%HTTP_BROTLI%%share/nginx/modules-available/mod-http-brotli.conf');
    expect(plist.filter((l) => l.startsWith('%%HTTP_BROTLI%%@postexec')).join('\n')).toContain('ln -s %D/share/nginx/modules-available/mod-http-brotli.conf %D/etc/nginx/modules-enabled/50-mod-http-brotli.conf');
    expect(files['files/pkg-message.in']).toContain('rm %%PREFIX%%/etc/nginx/modules-enabled/50-mod-http-brotli.conf');
  });

  it('pkg-plist links the default site and the module on a first install only: what the admin removed stays removed on upgrade and reinstall', async () => {
    const { files } = await freebsdPort({ plan: planOf('ktls-brotli'), sourceDateEpoch: EPOCH });
    const d = tmp();
    for (const dir of ['etc/nginx/sites-enabled', 'etc/nginx/sites-available', 'etc/nginx/modules-enabled', 'share/nginx/modules-available']) mkdirSync(path.join(d, dir), { recursive: true });
    const plist = files['pkg-plist']!.split('\n').map((l) => l.replace(/^%%HTTP_BROTLI%%/, ''));
    // what pkg runs: the @postexec lines as the post-install script, @preunexec as pre-deinstall (%D: the prefix)
    const phase = (kw: string, env: Record<string, string> = {}) =>
      execa('sh', ['-ec', plist.filter((l) => l.startsWith(`${kw} `)).map((l) => l.slice(kw.length + 1).replaceAll('%D', d)).join('\n')], { env: { PATH: process.env.PATH!, ...env }, extendEnv: false });
    const site = path.join(d, 'etc/nginx/sites-enabled/default');
    const mod = path.join(d, 'etc/nginx/modules-enabled/50-mod-http-brotli.conf');
    const present = (f: string) => readdirSync(path.dirname(f)).includes(path.basename(f));
    await phase('@postexec');
    expect(present(site) && present(mod)).toBe(true);
    // the admin disables both; an upgrade (pkg exports PKG_UPGRADE=true) runs the old pre-deinstall and the new post-install
    rmSync(site);
    rmSync(mod);
    await phase('@preunexec', { PKG_UPGRADE: 'true' });
    await phase('@postexec', { PKG_UPGRADE: 'true' });
    expect(present(site) || present(mod)).toBe(false);
    // a fresh install makes them again, a deinstall removes the links it made
    await phase('@postexec');
    expect(present(site) && present(mod)).toBe(true);
    await phase('@preunexec');
    expect(present(site) || present(mod)).toBe(false);
  });

  it('COMMENT fits portlint\'s 70 characters, starts with a capital and ends without a period, for every profile', async () => {
    for (const profile of readdirSync(path.join(BUILTIN_RECIPES, 'profiles')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''))) {
      const { files } = await freebsdPort({ plan: planOf(profile), sourceDateEpoch: EPOCH });
      const comment = /^COMMENT=\t+(.*)$/m.exec(files.Makefile!)![1]!;
      expect(comment.length, `${profile}: ${comment}`).toBeLessThanOrEqual(70);
      expect(comment, profile).toMatch(/^[A-Z].*[^.]$/);
      expect(comment, profile).toContain(`(${profile})`);
    }
  });

  it('distinfo carries exactly the recipes\' sha256 (and size where the recipe has one) for every distfile', async () => {
    const plan = planOf('ktls');
    const { files, distfiles } = await freebsdPort({ plan, sourceDateEpoch: EPOCH });
    const recipes = loadRecipes(BUILTIN_RECIPES);
    const pinned = new Map<string, { sha256: string; size?: number }>();
    for (const { recipe } of recipes.components.values()) {
      for (const v of Object.values(recipe.versions)) {
        for (const a of [...v.artifacts, ...v.patchSets.map((s) => s.artifact)]) {
          pinned.set(a.file, a);
          if (a.distro) pinned.set(a.distro.file, a);
        }
      }
    }
    const lines = files.distinfo!.trim().split('\n');
    expect(lines[0]).toBe(`TIMESTAMP = ${EPOCH}`);
    const sha = lines.filter((l) => l.startsWith('SHA256'));
    expect(sha).toHaveLength(plan.components.length + plan.patchSets.length);
    for (const l of sha) {
      const [, file, hash] = /^SHA256 \((.+)\) = ([0-9a-f]{64})$/.exec(l)!;
      expect(pinned.get(file!)?.sha256, file).toBe(hash);
    }
    for (const l of lines.filter((x) => x.startsWith('SIZE'))) {
      const [, file, size] = /^SIZE \((.+)\) = (\d+)$/.exec(l)!;
      expect(pinned.get(file!)?.size, file).toBe(Number(size));
    }
    // every component's pinned hash is in distinfo
    for (const c of plan.components) expect(c.artifacts.some((a) => files.distinfo!.includes(a.sha256)), c.name).toBe(true);
    for (const s of plan.patchSets) expect(files.distinfo).toContain(s.artifact.sha256);
    // portlint's fatal distinfo check (checkdistinfo): a SIZE and a SHA256 record for every distfile
    for (const d of distfiles) {
      expect(files.distinfo, d.file).toContain(`SHA256 (${d.file}) = `);
      expect(files.distinfo, d.file).toContain(`SIZE (${d.file}) = `);
    }
    expect(distfiles.filter((d) => d.sizeFrom !== 'recipe')).toEqual([]);
    expect(files.distinfo!.replace(/\n$/, '').split('\n').filter((l) => !l.trim())).toEqual([]);
    // zlib-ng: the bytes the Linux build records (Debian's repack), not the tag archive
    const z = distfiles.find((d) => d.component === 'zlib-ng')!;
    expect(z.file).toBe('node-yarnpkg_4.1.0+dfsg.orig-zlib-ng.tar.xz');
    expect(z.sha256).toBe(plan.components.find((c) => c.name === 'zlib-ng')!.artifacts.find((a) => a.file === 'zlib-ng-2.2.4-dfsg.tar.xz')!.sha256);
  });

  it('takes SIZE from a verified copy in the distfiles store, never from a corrupt one', async () => {
    const plan = structuredClone(planOf('ktls')) as BuildPlan;
    const store = tmp();
    const data = Buffer.from('a stand-in zlib-ng tag archive\n');
    const sha = createHash('sha256').update(data).digest('hex');
    const z = plan.components.find((c) => c.name === 'zlib-ng')!;
    // the port's zlib-ng distfile is the Debian repack (artifacts[1]): pretend its recipe has no size
    z.artifacts[1] = { ...z.artifacts[1]!, sha256: sha, size: undefined };
    mkdirSync(path.join(store, sha), { recursive: true });
    writeFileSync(path.join(store, sha, 'zlib-ng-2.2.4-dfsg.tar.xz'), data);
    const ok = await freebsdPort({ plan, distdir: store, sourceDateEpoch: EPOCH });
    const f = 'node-yarnpkg_4.1.0+dfsg.orig-zlib-ng.tar.xz';
    expect(ok.files.distinfo).toContain(`SIZE (${f}) = ${data.length}`);
    expect(ok.distfiles.find((d) => d.file === f)!.sizeFrom).toBe('distfiles store');
    expect(ok.warnings.join('\n')).not.toContain('SIZE of');

    writeFileSync(path.join(store, sha, 'zlib-ng-2.2.4-dfsg.tar.xz'), 'tampered');
    const bad = await freebsdPort({ plan, distdir: store, sourceDateEpoch: EPOCH });
    expect(bad.files.distinfo).not.toContain(`SIZE (${f})`);
    expect(bad.warnings.join('\n')).toContain(`SIZE of ${f} is unknown`);
    rmSync(store, { recursive: true, force: true });
  });

  it('ships the project\'s own patches in files/: nginx ones for the framework, others applied in post-patch', async () => {
    const patches = tmp();
    const header = 'Fix something important.\nWhy: a test. Upstream: not applicable.\n\n';
    const diff = '--- a/README\n+++ b/README\n@@ -1 +1 @@\n-x\n+y\n';
    mkdirSync(path.join(patches, 'nginx', '1.26.3'), { recursive: true });
    writeFileSync(path.join(patches, 'nginx', '1.26.3', '0001-fix-a-thing.patch'), header + diff);
    mkdirSync(path.join(patches, 'openssl', '>=3.5'), { recursive: true });
    writeFileSync(path.join(patches, 'openssl', '>=3.5', '0001-tune.patch'), header + diff);
    const plan = planOf('ktls', { patches });
    const dir = path.join(tmp(), 'port');
    const r = await writeFreebsdPort({ plan, dir, sourceDateEpoch: EPOCH });
    expect(readFileSync(path.join(dir, 'files/patch-0001-fix-a-thing.patch'), 'utf8')).toBe(header + diff);
    expect(readFileSync(path.join(dir, 'files/extra-patch-openssl-0001-tune.patch'), 'utf8')).toBe(header + diff);
    const mk = r.files.Makefile!;
    expect(mk).toMatch(/^PATCH_STRIP=\t-p1$/m);
    expect(mk).toMatch(/^post-patch:\n.*\n\t@\$\{PATCH\} -d \$\{WRKDIR\}\/openssl-3\.5\.7 -p1 -E -s --forward < \$\{FILESDIR\}\/extra-patch-openssl-0001-tune\.patch$/m);
    // the Debian patch set goes through the framework too (EXTRA_PATCHES: applied before files/patch-*)
    expect(mk).toMatch(/^EXTRA_PATCHES=\t\$\{WRKDIR\}\/nginx-debian-security\/debian\/patches\/CVE-2025-53859\.patch:-p1 \\$/m);
    expect(mk).not.toContain('pre-patch:');
    rmSync(patches, { recursive: true, force: true });
  });

  it('moves Debian paths to FreeBSD hier(7)', () => {
    expect(freebsdPath('sbin-path', '/usr/sbin/nginx')).toBe('${PREFIX}/sbin/nginx');
    expect(freebsdPath('conf-path', '/etc/nginx/nginx.conf')).toBe('${PREFIX}/etc/nginx/nginx.conf');
    expect(freebsdPath('pid-path', '/run/nginx.pid')).toBe('/var/run/nginx.pid');
    expect(freebsdPath('lock-path', '/run/lock/nginx.lock')).toBe('/var/run/nginx.lock');
    expect(freebsdPath('http-proxy-temp-path', '/var/lib/nginx/proxy')).toBe('/var/tmp/nginx/proxy');
    expect(freebsdPath('modules-path', '/usr/lib/nginx/modules')).toBe('${PREFIX}/libexec/nginx/modules');
    expect(freebsdPath('error-log-path', '/var/log/nginx/error.log')).toBe('/var/log/nginx/error.log');
  });

  it('is a Makefile bmake can read (with a stand-in bsd.port.mk)', async () => {
    // bmake comes from ci/setup.sh; without it this test fails rather than skips
    expect((await execa('sh', ['-c', 'command -v bmake'], { reject: false })).exitCode, 'bmake is installed (apt-get install bmake)').toBe(0);
    const dir = path.join(tmp(), 'port');
    await writeFreebsdPort({ plan: planOf('ktls'), dir, sourceDateEpoch: EPOCH });
    const mk = path.join(path.dirname(dir), 'mk');
    mkdirSync(mk);
    writeFileSync(path.join(mk, 'sys.mk'), '');
    writeFileSync(
      path.join(mk, 'bsd.port.mk'),
      '.for v in ECHO_MSG PATCH SETENV MAKE_ENV CMAKE_BIN CONFIGURE_ENV GMAKE MV RM RMDIR MKDIR STRIP_CMD TAR INSTALL_DATA INSTALL_MAN LN\n$v?=\techo\n.endfor\nPREFIX?=\t/usr/local\nWRKDIR?=\t/w\nSTAGEDIR?=\t/s\n_DISTDIR?=\t/d\nMAKE_JOBS_NUMBER?=\t2\n',
    );
    const v = await execa('bmake', ['-m', mk, '-v', 'DISTFILES', '-v', 'OPTIONS_DEFINE', '-v', 'OPTIONS_DEFAULT', '-v', 'EXTRA_PATCHES', '-v', 'CONFIGURE_ARGS'], { cwd: dir });
    const [distfiles, define, dflt, extra, args] = v.stdout.split('\n');
    expect(distfiles).toContain('nginx-1.26.3.tar.gz:nginx');
    expect(define).toBe('DEBUG KTLS');
    // production default: no debug build, the pinned OpenSSL, kTLS
    expect(dflt).toBe('PINNED_SSL KTLS');
    expect(extra).toContain('/w/nginx-debian-security/debian/patches/CVE-2025-53859.patch:-p1');
    expect(args).toContain('--with-cc-opt="');
    expect(args).not.toContain('--with-debug');
    const n = await execa('bmake', ['-m', mk, '-n', 'post-extract', 'post-extract-PINNED_SSL-on', 'pre-configure', 'post-install'], { cwd: dir });
    // each patch-set archive into its own directory
    expect(n.stdout).toContain('-xf /d/nginx_1.26.3-3+deb13u9.debian.tar.xz -C /w/nginx-debian-security');
    expect(n.stdout).toContain('-C /w/openssl-debian-security');
    expect(n.stdout).toContain('/w/nginx.conf /s/usr/local/etc/nginx/nginx.conf.sample');
    expect(n.stdout).toContain('/w/nginx-1.26.3/objs/nginx.8 /s/usr/local/share/man/man8');
    expect(existsSync(path.join(dir, 'files/nginx.in'))).toBe(true);
  });
});
