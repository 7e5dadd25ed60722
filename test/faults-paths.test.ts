// One rule for every path and name that reaches a shell, nginx's configure, a unit, a maintainer
// script or a port Makefile (src/recipes/safe.ts): profile fields, recipe fields and --prefix are
// refused at load/resolve (exit 2, `<file>: <field>: <problem>`), and the package generators
// refuse a plan that breaks it even when it was not made by resolvePlan.
//   - "error-log-path": "/var/log/nginx-error.log" made the .deb's postrm `rm -rf /var/log` and
//     logrotate take over every /var/log/*.log
//   - a newline in pid-path added an ExecStartPre= line to nginx.service
//   - --prefix /usr/../../tmp/x, quotes and $(…) reached nginx's configure and the port
//   - a build.env key X;cmd;Y ran cmd in the port's pre-configure
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RecipeError, UsageError } from '../src/errors.ts';
import { freebsdPort } from '../src/package/freebsd/index.ts';
import { rpmSpec } from '../src/package/rpm.ts';
import { formatMaintainer, maintainer } from '../src/package/common.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';
import { execa } from 'execa';
import { logrotate, ownedDirs, systemdUnit } from '../src/package/service.ts';
import type { BuildPlan } from '../src/plan.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { pathProblem, planProblems } from '../src/recipes/safe.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';

/** The problem lines of loading (pass 1) and resolving (pass 2) `profile` after `edit`. */
function problems(edit: (dir: string) => void, profile = 'ktls', prefix?: string): string {
  const dir = copyRecipes('nf-faults-paths-');
  edit(dir);
  try {
    resolvePlan(loadRecipes(dir), profile, { prefix });
  } catch (e) {
    expect(e).toBeInstanceOf(RecipeError);
    return (e as Error).message;
  }
  throw new Error('the profile resolved');
}
const profilePaths = (paths: Record<string, string>) => (dir: string) =>
  editJson(path.join(dir, 'profiles/ktls.json'), (j) => Object.assign(j.nginx.paths, paths));

/** A copy of a good plan with some of its install layout replaced (a plan resolvePlan never made). */
const tampered = (install: Partial<BuildPlan['install']>): BuildPlan => {
  const plan = resolvePlan(loadRecipes(), 'ktls');
  return { ...plan, install: { ...plan.install, ...install } };
};

