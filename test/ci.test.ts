// The CI templates users copy: they must parse, call only real commands and options, reference
// only scripts that exist, and build the matrix `nginx-forge ci matrix` prints.
import type { Command } from 'commander';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { program } from '../src/cli.ts';
import { ciMatrix, CI_DISTROS, CI_TARGETS, GITLAB_HOST, GITLAB_JOBS, gitlabPipeline, sanitizerMatrix, sanitizerProfiles } from '../src/commands/ci.ts';
import { TARGETS } from '../src/target.ts';
import { copyRecipes, editJson } from './helpers/recipes.ts';
import { loadRecipes, BUILTIN_RECIPES } from '../src/recipes/load.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');
const github = parse(read('ci/github-actions.yml'));
const gitlab = parse(read('ci/gitlab-ci.yml'));
/** the job templates of the child pipeline, and the child pipeline `ci matrix --format gitlab` writes */
const gitlabJobs = parse(read(GITLAB_JOBS));
const child = parse(gitlabPipeline());
/** a child pipeline job as GitLab runs it: the template it extends, its own keys over it */
const childJob = (name: string) => ({ ...gitlabJobs[child[name].extends], ...child[name] });

/** Every shell script in a workflow: GitHub `run:` steps, GitLab before_script/script/after_script. */
function scripts(): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const [job, j] of Object.entries<any>(github.jobs)) {
    for (const [i, s] of (j.steps ?? []).entries()) if (s.run) out.push({ where: `github ${job} step ${i}`, text: s.run });
  }
  for (const [file, doc] of [['gitlab-ci.yml', gitlab], [GITLAB_JOBS, gitlabJobs]] as const) {
    for (const [job, j] of Object.entries<any>(doc)) {
      if (!j || typeof j !== 'object' || Array.isArray(j)) continue;
      for (const k of ['before_script', 'script', 'after_script']) {
        for (const line of j[k] ?? []) out.push({ where: `${file} ${job} ${k}`, text: line });
      }
    }
  }
  return out;
}

