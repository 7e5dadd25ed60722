// Resolve a profile into a BuildPlan. Pure: reads recipe and patch files, no network, no writes.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { RecipeError, UsageError, type RecipeProblem } from '../errors.ts';
import type { BuildPlan, PlanComponent, PlanPatch, PlanPatchSet, PlanStage, StageKind } from '../plan.ts';
import { distroSource } from '../plan.ts';
import { ComponentName, type ProfileRecipe } from './schema.ts';
import { BUILTIN_PATCHES, compareVersions, displayPath, fieldPath, knownVersions, type RecipeSet } from './load.ts';

export interface ResolveOptions {
  /** `--set name=version` overrides, as given on the command line. */
  set?: string[];
  patchesDir?: string;
  /** Facts about the build host (compiler version, ...) that must feed the cache keys. */
  toolchain?: Record<string, string>;
  /** `--prefix`: nginx install prefix instead of the profile's. */
  prefix?: string;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Stable JSON (sorted object keys) so a key never depends on property order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const hashOf = (v: unknown): string => sha256Hex(stableJson(v));

export function parseSets(sets: string[] = [], recipes: RecipeSet): Partial<Record<ComponentName, string>> {
  const out: Partial<Record<ComponentName, string>> = {};
  for (const s of sets) {
    const m = /^([a-z0-9-]+)=(.+)$/.exec(s);
    if (!m) throw new UsageError(`--set ${s}: expected <component>=<version>, e.g. --set openssl=3.5.9`);
    const name = ComponentName.safeParse(m[1]);
    if (!name.success) {
      throw new UsageError(`--set ${s}: unknown component "${m[1]}" (known: ${ComponentName.options.join(', ')})`);
    }
    const known = knownVersions(recipes, name.data);
    if (!known.includes(m[2]!)) {
      throw new UsageError(
        `--set ${s}: ${name.data} ${m[2]} is not in the catalog (known: ${known.join(', ')})`,
        `add it to ${displayPath(path.join(recipes.dir, 'components', `${name.data}.json`))} with its sha256, or pick a known version`,
      );
    }
    out[name.data] = m[2]!;
  }
  return out;
}

/** Pass 2 for a profile: versions exist, kTLS prerequisites hold. */
function checkProfile(file: string, p: ProfileRecipe, recipes: RecipeSet, versions: Record<ComponentName, string>): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  for (const name of ComponentName.options) {
    const v = versions[name];
    const known = knownVersions(recipes, name);
    if (!known.includes(v)) {
      problems.push({ file, path: fieldPath(['components', name, 'version']), message: `unknown version "${v}" (known: ${known.join(', ')})` });
    }
  }
  const ssl = p.components.openssl;
  const wantsKtls = ssl.options.includes('enable-ktls');
  if (p.ktls && !wantsKtls) {
    problems.push({ file, path: fieldPath(['components', 'openssl', 'options']), message: 'profile has "ktls": true, so OpenSSL options must include "enable-ktls"' });
  }
  if (!p.ktls && wantsKtls) {
    problems.push({ file, path: fieldPath(['components', 'openssl', 'options']), message: 'contains "enable-ktls" but the profile has "ktls": false; set one or the other' });
  }
  if (wantsKtls && compareVersions(versions.openssl, '3.0.0') < 0) {
    problems.push({ file, path: fieldPath(['components', 'openssl', 'version']), message: `OpenSSL ${versions.openssl} cannot do kernel TLS; kTLS needs OpenSSL 3.0 or later` });
  }
  if (p.ktls && compareVersions(versions.nginx, '1.21.4') < 0) {
    problems.push({ file, path: fieldPath(['components', 'nginx', 'version']), message: `nginx ${versions.nginx} has no SSL_sendfile support; kTLS needs nginx 1.21.4 or later` });
  }
  if (p.ktls && !p.nginx.modules.includes('--with-http_ssl_module')) {
    problems.push({ file, path: fieldPath(['nginx', 'modules']), message: 'a kTLS profile needs "--with-http_ssl_module"' });
  }
  for (const [i, o] of ssl.options.entries()) {
    if (/\s/.test(o)) problems.push({ file, path: fieldPath(['components', 'openssl', 'options', i]), message: 'one option per entry, without spaces' });
  }
  for (const k of Object.keys(p.nginx.paths)) {
    if (!/^[a-z-]+-path$/.test(k)) problems.push({ file, path: fieldPath(['nginx', 'paths', k]), message: 'must be a configure path option name ending in "-path", e.g. "conf-path"' });
  }
  return problems;
}