describe('profile paths (nginx.paths, nginx.prefix)', () => {
  it('a log file directly in /var/log: refused, naming file, field, the system directory and an example', () => {
    const text = problems(profilePaths({ 'error-log-path': '/var/log/nginx-error.log' }));
    expect(text).toMatch(/ktls\.json: nginx\.paths\.error-log-path: "\/var\/log\/nginx-error\.log" puts the error log directly into \/var\/log: \/var\/log is a system directory; packages own, rotate \(logrotate\) and remove on purge the directory of the error log, so it must be one of nginx's own, e\.g\. "\/var\/log\/nginx\/error\.log"/);
  });

  it('temp, configuration and modules paths in system directories', () => {
    const text = problems(profilePaths({ 'http-proxy-temp-path': '/tmp/proxy', 'http-scgi-temp-path': '/var/lib/scgi', 'conf-path': '/etc/nginx.conf', 'modules-path': '/usr/lib', 'http-log-path': '/run/access.log', 'http-fastcgi-temp-path': '/tmp/nginx/fastcgi', 'http-uwsgi-temp-path': '/home/www/uwsgi' }));
    expect(text).toMatch(/nginx\.paths\.http-proxy-temp-path: "\/tmp\/proxy" puts the proxy_temp_path files directly into \/tmp: \/tmp is a system directory/);
    expect(text).toMatch(/nginx\.paths\.http-scgi-temp-path: .* directly into \/var\/lib: .*e\.g\. "\/var\/lib\/nginx\/scgi"/);
    expect(text).toMatch(/nginx\.paths\.conf-path: "\/etc\/nginx\.conf" puts the configuration tree .* directly into \/etc: \/etc is a system directory/);
    expect(text).toMatch(/nginx\.paths\.modules-path: "\/usr\/lib" puts the dynamic modules into \/usr\/lib/);
    expect(text).toMatch(/nginx\.paths\.http-log-path: "\/run\/access\.log" .* \/run is a system directory/);
    expect(text).toMatch(/nginx\.paths\.http-fastcgi-temp-path: "\/tmp\/nginx\/fastcgi" puts the fastcgi_temp_path files directly into \/tmp\/nginx: \/tmp\/nginx is below \/tmp, scratch space the system cleans and every user can write/);
    expect(text).toMatch(/nginx\.paths\.http-uwsgi-temp-path: .* \/home\/www is below \/home, users' home directories/);
  });

  it('a path left out defaults below the prefix: a prefix of "/" is named', () => {
    const text = problems((dir) =>
      editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
        delete j.nginx.paths['http-uwsgi-temp-path'];
        j.nginx.prefix = '/';
      }),
    );
    expect(text).toMatch(/ktls\.json: nginx\.prefix: "\/" puts the uwsgi_temp_path files at \/uwsgi_temp \("http-uwsgi-temp-path" is not set, so it defaults below the prefix\): that is the root directory; .* set nginx\.paths\["http-uwsgi-temp-path"\], e\.g\. "\/var\/lib\/nginx\/uwsgi"/);
  });

  it('a newline in pid-path (it added an ExecStartPre= line to the unit)', () => {
    const text = problems(profilePaths({ 'pid-path': '/run/nginx.pid\nExecStartPre=/bin/sh -c id' }));
    expect(text).toContain('ktls.json: nginx.paths.pid-path: "/run/nginx.pid\\nExecStartPre=/bin/sh -c id" contains a newline (position 15)');
  });

  it('"..", quotes, $(…), spaces, relative and unnormalised paths', () => {
    const text = problems((dir) =>
      editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
        j.nginx.prefix = '/usr/../../tmp/x';
        Object.assign(j.nginx.paths, {
          'conf-path': "/etc/nginx/ng'x.conf",
          'sbin-path': '/usr/sbin/"nginx"',
          'http-log-path': '/var/log/nginx/$(reboot).log',
          'lock-path': '/run/lock/nginx lock',
          'error-log-path': 'logs/error.log',
          'modules-path': '/usr/lib/nginx//modules/',
        });
      }),
    );
    expect(text).toMatch(/nginx\.prefix: "\/usr\/\.\.\/\.\.\/tmp\/x" contains "\.\.": a path must not climb out/);
    expect(text).toMatch(/nginx\.paths\.conf-path: "\/etc\/nginx\/ng'x\.conf" contains "'": only letters, digits, "\/", "\.", "_", "\+", "~" and "-" are allowed/);
    expect(text).toMatch(/nginx\.paths\.sbin-path: "\/usr\/sbin\/\\"nginx\\"" contains "\\""/);
    expect(text).toMatch(/nginx\.paths\.http-log-path: "\/var\/log\/nginx\/\$\(reboot\)\.log" contains "\$"/);
    expect(text).toMatch(/nginx\.paths\.lock-path: "\/run\/lock\/nginx lock" contains " "/);
    expect(text).toMatch(/nginx\.paths\.error-log-path: "logs\/error\.log" is relative: it must be an absolute path/);
    expect(text).toMatch(/nginx\.paths\.modules-path: "\/usr\/lib\/nginx\/\/modules\/" is not normalised: write "\/usr\/lib\/nginx\/modules"/);
  });
});

describe('--prefix (resolvePlan; the CLI flag is tested in faults-flags)', () => {
  for (const prefix of ['/usr/../../tmp/x', "/opt/ng'x", '/opt/"x"', '/opt/$(id)', '/opt/`id`', '/opt/x\nExecStartPre=/bin/id', 'opt/nginx']) {
    it(`refuses ${JSON.stringify(prefix)} naming the flag`, () => {
      expect(() => resolvePlan(loadRecipes(), 'ktls', { prefix })).toThrow(UsageError);
      expect(() => resolvePlan(loadRecipes(), 'ktls', { prefix })).toThrow(/^--prefix: ".*" (contains|is relative)/);
    });
  }

  it('a --prefix that puts a defaulted path into a system directory names the flag and the profile', () => {
    const dir = copyRecipes('nf-faults-paths-');
    editJson(path.join(dir, 'profiles/ktls.json'), (j) => delete j.nginx.paths['error-log-path']);
    const recipes = loadRecipes(dir);
    expect(resolvePlan(recipes, 'ktls', { prefix: '/opt/nginx' }).install.errorLog).toBe('/opt/nginx/logs/error.log');
    expect(resolvePlan(recipes, 'ktls', { prefix: '/var' }).install.logDirs).toEqual(['/var/log/nginx', '/var/logs']);
    expect(() => resolvePlan(recipes, 'ktls', { prefix: '/' })).toThrow(/^--prefix \/: .*ktls\.json leaves "error-log-path" out, so nginx puts the error log at \/logs\/error\.log below the prefix: \/logs is a top-level directory/);
  });
});