/** `nginx-forge <cmd> [<sub>] args...` invocations (also `node bin/nginx-forge.mjs ...`), one per command segment. */
function invocations(text: string): string[][] {
  const out: string[][] = [];
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  for (const line of lines) {
    const re = /(?:^|[\s($"'])(?:node\s+)?(?:bin\/)?nginx-forge(?:\.mjs)?\s+([^|;&)>]*)/g;
    for (let m = re.exec(line); m; m = re.exec(line)) {
      const words = m[1]!.trim().split(/\s+/).filter(Boolean);
      if (words.length) out.push(words);
    }
  }
  return out;
}

function longOptions(cmd: Command): Set<string> {
  const s = new Set<string>(['--help']);
  for (const o of cmd.options) {
    if (o.long) s.add(o.long);
    if (o.long?.startsWith('--no-')) s.add(`--${o.long.slice(5)}`);
  }
  return s;
}

describe('CI templates', () => {
  it('both parse as YAML with the expected shape', () => {
    expect(github.name).toBe('nginx-forge');
    expect(Object.keys(github.jobs)).toEqual(['matrix', 'build', 'sanitizers', 'audit']);
    expect(github.jobs.build.strategy.matrix).toBe('${{ fromJSON(needs.matrix.outputs.matrix) }}');
    expect(gitlab.stages).toEqual(['matrix', 'build', 'audit']);
    expect(Object.keys(gitlabJobs).filter((k) => k.startsWith('.'))).toEqual(['.build', '.sanitizers']);
    expect(child.build.parallel.matrix.length).toBeGreaterThan(0);
  });

  it('call only real nginx-forge commands, with options those commands have', () => {
    const prog = program();
    const seen: string[] = [];
    for (const { where, text } of scripts()) {
      for (const words of invocations(text)) {
        const [name, ...rest] = words;
        const cmd = prog.commands.find((c) => c.name() === name);
        expect(cmd, `${where}: nginx-forge ${words.join(' ')}: no command "${name}"`).toBeDefined();
        let target = cmd!;
        let args = rest;
        if (target.commands.length) {
          const sub = target.commands.find((c) => c.name() === rest[0]);
          expect(sub, `${where}: nginx-forge ${words.join(' ')}: "${name}" has no subcommand "${rest[0]}"`).toBeDefined();
          target = sub!;
          args = rest.slice(1);
        }
        const opts = longOptions(target);
        for (const a of args.filter((x) => x.startsWith('--'))) {
          expect(opts.has(a.split('=')[0]!), `${where}: nginx-forge ${words.join(' ')}: unknown option ${a}`).toBe(true);
        }
        seen.push([name, ...(target !== cmd ? [target.name()] : [])].join(' '));
      }
    }
    // the pipeline steps the issue asks for are all there, in both templates
    for (const c of ['ci matrix', 'doctor', 'plan', 'fetch', 'build', 'smoke', 'package', 'audit']) expect(seen, c).toContain(c);
  });

  it('reference only scripts and files that exist in the repository', () => {
    const refs = new Set<string>();
    for (const { text } of scripts()) {
      const re = /(?:^|[\s"'=(])(?:\$\{?(?:PWD|CI_PROJECT_DIR|GITHUB_WORKSPACE)\}?\/|\.\/)?((?:ci|bin|scripts|recipes|test)\/[A-Za-z0-9_.\/-]+)/g;
      for (let m = re.exec(text); m; m = re.exec(text)) refs.add(m[1]!);
    }
    expect([...refs].sort()).toEqual(expect.arrayContaining(['bin/nginx-forge.mjs', 'ci/setup.sh']));
    for (const r of refs) expect(existsSync(path.join(ROOT, r)), r).toBe(true);
  });

  it('GitHub: matrix from `ci matrix`, caches keyed by the plan hash, artifacts uploaded', () => {
    const m = github.jobs.matrix.steps.find((s: any) => s.id === 'matrix');
    expect(m.run).toContain('ci matrix');
    const steps = github.jobs.build.steps;
    const plan = steps.find((s: any) => s.id === 'plan');
    expect(plan.run).toContain("--json | jq -r .planHash");
    const caches = steps.filter((s: any) => String(s.uses).startsWith('actions/cache@'));
    expect(caches.map((c: any) => c.with.path)).toEqual(['.nginx-forge/distfiles', '.nginx-forge/stages']);
    for (const c of caches) expect(c.with.key).toContain('${{ steps.plan.outputs.hash }}');
    expect(github.jobs.build.env.NGINX_FORGE_HOME).toContain('.nginx-forge');
    const upload = steps.find((s: any) => String(s.uses).startsWith('actions/upload-artifact@') && !s.if);
    for (const p of ['dist/*.tar.gz', 'dist/*.deb', 'dist/sbom.cdx.json', 'dist/vex.openvex.json', 'dist/SHA256SUMS']) expect(upload.with.path).toContain(p);
    // every matrix.<field> the workflow uses is a field `ci matrix` prints
    const fields = new Set(Object.keys(ciMatrix().include[0]!));
    for (const [expr] of read('ci/github-actions.yml').matchAll(/\$\{\{[^}]*\}\}/g)) {
      for (const [, f] of expr.matchAll(/(?<![.\w])matrix\.([A-Za-z]+)/g)) expect(fields.has(f!), `matrix.${f}`).toBe(true);
    }
  });

  it('both templates: every plan, fetch, build and .deb package of a build job is for the matrix target; stage caches keyed by it; the smoke test only where its VM exists', () => {
    const commands = (text: string) => invocations(text).map((w) => w.join(' '));
    const targeted = /^(plan|fetch|build|package --format deb) /;
    const gh = github.jobs.build.steps.filter((s: any) => s.run).flatMap((s: any) => commands(s.run)).filter((c: string) => targeted.test(c));
    const gl = childJob('build').script.flatMap((l: string) => commands(l)).filter((c: string) => targeted.test(c));
    for (const [where, cmds, flag] of [['github', gh, '--target "${{ matrix.target }}"'], ['gitlab', gl, '--target "$TARGET"']] as const) {
      // plan twice (printed, and its hash), fetch, build, build --test, package --format deb
      expect(cmds.length, where).toBeGreaterThanOrEqual(6);
      for (const c of cmds) expect(c, where).toContain(flag);
    }
    // GitHub: each target on a runner of its own machine: a native build, arm64 on ubuntu-24.04-arm
    expect(github.jobs.build['runs-on']).toBe('${{ matrix.runsOn }}');
    expect(ciMatrix().include.filter((e) => e.target === 'aarch64-linux-gnu').map((e) => e.runsOn)).toEqual(expect.arrayContaining(['ubuntu-24.04-arm']));
    expect(new Set(ciMatrix().include.filter((e) => e.target === 'aarch64-linux-gnu').map((e) => e.runsOn))).toEqual(new Set(['ubuntu-24.04-arm']));
    const cache = github.jobs.build.steps.find((s: any) => s.with?.path === '.nginx-forge/stages');
    expect(cache.with.key).toBe('stages-${{ matrix.distro }}-${{ matrix.target }}-${{ matrix.profile }}-${{ steps.plan.outputs.hash }}');
    expect(cache.with['restore-keys'].trim()).toBe('stages-${{ matrix.distro }}-${{ matrix.target }}-${{ matrix.profile }}-');
    const smoke = github.jobs.build.steps.find((s: any) => s.run && commands(s.run).some((c) => c.startsWith('smoke ')));
    expect(smoke.if).toBe('matrix.smoke');
    // GitLab: cross builds on its amd64 runners; cache per target; smoke only when SMOKE
    expect(gitlabJobs['.build'].cache[1].key).toBe('nginx-forge-stages-$CI_COMMIT_REF_SLUG-$DISTRO-$TARGET-$PROFILE');
    expect(childJob('build').script.find((l: string) => commands(l).some((c) => c.startsWith('smoke ')))).toMatch(/^if \[ "\$SMOKE" = true \]; then /);
    expect(childJob('build').artifacts.name).toBe('nginx-forge-$PROFILE-$DISTRO-$ARCH');
    expect(gitlabJobs['.build'].tags).toBeUndefined();
    // the arm64 artifacts are uploaded like the amd64 ones: the same paths, names by arch
    expect(github.jobs.build.steps.find((s: any) => String(s.uses).startsWith('actions/upload-artifact@') && !s.if).with.name).toBe('${{ matrix.artifact }}');
  });

  it('ci/setup.sh installs the arm64 cross toolchain on an amd64 machine only (Debian has none for arm64: an arm64 runner builds natively)', async () => {
    const { execa } = await import('execa');
    const run = async (arch: string) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'nf-setup-'));
      try {
        // the script in a tree of its own (it cd's to its parent), and fake dpkg, dpkg-query, apt-get, npm
        mkdirSync(path.join(dir, 'ci'));
        cpSync(path.join(ROOT, 'ci/setup.sh'), path.join(dir, 'ci/setup.sh'));
        for (const d of ['node_modules', 'lib', 'src', 'bin']) mkdirSync(path.join(dir, d));
        writeFileSync(path.join(dir, 'package-lock.json'), '{}');
        writeFileSync(path.join(dir, 'node_modules/.package-lock.json'), '{}');
        writeFileSync(path.join(dir, 'lib/cli.js'), '');
        const log = path.join(dir, 'calls.log');
        const fake = (name: string, body: string) => {
          writeFileSync(path.join(dir, 'bin', name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
          chmodSync(path.join(dir, 'bin', name), 0o755);
        };
        fake('dpkg', `case "$1" in --print-architecture) echo ${arch} ;; --print-foreign-architectures) ;; esac`);
        fake('dpkg-query', 'exit 1');
        fake('apt-get', 'exit 0');
        fake('sudo', '"$@"');
        fake('npm', 'exit 0');
        // policy-rc.d is never written for real: tee writes nothing, so the script's chmod && own_policy chain stops there
        fake('tee', 'cat >/dev/null');
        fake('chmod', 'exit 1');
        await execa('bash', [path.join(dir, 'ci/setup.sh')], { env: { PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` }, extendEnv: true });
        return readFileSync(log, 'utf8').split('\n').filter((l) => /^(apt-get install|dpkg --add-architecture)/.test(l));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const amd64 = await run('amd64');
    expect(amd64[0]).toBe('dpkg --add-architecture arm64');
    expect(amd64.find((l) => l.startsWith('apt-get install'))).toMatch(/ crossbuild-essential-arm64 qemu-user-static libcrypt-dev:arm64/);
    const arm64 = await run('arm64');
    expect(arm64).toHaveLength(1);
    expect(arm64[0]).toMatch(/^apt-get install .* build-essential /);
    expect(arm64[0]).not.toMatch(/crossbuild-essential|:arm64|qemu-user-static/);
  });

  it('GitHub: every action is pinned by a 40-hex commit with its version as a comment, one commit per action', () => {
    const text = read('ci/github-actions.yml');
    const uses = [...text.matchAll(/^\s*(?:- )?uses: (.*)$/gm)].map((m) => m[1]!);
    expect(uses.length).toBeGreaterThan(5);
    const commitOf = new Map<string, string>();
    for (const u of uses) {
      expect(u).toMatch(/^[a-z0-9-]+\/[a-z0-9-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      const [, action, sha, version] = /^(\S+)@(\S+) # (\S+)$/.exec(u)!;
      // the same action at the same version everywhere
      expect(commitOf.get(action!) ?? `${sha} ${version}`, action).toBe(`${sha} ${version}`);
      commitOf.set(action!, `${sha} ${version}`);
    }
    // the parsed value is the pinned reference (YAML drops the comment)
    for (const job of Object.values<any>(github.jobs)) for (const s of job.steps) if (s.uses) expect(s.uses).toMatch(/^actions\/[a-z-]+@[0-9a-f]{40}$/);
  });

  it('GitHub: pushes and tags attest every file of SHA256SUMS and sign the forge\'s own provenance; the permissions only on the build job', () => {
    const build = github.jobs.build;
    const steps = build.steps;
    const attest = steps.find((s: any) => String(s.uses).startsWith('actions/attest-build-provenance@'));
    expect(attest.with).toEqual({ 'subject-checksums': 'dist/SHA256SUMS' });
    expect(attest.if).toBe("${{ github.event_name == 'push' && !github.event.repository.private }}");
    expect(build.permissions).toMatchObject({ 'id-token': 'write', attestations: 'write' });
    for (const [name, job] of Object.entries<any>(github.jobs)) {
      if (name !== 'build') expect(job.permissions?.['id-token'], name).toBeUndefined();
    }
    expect(github.permissions).toEqual({ contents: 'read' });
    const idx = (pred: (s: any) => boolean) => steps.findIndex(pred);
    const upload = idx((s) => String(s.uses).startsWith('actions/upload-artifact@') && !s.if);
    // after the last file is written, before the upload
    expect(idx((s) => s === attest)).toBeGreaterThan(idx((s) => String(s.run).includes('package --format deb')));
    expect(idx((s) => s === attest)).toBeLessThan(upload);
    expect(steps[upload].with.path).toContain('dist/*.intoto.jsonl');
    // the signing key: pushes only, written to a 0600 file, before the first build
    const key = steps.find((s: any) => String(s.run).includes('NGINX_FORGE_PROVENANCE_KEY='));
    expect(key.if).toBe("${{ github.event_name == 'push' }}");
    expect(key.env.KEY).toBe('${{ secrets.NGINX_FORGE_PROVENANCE_KEY || secrets.NGINX_FORGE_CACHE_SIGN_KEY }}');
    expect(key.run).toContain('umask 077');
    expect(idx((s) => s === key)).toBeLessThan(idx((s) => String(s.run).includes('nginx-forge build')));
    expect(build.env.NGINX_FORGE_BUILDER_ID).toBe('${{ github.server_url }}/${{ github.workflow_ref }}');
  });

  it('GitLab: the forge\'s provenance is kept as an artifact; signed only on the default branch and tags', () => {
    expect(childJob('build').artifacts.paths).toContain('dist/*.intoto.jsonl');
    const line = gitlabJobs['.build'].before_script.find((l: string) => l.includes('NGINX_FORGE_PROVENANCE_KEY='));
    expect(line).toContain('NGINX_FORGE_PROVENANCE_KEY_FILE');
    expect(line).toMatch(/CI_COMMIT_TAG.*CI_DEFAULT_BRANCH/s);
  });

  it('GitHub: a tag build restores no stage directory and takes only library stages from the signed registry cache; only the default branch pushes', () => {
    const steps = github.jobs.build.steps;
    const dirCache = steps.find((s: any) => s.with?.path === '.nginx-forge/stages');
    expect(dirCache.if).toBe("${{ !startsWith(github.ref, 'refs/tags/') }}");
    const remote = steps.find((s: any) => String(s.name).startsWith('remote stage cache'));
    expect(remote.env.RELEASE).toBe("${{ startsWith(github.ref, 'refs/tags/') }}");
    expect(remote.run).toMatch(/if \[ "\$RELEASE" = true \]; then echo "NGINX_FORGE_CACHE_KINDS=library"/);
    expect(remote.env.WRITES).toContain("github.event_name == 'push'");
    expect(remote.env.WRITES).toContain('default_branch');
    // the sign key reaches the environment only inside the WRITES branch
    const [before, after] = remote.run.split('if [ "$WRITES" = true ]');
    expect(before).not.toContain('NGINX_FORGE_CACHE_TO');
    expect(after).toContain('NGINX_FORGE_CACHE_TO=$repo');
    // the step comes before the first build, so every nginx-forge build/package of the job uses it
    const idx = (pred: (s: any) => boolean) => steps.findIndex(pred);
    expect(idx((s) => s === remote)).toBeLessThan(idx((s) => String(s.run).includes('nginx-forge build')));
  });

  it('GitLab: a job writes the child pipeline with `ci matrix --format gitlab`, a trigger job runs it', () => {
    expect(gitlab.matrix.script.join('\n')).toMatch(/nginx-forge\.mjs ci matrix --format gitlab > build-pipeline\.yml/);
    expect(gitlab.matrix.artifacts.paths).toEqual(['build-pipeline.yml']);
    expect(gitlab.build.trigger).toEqual({ include: [{ artifact: 'build-pipeline.yml', job: 'matrix' }], strategy: 'depend' });
    expect(gitlab.build.needs).toEqual(['matrix']);
    expect(gitlab.build.rules).toEqual(gitlab.matrix.rules);
    // the child pipeline takes its jobs from the template file
    expect(child.include).toEqual([{ local: GITLAB_JOBS }]);
    expect(childJob('build').artifacts.paths).toEqual(expect.arrayContaining(['dist/*.deb', 'dist/sbom.cdx.json', 'dist/vex.openvex.json', 'dist/SHA256SUMS']));
    expect(gitlabJobs.variables.NGINX_FORGE_HOME).toContain('.nginx-forge');
  });

  it('GitLab: the child pipeline is exactly `ci matrix`: every release profile of recipes/profiles/ on every distro, same images', () => {
    const pairs = child.build.parallel.matrix.map((e: any) => `${e.PROFILE} ${e.DISTRO} ${e.IMAGE} ${e.TARGET} ${e.ARCH} ${e.TESTS} ${e.SMOKE}`);
    expect(pairs).toEqual(ciMatrix().include.map((e) => `${e.profile} ${e.distro} ${e.image} ${e.target} ${e.arch} ${e.tests} ${e.smoke}`));
    const files = readdirSync(path.join(ROOT, 'recipes/profiles')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
    const recipes = loadRecipes(BUILTIN_RECIPES);
    const built = new Set([...child.build.parallel.matrix.map((e: any) => e.PROFILE), ...child.sanitizers.parallel.matrix.map((e: any) => e.PROFILE)]);
    expect([...built].sort()).toEqual(files.sort());
    for (const f of files) expect(recipes.profiles.get(f)!.recipe.sanitizers ? 'sanitizers' : 'build').toBe(child.sanitizers.parallel.matrix.some((e: any) => e.PROFILE === f) ? 'sanitizers' : 'build');
  });

  it('GitLab: a new profile file joins the child pipeline without a template change', () => {
    const dir = copyRecipes('nf-ci-');
    cpSync(path.join(dir, 'profiles', 'userspace.json'), path.join(dir, 'profiles', 'userspace-copy.json'));
    editJson(path.join(dir, 'profiles', 'userspace-copy.json'), (j) => (j.name = 'userspace-copy'));
    const m = parse(gitlabPipeline(dir)).build.parallel.matrix.filter((e: any) => e.PROFILE === 'userspace-copy');
    expect(m.map((e: any) => `${e.DISTRO} ${e.TARGET}`)).toEqual(CI_DISTROS.flatMap((d) => CI_TARGETS.map((t) => `${d.distro} ${t.target}`)));
  });

  it('GitLab: the templates name no profile (the matrix comes from `ci matrix`)', () => {
    const profiles = readdirSync(path.join(ROOT, 'recipes/profiles')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
    for (const file of ['ci/gitlab-ci.yml', GITLAB_JOBS]) {
      const text = read(file);
      for (const p of profiles) expect(text, `${file} names the profile ${p}`).not.toMatch(new RegExp(`(?<![\\w-])${p.replace(/[-]/g, '\\-')}(?![\\w-])`));
    }
  });
});

describe('nginx\'s test suite in CI', () => {
  const commands = (text: string) => invocations(text).map((w) => w.join(' '));

  it('the sanitizer profiles are not in the release matrix; both templates build each one with --test', () => {
    const san = sanitizerProfiles();
    expect(san).toContain('ktls-asan');
    for (const e of ciMatrix().include) expect(san).not.toContain(e.profile);
    // GitHub: the sanitizer matrix comes from `ci matrix --sanitizers` like the build's, no profile named
    expect(github.jobs.sanitizers.strategy.matrix).toBe('${{ fromJSON(needs.matrix.outputs.sanitizers) }}');
    expect(github.jobs.sanitizers.needs).toBe('matrix');
    expect(github.jobs.matrix.outputs.sanitizers).toBe('${{ steps.matrix.outputs.sanitizers }}');
    const step = github.jobs.matrix.steps.find((s: any) => s.id === 'matrix').run;
    expect(step).toContain('node bin/nginx-forge.mjs ci matrix --sanitizers | tee sanitizers.json');
    expect(step).toContain('echo "sanitizers=$(jq -c . sanitizers.json)" >> "$GITHUB_OUTPUT"');
    expect(sanitizerMatrix().include.map((e) => e.profile)).toEqual(san);
    // no sanitizer profile: no job (an empty matrix is an error on GitHub)
    expect(github.jobs.sanitizers.if).toBe(`needs.matrix.outputs.sanitizers != '${JSON.stringify({ include: [] })}'`);
    expect(child.sanitizers.parallel.matrix.map((e: any) => e.PROFILE)).toEqual(san);
    const gh = github.jobs.sanitizers.steps.filter((s: any) => s.run).flatMap((s: any) => commands(s.run));
    const gl = childJob('sanitizers').script.flatMap((l: string) => commands(l));
    for (const [where, cmds] of [['github', gh], ['gitlab', gl]] as const) {
      const build = cmds.find((c: string) => c.startsWith('build '));
      expect(build, where).toBeDefined();
      expect(build, where).toContain('--test');
      expect(build, where).toContain('--no-smoke');
    }
    expect(child.sanitizers.extends).toBe('.sanitizers');
  });

  it('the normal job runs build --test for the default profile (ktls) only, as `ci matrix` says, in both templates', () => {
    expect([...new Set(ciMatrix().include.filter((e) => e.tests).map((e) => `${e.profile} ${e.target}`))]).toEqual(['ktls x86_64-linux-gnu']);
    const step = github.jobs.build.steps.find((s: any) => s.run && commands(s.run).some((c) => c.startsWith('build ') && c.includes('--test')));
    expect(step?.if).toBe('matrix.tests');
    const line = childJob('build').script.find((l: string) => commands(l).some((c) => c.startsWith('build ') && c.includes('--test')));
    expect(line).toMatch(/^if \[ "\$TESTS" = true \]; then /);
  });
});

describe('scheduled security audit', () => {
  /** The audit script must run `audit` for every profile and end with the audit's own exit status. */
  function checkAuditScript(text: string, where: string) {
    expect(text, where).toMatch(/nginx-forge\.mjs audit --profile "\$p" --json > "audit\/\$p\.json" \|\| status=\$\?/);
    expect(text, where).toMatch(/for p in \$\(ls recipes\/profiles \| sed -n 's\/\\\.json\$\/\/p'\)/);
    expect(text.trim().split('\n').at(-1)!.trim(), where).toBe('exit "$status"');
    // the JSON run, whose status counts, is never masked
    expect(text, where).not.toMatch(/--json[^\n]*\|\| true/);
  }

  it('GitHub: a schedule runs only the audit job, in a Debian container, and keeps the reports', () => {
    expect(github.on.schedule).toEqual([{ cron: expect.stringMatching(/^\S+ \S+ \S+ \S+ \S+$/) }]);
    expect(github.jobs.matrix.if).toBe("github.event_name != 'schedule'");
    // build needs matrix, so it is skipped with it
    expect(github.jobs.build.needs).toBe('matrix');
    const audit = github.jobs.audit;
    expect(audit.if).toContain("github.event_name == 'schedule'");
    expect(audit.container.image).toMatch(/^node:20-(trixie|bookworm)$/);
    const run = audit.steps.find((s: any) => String(s.run).includes(' audit '));
    checkAuditScript(run.run, 'github audit');
    expect(audit.steps.find((s: any) => String(s.uses).startsWith('actions/upload-artifact@')).if).toBe('always()');
  });

  it('GitLab: scheduled pipelines run only the audit job', () => {
    expect(gitlab.build.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE != "schedule"' }]);
    expect(gitlab.audit.rules).toContainEqual({ if: '$CI_PIPELINE_SOURCE == "schedule"' });
    expect(gitlab.audit.stage).toBe('audit');
    expect(gitlab.audit.image).toMatch(/^node:20-(trixie|bookworm)$/);
    checkAuditScript(gitlab.audit.script.join('\n'), 'gitlab audit');
    expect(gitlab.audit.artifacts).toMatchObject({ when: 'always', paths: ['audit/'] });
  });

  it('the exit code the jobs fail on is the documented one', async () => {
    const { ExitCode } = await import('../src/errors.ts');
    expect(ExitCode.securityFixPending).toBe(8);
    expect(read('README.md')).toMatch(/\b8\b[^\n]*security fix/);
  });
});

describe('ci matrix', () => {
  it('is every release profile of the recipe directory (not the sanitizer ones) on every CI distro', () => {
    const recipes = loadRecipes(BUILTIN_RECIPES);
    const profiles = [...recipes.profiles.keys()].sort().filter((p) => !recipes.profiles.get(p)!.recipe.sanitizers);
    const m = ciMatrix();
    expect(m.include).toHaveLength(profiles.length * CI_DISTROS.length * CI_TARGETS.length);
    expect([...new Set(m.include.map((e) => e.profile))]).toEqual(profiles);
    const ktls = m.include.filter((e) => e.profile === 'ktls' && e.distro === 'debian-12');
    expect(ktls).toEqual([
      { profile: 'ktls', ktls: true, distro: 'debian-12', image: 'node:20-bookworm', target: 'x86_64-linux-gnu', arch: 'amd64', runsOn: 'ubuntu-24.04', artifact: 'nginx-forge-ktls-debian-12-amd64', tests: true, smoke: true },
      // GitHub's arm64 runner builds it natively; no arm64 VM yet, and GitLab cross-builds it (no test suite)
      { profile: 'ktls', ktls: true, distro: 'debian-12', image: 'node:20-bookworm', target: 'aarch64-linux-gnu', arch: 'arm64', runsOn: 'ubuntu-24.04-arm', artifact: 'nginx-forge-ktls-debian-12-arm64', tests: false, smoke: false },
    ]);
    // every artifact name is its own: the arm64 and amd64 uploads of one job pair never collide
    expect(new Set(m.include.map((e) => e.artifact)).size).toBe(m.include.length);
  });

  it('the targets are src/target.ts\'s; a profile that names its target is built for it alone, one CI does not build is a clear error', () => {
    for (const t of CI_TARGETS) expect(TARGETS[t.target], t.target).toBeDefined();
    expect(GITLAB_HOST).toBe('x86_64-linux-gnu');
    const dir = copyRecipes('nf-ci-target-');
    editJson(path.join(dir, 'profiles', 'userspace.json'), (j) => (j.target = 'aarch64-linux-gnu'));
    const own = ciMatrix(dir).include.filter((e) => e.profile === 'userspace');
    expect(own.map((e) => `${e.distro} ${e.target} ${e.runsOn}`)).toEqual(['debian-12 aarch64-linux-gnu ubuntu-24.04-arm', 'debian-13 aarch64-linux-gnu ubuntu-24.04-arm']);
    expect(parse(gitlabPipeline(dir)).build.parallel.matrix.filter((e: any) => e.PROFILE === 'userspace').map((e: any) => e.TARGET)).toEqual(['aarch64-linux-gnu', 'aarch64-linux-gnu']);
  });

  it('the CLI prints it as JSON', async () => {
    const { execa } = await import('execa');
    const r = await execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'ci', 'matrix'], { cwd: ROOT });
    expect(JSON.parse(r.stdout)).toEqual(ciMatrix());
    const g = await execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'ci', 'matrix', '--format', 'gitlab'], { cwd: ROOT });
    expect(g.stdout.trim()).toBe(gitlabPipeline().trim());
    const san = await execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'ci', 'matrix', '--sanitizers'], { cwd: ROOT });
    expect(JSON.parse(san.stdout)).toEqual(sanitizerMatrix());
    const bad = await execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'ci', 'matrix', '--sanitizers', '--format', 'gitlab'], { cwd: ROOT, reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--sanitizers with --format gitlab: the sanitizer matrix is JSON only/);
  });
});