/** Local patches: patches/<component>/<version or semver range>/NNNN-*.patch, in name order. */
export function discoverPatches(patchesDir: string, name: ComponentName, version: string): { patches: PlanPatch[]; problems: RecipeProblem[] } {
  const patches: PlanPatch[] = [];
  const problems: RecipeProblem[] = [];
  const base = path.join(patchesDir, name);
  if (!existsSync(base)) return { patches, problems };
  const v = semver.coerce(version);
  for (const dir of readdirSync(base).sort()) {
    const full = path.join(base, dir);
    if (!statSync(full).isDirectory()) continue;
    const matches = dir === version || (v !== null && semver.validRange(dir) !== null && semver.satisfies(v, dir));
    if (!matches) continue;
    for (const f of readdirSync(full).sort()) {
      const file = path.join(full, f);
      const display = displayPath(file);
      if (!/^\d{4}-[A-Za-z0-9._-]+\.patch$/.test(f)) {
        problems.push({ file: display, path: '', message: 'patch files must be named NNNN-what.patch' });
        continue;
      }
      const text = readFileSync(file);
      const head = text.toString('utf8').split(/^(?:diff |--- )/m)[0] ?? '';
      if (head.trim().length < 20) {
        problems.push({ file: display, path: '', message: 'needs a header before the diff saying what it fixes, why, and its upstream status' });
      }
      patches.push({
        component: name,
        id: path.relative(path.dirname(patchesDir), file).split(path.sep).join('/'),
        sha256: sha256Hex(text),
        strip: 1,
        cves: [],
        origin: { kind: 'local', path: file },
      });
    }
  }
  return { patches, problems };
}

/** Where each component sits in the build workspace, relative to the nginx source tree's parent. */
function layoutFor(components: PlanComponent[]): Record<ComponentName, string> {
  const out = {} as Record<ComponentName, string>;
  for (const c of components) {
    out[c.name] = c.name === 'zlib-ng' || c.name === 'jemalloc' ? `deps/${c.name}` : c.topdir;
  }
  return out;
}

export function nginxConfigureArgs(p: ProfileRecipe, components: PlanComponent[], layout: Record<ComponentName, string>): string[] {
  const ssl = components.find((c) => c.name === 'openssl')!;
  const rel = (n: ComponentName) => `../${layout[n]}`;
  const args = [`--prefix=${p.nginx.prefix}`];
  for (const [k, v] of Object.entries(p.nginx.paths)) args.push(`--${k}=${v}`);
  args.push(...p.nginx.modules);
  args.push(`--with-openssl=${rel('openssl')}`);
  args.push(`--with-openssl-opt=${ssl.options.join(' ')}`);
  args.push(`--with-pcre=${rel('pcre2')}`);
  const cc = [...p.nginx.ccOpt, `-I${rel('zlib-ng')}/include`, `-I${rel('jemalloc')}/include`];
  const ld = [...p.nginx.ldOpt, `-L${rel('zlib-ng')}/lib`, `-L${rel('jemalloc')}/lib`, '-ljemalloc', '-lpthread', '-ldl', '-lm'];
  args.push(`--with-cc-opt=${cc.join(' ')}`);
  args.push(`--with-ld-opt=${ld.join(' ')}`);
  return args;
}