describe('names and recipe fields', () => {
  it('a build.env key that is not a shell identifier, and control characters in recipe arguments', () => {
    const text = problems((dir) =>
      editJson(path.join(dir, 'components/zlib-ng.json'), (j) => {
        j.build.env = { 'X;cmd;Y': 'v', GOOD: 'a\nb' };
        j.build.args.push('-DX=1\n\trm -rf /');
      }),
    );
    expect(text).toMatch(/zlib-ng\.json: build\.env\["X;cmd;Y"\]: bad key: "X;cmd;Y" is not an environment variable name: letters, digits and "_"/);
    expect(text).toMatch(/zlib-ng\.json: build\.env\.GOOD: "a\\nb" contains a newline/);
    expect(text).toMatch(/zlib-ng\.json: build\.args\[\d+\]: "-DX=1\\n\\trm -rf \/" contains a newline/);
  });

  it('a topdir, a variant name, a profile option and a compiler flag with shell syntax', () => {
    const text = problems((dir) => {
      editJson(path.join(dir, 'components/jemalloc.json'), (j) => {
        for (const v of Object.values(j.versions) as any[]) v.artifacts[0].topdir = 'jemalloc;id';
      });
      editJson(path.join(dir, 'profiles/ktls.json'), (j) => {
        j.nginx.variants[0].name = '-rf';
        j.components.openssl.options.push('enable-ktls;id');
        j.nginx.ccOpt.push('-DX=$(id)');
      });
    });
    expect(text).toMatch(/jemalloc\.json: versions\[.*\]\.artifacts\[0\]\.topdir: "jemalloc;id" contains ";"/);
    expect(text).toMatch(/ktls\.json: nginx\.variants\[0\]\.name: "-rf" must be lowercase letters, digits and "-", starting with a letter or digit/);
    expect(text).toMatch(/ktls\.json: components\.openssl\.options\[\d+\]: "enable-ktls;id" contains ";"/);
    expect(text).toMatch(/ktls\.json: nginx\.ccOpt\[\d+\]: "-DX=\$\(id\)" contains "\$"/);
  });
});

describe('the package generators refuse an unsafe plan (last line of defence)', () => {
  it('a newline in the pid path: no unit, no logrotate rule', () => {
    const plan = tampered({ pid: '/run/nginx.pid\nExecStartPre=/bin/sh -c id' });
    expect(() => systemdUnit(plan)).toThrow(/refusing to write the systemd unit nginx\.service: .*install\.pid: .* contains a newline/s);
    expect(() => logrotate(plan)).toThrow(/refusing to write the logrotate rule/);
  });

  it('a log directory that is /var/log: no maintainer scripts (postrm would rm -rf it), no spec', () => {
    const plan = tampered({ errorLog: '/var/log/nginx-error.log', logDirs: ['/var/log', '/var/log/nginx'] });
    expect(() => ownedDirs(plan)).toThrow(/refusing to write the maintainer scripts: .*log directory \/var\/log: \/var\/log is a system directory; a package must not own it/s);
    expect(() => rpmSpec({ plan, pkg: 'nginx-forge-ktls', release: 1, who: 'x <x@example.org>', epoch: 0, files: [], treeDir: '/tmp/x' })).toThrow(/refusing to write the RPM spec/);
  });

  it('NGINX_FORGE_MAINTAINER / DEBFULLNAME / DEBEMAIL: a value the RPM spec or a shell would expand is refused, naming the variable; a bad one is no longer ignored', async () => {
    const saved = { m: process.env.NGINX_FORGE_MAINTAINER, n: process.env.DEBFULLNAME, e: process.env.DEBEMAIL };
    const set = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
    try {
      set('DEBFULLNAME', undefined);
      set('DEBEMAIL', undefined);
      set('NGINX_FORGE_MAINTAINER', 'Eve %(touch /tmp/pwned) <eve@example.org>');
      // it went into the spec's Packager and %changelog lines: rpmbuild runs %(…)
      expect(() => maintainer()).toThrow(/NGINX_FORGE_MAINTAINER "Eve %\(touch \/tmp\/pwned\) <eve@example\.org>": the name contains "%" \(the RPM spec would expand it/);
      set('NGINX_FORGE_MAINTAINER', 'just a name');
      // it fell back to the placeholder in silence
      expect(() => maintainer()).toThrow(/NGINX_FORGE_MAINTAINER "just a name": is not "Name <email>"/);
      set('NGINX_FORGE_MAINTAINER', 'Zoë O\'Brien-Łukasz (ops) <zoe.ob+pkg@example.org>');
      expect(formatMaintainer(maintainer())).toBe('Zoë O\'Brien-Łukasz (ops) <zoe.ob+pkg@example.org>');
      set('NGINX_FORGE_MAINTAINER', undefined);
      set('DEBFULLNAME', 'Mallory $(id)');
      set('DEBEMAIL', 'm@example.org');
      expect(() => maintainer()).toThrow(/DEBFULLNAME "Mallory \$\(id\)": the name contains "\$" \(a shell would expand it\)/);
      set('DEBFULLNAME', undefined);
      set('DEBEMAIL', 'm%{_bindir}@example.org');
      expect(() => maintainer()).toThrow(/DEBEMAIL .*: the address has characters other than/);
      set('DEBEMAIL', undefined);
      expect(maintainer()).toEqual({ name: 'nginx-forge packager', email: 'packager@nginx-forge.invalid' });
    } finally {
      set('NGINX_FORGE_MAINTAINER', saved.m);
      set('DEBFULLNAME', saved.n);
      set('DEBEMAIL', saved.e);
    }
    // the package command refuses it before any work: exit 2, nothing built
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs'), 'package', '--format', 'rpm', '--profile', 'ktls', '--offline', '--out', path.join(os.tmpdir(), 'nf-maint-out')], {
      reject: false,
      env: { NGINX_FORGE_MAINTAINER: 'x %(id) <x@example.org>', NGINX_FORGE_HOME: mkdtempSync(path.join(os.tmpdir(), 'nf-maint-')) },
    });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/NGINX_FORGE_MAINTAINER "x %\(id\) <x@example\.org>": the name contains "%"/);
    expect(r.stderr).not.toMatch(/fetch|extract|configure/);
  });

  it('the FreeBSD port: a build.env key X;cmd;Y and a newline in a recipe argument', async () => {
    const plan = resolvePlan(loadRecipes(), 'ktls');
    const withEnv = { ...plan, components: plan.components.map((c) => (c.name === 'zlib-ng' ? { ...c, build: { ...c.build!, env: { 'X;cmd;Y': 'v' } } } : c)) };
    await expect(freebsdPort({ plan: withEnv, sourceDateEpoch: 0 })).rejects.toThrow(/refusing to write the FreeBSD port: .*component zlib-ng: build\.env: "X;cmd;Y" is not an environment variable name/s);
    const withArg = { ...plan, components: plan.components.map((c) => (c.name === 'zlib-ng' ? { ...c, build: { ...c.build!, args: [...c.build!.args, '-DX=1\n\trm -rf /'] } } : c)) };
    await expect(freebsdPort({ plan: withArg, sourceDateEpoch: 0 })).rejects.toThrow(/cannot put an argument into a port Makefile: .* contains a newline/);
  });
});

describe('the shipped profiles', () => {
  it('pass the rule, and the generators accept them', async () => {
    const recipes = loadRecipes();
    expect(recipes.profiles.size).toBeGreaterThanOrEqual(5);
    for (const name of recipes.profiles.keys()) {
      const plan = resolvePlan(recipes, name);
      expect(planProblems(plan), name).toEqual([]);
      expect(systemdUnit(plan)).toContain(`PIDFile=${plan.install.pid}\n`);
      expect(ownedDirs(plan)).toEqual({ state: ['/var/lib/nginx'], logs: ['/var/log/nginx'] });
      await expect(freebsdPort({ plan, sourceDateEpoch: 0 })).resolves.toBeDefined();
    }
  });

  it('the rule itself: accepted and refused paths', () => {
    for (const ok of ['/', '/usr/share/nginx', '/var/lib/nginx/body', '/opt/nginx-1.26.3+x~y/a_b']) expect(pathProblem(ok), ok).toBeUndefined();
    for (const bad of ['', 'rel', '/a/../b', '/a/./b', '/a//b', '/a/', '/a b', '/a;b', '/a%b', '/a\tb', '/a\u007fb', '/a:b', '/a*b']) expect(pathProblem(bad), JSON.stringify(bad)).toBeDefined();
  });
});