export function resolvePlan(recipes: RecipeSet, profileName: string, opts: ResolveOptions = {}): BuildPlan {
  const entry = recipes.profiles.get(profileName);
  if (!entry) {
    throw new UsageError(`unknown profile "${profileName}" (known: ${[...recipes.profiles.keys()].sort().join(', ')})`, `profiles live in ${displayPath(path.join(recipes.dir, 'profiles'))}`);
  }
  const { file } = entry;
  const p: ProfileRecipe = opts.prefix ? { ...entry.recipe, nginx: { ...entry.recipe.nginx, prefix: opts.prefix } } : entry.recipe;
  if (opts.prefix && !opts.prefix.startsWith('/')) throw new UsageError(`--prefix ${opts.prefix}: must be an absolute path`);
  const overrides = parseSets(opts.set, recipes);
  const versions = Object.fromEntries(
    ComponentName.options.map((n) => [n, overrides[n] ?? p.components[n].version]),
  ) as Record<ComponentName, string>;
  const problems = checkProfile(file, p, recipes, versions);
  if (problems.length) throw new RecipeError(problems);

  const patchesDir = opts.patchesDir ?? BUILTIN_PATCHES;
  const components: PlanComponent[] = [];
  const patches: PlanPatch[] = [];
  const patchSets: PlanPatchSet[] = [];
  for (const name of ComponentName.options) {
    const cr = recipes.components.get(name)!.recipe;
    const v = cr.versions[versions[name]]!;
    const first = v.artifacts[0]!;
    components.push({
      name,
      version: versions[name],
      sha256: first.sha256,
      artifacts: v.artifacts,
      sources: v.artifacts.flatMap((a) => [
        ...a.urls.map((url) => ({ url, sha256: a.sha256 })),
        ...(a.distro ? [{ url: distroSource(a.distro), sha256: a.sha256 }] : []),
      ]),
      options: p.components[name].options,
      license: cr.license,
      licenseFiles: cr.licenseFiles,
      topdir: first.topdir,
      identity: cr.identity,
    });
    for (const set of v.patchSets) {
      patchSets.push({ component: name, name: set.name, description: set.description, artifact: set.artifact });
      for (const ref of set.patches) {
        patches.push({
          component: name,
          id: `${set.name}/${ref.file}`,
          sha256: ref.sha256,
          strip: set.strip,
          cves: ref.cves,
          origin: { kind: 'patchset', patchSet: set.name, path: path.posix.join(set.dir, ref.file) },
        });
      }
    }
    const local = discoverPatches(patchesDir, name, versions[name]);
    problems.push(...local.problems);
    patches.push(...local.patches);
  }
  if (problems.length) throw new RecipeError(problems);

  const layout = layoutFor(components);
  const configureArgs = nginxConfigureArgs(p, components, layout);
  const toolchain = opts.toolchain ?? {};
  const stages = planStages(components, patches, patchSets, configureArgs, toolchain, p);
  const body = { profile: p.name, components, configureArgs, patches, stages: stages.map((s) => s.key), toolchain };
  return {
    profile: p.name,
    description: p.description,
    ktls: p.ktls,
    recipesDir: recipes.dir,
    patchesDir,
    components,
    configureArgs,
    patches,
    patchSets,
    layout,
    stages,
    toolchain,
    planHash: hashOf(body),
  };
}

/** Bumped when the build steps themselves change what they produce: old cache entries then miss. */
export const BUILDER_VERSION = 2;

/**
 * The stage graph. key = hash(own inputs + keys of the stages it depends on), as in BitBake:
 * change an nginx configure flag and only configure/compile/install (and what follows) change key.
 */
function planStages(
  components: PlanComponent[],
  patches: PlanPatch[],
  patchSets: PlanPatchSet[],
  configureArgs: string[],
  toolchain: Record<string, string>,
  p: ProfileRecipe,
): PlanStage[] {
  const stages: PlanStage[] = [];
  const keys = new Map<string, string>();
  const add = (id: string, kind: StageKind, deps: string[], inputs: unknown, component?: ComponentName) => {
    const key = hashOf({ id, inputs, deps: deps.map((d) => keys.get(d)) });
    keys.set(id, key);
    stages.push({ id, kind, component, key, deps });
  };
  add('fetch', 'fetch', [], {
    artifacts: components.map((c) => c.artifacts.map((a) => a.sha256)),
    patchSets: patchSets.map((s) => s.artifact.sha256),
  });
  for (const c of components) {
    add(`extract:${c.name}`, 'extract', ['fetch'], { artifacts: c.artifacts.map((a) => a.sha256), topdir: c.topdir }, c.name);
    const own = patches.filter((x) => x.component === c.name).map((x) => ({ id: x.id, sha256: x.sha256, strip: x.strip }));
    add(`patch:${c.name}`, 'patch', [`extract:${c.name}`], own, c.name);
  }
  const pcreJit = p.nginx.modules.includes('--with-pcre-jit');
  for (const c of components) {
    if (c.name === 'nginx') continue;
    add(`build:${c.name}`, 'build', [`patch:${c.name}`], { options: c.options, pcreJit: c.name === 'pcre2' ? pcreJit : undefined, toolchain, builder: BUILDER_VERSION }, c.name);
  }
  const depBuilds = components.filter((c) => c.name !== 'nginx').map((c) => `build:${c.name}`);
  add('configure:nginx', 'configure', ['patch:nginx', ...depBuilds], { configureArgs, toolchain, builder: BUILDER_VERSION }, 'nginx');
  add('compile:nginx', 'compile', ['configure:nginx'], {}, 'nginx');
  add('install:nginx', 'install', ['compile:nginx'], {}, 'nginx');
  add('verify', 'verify', ['install:nginx'], { ktls: p.ktls, versions: components.map((c) => [c.name, c.version]) });
  add('smoke', 'smoke', ['install:nginx'], { ktls: p.ktls });
  add('package', 'package', ['install:nginx', 'verify'], {
    licenses: components.map((c) => [c.name, c.license, c.licenseFiles]),
    // what the manifest and SBOM say beyond the bytes: identities, resolved CVEs, the SBOM layout
    sbom: { format: 2, identity: components.map((c) => c.identity), cves: patches.map((x) => x.cves), sets: patchSets.map((s) => s.artifact.file) },
  });
  return stages;
}
