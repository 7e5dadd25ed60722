// Resolve a profile into a BuildPlan. Pure: reads recipe and patch files, no network, no writes.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { RecipeError, UsageError, type RecipeProblem } from '../errors.ts';
import type { BuildPlan, PlanComponent, PlanInstall, PlanPatch, PlanPatchSet, PlanStage, PlanVariant, StageKind } from '../plan.ts';
import { configureSwitches } from './commands.ts';
import { fillConsume } from './consume.ts';
import { ownableDirProblem, pathProblem } from './safe.ts';
import { TEMP_PATHS, tempKind } from '../nginxconf.ts';
import { distroSource, librariesFor, modules, stageId } from '../plan.ts';
import type { Bootstrap, BuildSpec, ComponentName, ComponentRecipe, ProfileRecipe } from './schema.ts';
import { isCross, nginxCrossbuild, targetOf, type Target } from '../target.ts';
import { vmKernelRecipe } from './vmkernel.ts';
import { codeOf } from '../kinds.ts';
import { hashOf, sha256Hex } from '../hash.ts';
import { hardeningFor, sanitizedCflags, type Hardening } from '../hardening.ts';
import { sanitizerEnv, sanitizersOf } from '../nginxtests/sanitizers.ts';
import { loadTestSuite } from '../nginxtests/suite.ts';
import type { TestStageInputs } from '../stages/test.ts';
import { BUILTIN_PATCHES, compareVersions, displayPath, fieldPath, knownVersions, type RecipeSet } from './load.ts';

export interface ResolveOptions {
  /** `--set name=version` overrides, as given on the command line. */
  set?: string[];
  patchesDir?: string;
  /** Facts about the build host (compiler version, ...) that must feed the cache keys. */
  toolchain?: Record<string, string>;
  /**
   * The versions of the bootstrap tools (recipe `versions.<v>.bootstrap.run`, e.g. autoconf's
   * `--version` line): only the key of a library whose pinned version bootstraps gets its tool's.
   */
  bootstrapTools?: Record<string, string>;
  /** `--target`: the GNU triple to build for instead of the profile's "target" (default: the host's). */
  target?: string;
  /** `--prefix`: nginx install prefix instead of the profile's. */
  prefix?: string;
  /** `build --test [--test-files GLOB...]`: add the stage `test` (nginx's test suite against the binary). */
  tests?: { files?: string[]; unsafe?: boolean };
}

export function parseSets(sets: string[] = [], recipes: RecipeSet): Partial<Record<ComponentName, string>> {
  const out: Partial<Record<ComponentName, string>> = {};
  for (const s of sets) {
    const m = /^([a-z0-9-]+)=(.+)$/.exec(s);
    if (!m) throw new UsageError(`--set ${s}: expected <component>=<version>, e.g. --set openssl=3.5.9`);
    const name = m[1]!;
    if (!recipes.components.has(name)) {
      throw new UsageError(`--set ${s}: unknown component "${name}" (known: ${[...recipes.components.keys()].sort().join(', ')})`);
    }
    const known = knownVersions(recipes, name);
    if (!known.includes(m[2]!)) {
      throw new UsageError(
        `--set ${s}: ${name} ${m[2]} is not in the catalog (known: ${known.join(', ')})`,
        `add it to ${displayPath(path.join(recipes.dir, 'components', `${name}.json`))} with its sha256, or pick a known version`,
      );
    }
    out[name] = m[2]!;
  }
  return out;
}

/** Pass 2 for a profile: components exist with their versions, one server, kTLS prerequisites hold. */
function checkProfile(file: string, p: ProfileRecipe, recipes: RecipeSet, versions: Record<ComponentName, string>): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  const roles = new Map<string, string[]>();
  for (const [name, v] of Object.entries(versions)) {
    const entry = recipes.components.get(name);
    if (!entry) {
      problems.push({ file, path: fieldPath(['components', name]), message: `no recipe for "${name}" (known: ${[...recipes.components.keys()].sort().join(', ')}); add recipes/components/${name}.json` });
      continue;
    }
    const known = knownVersions(recipes, name);
    if (!known.includes(v)) {
      problems.push({ file, path: fieldPath(['components', name, 'version']), message: `unknown version "${v}" (known: ${known.join(', ')})` });
    }
    const r = entry.recipe;
    roles.set(r.role, [...(roles.get(r.role) ?? []), name]);
    if ((r.role === 'tls' || r.role === 'library') && (!r.build || !r.nginx)) {
      problems.push({ file: entry.file, path: r.build ? 'nginx' : 'build', message: `a ${r.role} component needs "build" and "nginx" (how it is compiled and how nginx consumes it)` });
    }
    if (r.build?.compilerFlags === 'CFLAGS' && r.build.env.CFLAGS === null && p.hardening.length) {
      problems.push({ file: entry.file, path: 'build.compilerFlags', message: `is "CFLAGS" but build.env unsets CFLAGS: the profile's hardening flags would never reach the compiler; set "compilerFlags": "arguments" (flags as configure arguments) or stop unsetting CFLAGS` });
    }
    problems.push(...checkModulePin(file, p, recipes, name, entry));
  }
  const servers = roles.get('server') ?? [];
  if (servers.length !== 1) {
    problems.push({ file, path: 'components', message: `needs exactly one server component (nginx), found ${servers.length ? servers.join(', ') : 'none'}` });
  }
  const tls = roles.get('tls') ?? [];
  if (tls.length > 1) problems.push({ file, path: 'components', message: `at most one TLS library, found ${tls.join(', ')}` });
  const sslModule = p.nginx.modules.includes('--with-http_ssl_module');
  if (p.ktls) {
    if (!sslModule) problems.push({ file, path: fieldPath(['nginx', 'modules']), message: 'a kTLS profile needs "--with-http_ssl_module"' });
    if (!tls.length) problems.push({ file, path: 'components', message: 'a kTLS profile needs a TLS library component (role "tls", e.g. openssl)' });
  }
  for (const name of [...servers, ...tls]) {
    const r = recipes.components.get(name)!.recipe;
    const v = versions[name]!;
    const opts = p.components[name]?.options ?? [];
    const option = r.ktls?.option;
    const wants = option ? opts.includes(option) : false;
    if (r.role === 'tls' && option) {
      if (p.ktls && !wants) problems.push({ file, path: fieldPath(['components', name, 'options']), message: `profile has "ktls": true, so ${r.displayName ?? name} options must include "${option}"` });
      if (!p.ktls && wants) problems.push({ file, path: fieldPath(['components', name, 'options']), message: `contains "${option}" but the profile has "ktls": false; set one or the other` });
    }
    if (p.ktls && r.role === 'tls' && !r.ktls) problems.push({ file, path: fieldPath(['components', name]), message: `${name} cannot do kernel TLS (its recipe has no "ktls")` });
    if ((p.ktls || wants) && r.ktls && compareVersions(v, r.ktls.minVersion) < 0) {
      const what = r.role === 'server' ? `has no SSL_sendfile support; kTLS needs ${r.displayName ?? name} ${r.ktls.minVersion} or later` : `cannot do kernel TLS; kTLS needs ${r.displayName ?? name} ${r.ktls.minVersion} or later`;
      problems.push({ file, path: fieldPath(['components', name, 'version']), message: `${r.displayName ?? name} ${v} ${what}` });
    }
  }
  const seen = new Set([...servers]);
  for (const [i, v] of (p.nginx.variants ?? []).entries()) {
    const at = (...k: (string | number)[]) => fieldPath(['nginx', 'variants', i, ...k]);
    if (seen.has(v.name)) problems.push({ file, path: at('name'), message: `"${v.name}" is taken (the server's name or another variant's): a variant is installed beside nginx under its own name, e.g. "nginx-debug"` });
    seen.add(v.name);
    for (const [j, f] of v.modules.entries()) {
      if (p.nginx.modules.includes(f)) problems.push({ file, path: at('modules', j), message: `${f} is already in nginx.modules: a variant lists only the flags it adds to the production build` });
    }
  }
  for (const k of Object.keys(p.nginx.paths)) {
    if (!/^[a-z-]+-path$/.test(k)) problems.push({ file, path: fieldPath(['nginx', 'paths', k]), message: 'must be a configure path option name ending in "-path", e.g. "conf-path"' });
  }
  return problems;
}

/** Where each product file of the profile lands (a file, or the modules directory), and how the packages own its directory. */
const ownedFiles = (): { key: string; what: string; how: string; at: (i: PlanInstall) => string; example: string; isDir?: boolean }[] => [
  { key: 'error-log-path', what: 'the error log', how: 'own, rotate (logrotate) and remove on purge', at: (i) => i.errorLog, example: '/var/log/nginx/error.log' },
  { key: 'http-log-path', what: 'the access log', how: 'own, rotate (logrotate) and remove on purge', at: (i) => i.accessLog, example: '/var/log/nginx/access.log' },
  ...Object.entries(TEMP_PATHS).map(([key, d]) => ({ key, what: `the ${d} files`, how: 'own and remove on purge', at: (i: PlanInstall) => i.temp[d]!, example: `/var/lib/nginx/${tempKind(d).replace(/^client_/, '')}` })),
  { key: 'conf-path', what: 'the configuration tree (conf.d/, sites-*/, modules-enabled/)', how: 'own', at: (i) => i.conf, example: '/etc/nginx/nginx.conf' },
  { key: 'modules-path', what: 'the dynamic modules', how: 'own', at: (i) => i.modules, example: '/usr/lib/nginx/modules', isDir: true },
];

/**
 * Pass 2, install paths: every directory a package creates, owns, rotates or removes on purge (log
 * and temp directories, the configuration directory, the modules path) is nginx's own, never a
 * system directory (safe.ts): "error-log-path": "/var/log/nginx-error.log" made the .deb's postrm
 * remove /var/log and logrotate take over every /var/log/*.log. A path the profile leaves out
 * defaults below the prefix, so then the prefix (or --prefix) is named.
 */
function checkOwnedDirs(file: string, p: ProfileRecipe, prefixFlag?: string): RecipeProblem[] {
  if (pathProblem(p.nginx.prefix) || Object.values(p.nginx.paths).some((v) => pathProblem(v))) return []; // pass 1 said why
  const problems: RecipeProblem[] = [];
  const install = installPaths(p.nginx.prefix, p.nginx.paths);
  for (const o of ownedFiles()) {
    const at = o.at(install);
    const dir = o.isDir ? at : path.posix.dirname(at);
    const why = ownableDirProblem(dir);
    if (!why) continue;
    const given = p.nginx.paths[o.key];
    const expected = `packages ${o.how} the directory of ${o.what}, so it must be one of nginx's own`;
    if (given !== undefined) {
      problems.push({ file, path: fieldPath(['nginx', 'paths', o.key]), message: `"${given}" puts ${o.what} ${o.isDir ? 'into' : 'directly into'} ${dir}: ${why}; ${expected}, e.g. "${o.example}"` });
    } else if (prefixFlag !== undefined) {
      throw new UsageError(`--prefix ${prefixFlag}: ${file} leaves "${o.key}" out, so nginx puts ${o.what} at ${at} below the prefix: ${why}; ${expected}`, `give another --prefix, e.g. --prefix /usr/share/nginx, or set nginx.paths["${o.key}"] in ${file}, e.g. "${o.example}"`);
    } else {
      problems.push({ file, path: fieldPath(['nginx', 'prefix']), message: `"${p.nginx.prefix}" puts ${o.what} at ${at} ("${o.key}" is not set, so it defaults below the prefix): ${why}; ${expected}: set nginx.paths["${o.key}"], e.g. "${o.example}", or another prefix` });
    }
  }
  return problems;
}

/**
 * A module's pin: `link` is set (and one the recipe allows), a dynamic module has --with-compat,
 * the libraries it requires are in the profile; a non-module has no `link`.
 */
function checkModulePin(file: string, p: ProfileRecipe, recipes: RecipeSet, name: ComponentName, entry: { file: string; recipe: ComponentRecipe }): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  const r = entry.recipe;
  const pin = p.components[name]!;
  const at = (...k: string[]) => fieldPath(['components', name, ...k]);
  if (r.role !== 'module') {
    if (pin.link) problems.push({ file, path: at('link'), message: `only modules are linked statically or dynamically; ${name} is a ${r.role} component: remove "link"` });
    if (r.module) problems.push({ file: entry.file, path: 'module', message: `only a component with "role": "module" has a "module" section (this one is a ${r.role})` });
    return problems;
  }
  if (!r.module || !r.nginx) {
    problems.push({ file: entry.file, path: r.module ? 'nginx' : 'module', message: 'a module component needs "module" (what it builds) and "nginx" (its placement next to nginx\'s tree)' });
  }
  if (r.build) problems.push({ file: entry.file, path: 'build', message: 'a module is compiled by nginx\'s own make, not by a builder: remove "build" (put the libraries it needs in their own components, listed in module.requires)' });
  if (!pin.link) {
    problems.push({ file, path: at('link'), message: `choose how ${r.displayName ?? name} is linked: "link": "static" (--add-module, inside the binary) or "dynamic" (--add-dynamic-module, a .so loaded with load_module)` });
  } else if (r.module && !r.module.links.includes(pin.link)) {
    problems.push({ file, path: at('link'), message: `${r.displayName ?? name} cannot be linked ${pin.link} (its recipe allows: ${r.module.links.join(', ')})` });
  }
  if (pin.link === 'dynamic' && !p.nginx.modules.includes('--with-compat')) {
    problems.push({ file, path: fieldPath(['nginx', 'modules']), message: `${name} is a dynamic module: add "--with-compat" (a dynamic module must be built against a binary configured for it)` });
  }
  if (pin.options.length) problems.push({ file, path: at('options'), message: 'a module has no configure of its own: remove "options"' });
  for (const [i, dep] of (r.module?.requires ?? []).entries()) {
    const d = recipes.components.get(dep);
    if (!p.components[dep]) {
      problems.push({ file, path: at(), message: `${name} needs the library ${dep} (module.requires[${i}] of ${entry.file}): add "${dep}" to the profile's components` });
    } else if (d && d.recipe.role !== 'library' && d.recipe.role !== 'tls') {
      problems.push({ file: entry.file, path: fieldPath(['module', 'requires', i]), message: `${dep} is a ${d.recipe.role} component; a module requires libraries` });
    }
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

/**
 * nginx's ./configure arguments: the profile's prefix, paths and modules, then what each library's
 * recipe says nginx needs (in profile order), then one --with-cc-opt and one --with-ld-opt.
 */
export function nginxConfigureArgs(p: ProfileRecipe, components: PlanComponent[], extraFlags: string[] = [], hardening: Pick<Hardening, 'cflags' | 'ldflags'> = { cflags: [], ldflags: [] }): string[] {
  const libs = components.filter((c) => c.role !== 'server' && c.consume);
  const args = [`--prefix=${p.nginx.prefix}`];
  for (const [k, v] of Object.entries(p.nginx.paths)) args.push(`--${k}=${v}`);
  args.push(...p.nginx.modules, ...extraFlags);
  for (const c of libs) args.push(...c.consume!.configureArgs.map((t) => fillConsume(t, c)));
  for (const c of components) {
    if (c.role !== 'module' || !c.module || !c.layout) continue;
    const dir = path.posix.join('..', c.layout, c.module.configDir);
    args.push(c.module.link === 'dynamic' ? `--add-dynamic-module=${dir}` : `--add-module=${dir}`);
  }
  // the profile's hardening flags right after its own options (the same flags every library gets)
  const cc = [...p.nginx.ccOpt, ...hardening.cflags, ...libs.flatMap((c) => c.consume!.ccOpt.map((t) => fillConsume(t, c)))];
  const ld = [...p.nginx.ldOpt, ...hardening.ldflags, ...libs.flatMap((c) => c.consume!.ldOpt.map((t) => fillConsume(t, c)))];
  if (cc.length) args.push(`--with-cc-opt=${cc.join(' ')}`);
  if (ld.length) args.push(`--with-ld-opt=${ld.join(' ')}`);
  return args;
}

/**
 * Install paths from the profile's prefix and paths; a path the profile leaves out gets nginx's own
 * default (auto/options: relative to the prefix). Packaging reads these instead of the configure argv.
 */
export function installPaths(prefix: string, paths: Record<string, string>, user = 'nginx'): PlanInstall {
  const at = (key: string, dflt: string) => {
    const v = paths[key] ?? dflt;
    return v.startsWith('/') ? v : path.posix.join(prefix, v);
  };
  const conf = at('conf-path', 'conf/nginx.conf');
  const errorLog = at('error-log-path', 'logs/error.log');
  const accessLog = at('http-log-path', 'logs/access.log');
  const pid = at('pid-path', 'logs/nginx.pid');
  const lock = at('lock-path', 'logs/nginx.lock');
  const temp = Object.fromEntries(Object.entries(TEMP_PATHS).map(([k, d]) => [d, at(k, `${tempKind(d)}_temp`)]));
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  return {
    prefix,
    sbin: at('sbin-path', 'sbin/nginx'),
    conf,
    confDir: path.posix.dirname(conf),
    modules: at('modules-path', 'modules'),
    errorLog,
    accessLog,
    pid,
    lock,
    temp,
    logDirs: uniq([errorLog, accessLog].map((p) => path.posix.dirname(p))),
    tempDirs: uniq(Object.values(temp).map((p) => path.posix.dirname(p))),
    runDirs: uniq([pid, lock].map((p) => path.posix.dirname(p))),
    html: path.posix.join(prefix, 'html'),
    user,
    group: user,
    service: 'nginx',
  };
}

export function resolvePlan(recipes: RecipeSet, profileName: string, opts: ResolveOptions = {}): BuildPlan {
  const entry = recipes.profiles.get(profileName);
  if (!entry) {
    throw new UsageError(`unknown profile "${profileName}" (known: ${[...recipes.profiles.keys()].sort().join(', ')})`, `profiles live in ${displayPath(path.join(recipes.dir, 'profiles'))}`);
  }
  const { file } = entry;
  const p: ProfileRecipe = opts.prefix ? { ...entry.recipe, nginx: { ...entry.recipe.nginx, prefix: opts.prefix } } : entry.recipe;
  const prefixProblem = opts.prefix === undefined ? undefined : pathProblem(opts.prefix, '/usr/share/nginx');
  if (prefixProblem) throw new UsageError(`--prefix: ${prefixProblem}`, 'give an absolute, normalised path of letters, digits and / . _ + ~ -, e.g. --prefix /usr/share/nginx');
  const overrides = parseSets(opts.set, recipes);
  for (const name of Object.keys(overrides)) {
    if (!p.components[name]) throw new UsageError(`--set ${name}=${overrides[name]}: profile ${p.name} does not use ${name} (it uses ${Object.keys(p.components).join(', ')})`);
  }
  const names = Object.keys(p.components);
  const versions = Object.fromEntries(names.map((n) => [n, overrides[n] ?? p.components[n]!.version])) as Record<ComponentName, string>;
  const problems = [...checkProfile(file, p, recipes, versions), ...checkOwnedDirs(file, p, opts.prefix)];
  if (problems.length) throw new RecipeError(problems);

  const target = targetOf(opts.target ?? p.target, opts.target ? '--target' : `${displayPath(file)}: "target"`);
  const cross = isCross(target);
  const patchesDir = opts.patchesDir ?? BUILTIN_PATCHES;
  const components: PlanComponent[] = [];
  const patches: PlanPatch[] = [];
  const patchSets: PlanPatchSet[] = [];
  for (const name of names) {
    const cr = recipes.components.get(name)!.recipe;
    const version = versions[name]!;
    const v = cr.versions[version]!;
    const first = v.artifacts[0]!;
    const flagOptions = Object.entries(cr.build?.flagOptions ?? {}).flatMap(([flag, o]) => (p.nginx.modules.includes(flag) ? o : []));
    components.push({
      name,
      displayName: cr.displayName ?? name,
      description: cr.description,
      homepage: cr.homepage,
      role: cr.role,
      version,
      sha256: first.sha256,
      artifacts: v.artifacts,
      sources: v.artifacts.flatMap((a) => [
        ...a.urls.map((url) => ({ url, sha256: a.sha256 })),
        ...(a.distro ? [{ url: distroSource(a.distro), sha256: a.sha256 }] : []),
      ]),
      options: [...flagOptions.filter((o) => !p.components[name]!.options.includes(o)), ...p.components[name]!.options],
      license: cr.license,
      licenseFiles: cr.licenseFiles,
      topdir: first.topdir,
      ...(cr.build ? buildOf(cr.build, cross ? target.triple : undefined, v.bootstrap) : {}),
      consume: cr.nginx,
      layout: cr.nginx ? (cr.nginx.placement === 'source' ? first.topdir : `deps/${name}`) : undefined,
      verify: cr.verify,
      ktls: cr.ktls,
      identity: cr.identity,
      ...(v.tag ? { tag: v.tag } : {}),
      ...(cr.role === 'module' && cr.module ? { module: { ...cr.module, link: p.components[name]!.link! } } : {}),
    });
    for (const [si, set] of v.patchSets.entries()) {
      patchSets.push({ component: name, name: set.name, description: set.description, artifact: set.artifact });
      for (const [pi, ref] of set.patches.entries()) {
        // a not_affected claim names a switch this recipe's build really has (a typo would silently say fixed)
        const sw = ref.notCompiled?.switch;
        if (sw && !(cr.build ? [...cr.build.args, ...cr.build.trim] : []).includes(sw)) {
          problems.push({
            file: recipes.components.get(name)!.file,
            path: fieldPath(['versions', version, 'patchSets', si, 'patches', pi, 'notCompiled', 'switch']),
            message: `"${sw}" is not one of this component's build.args or build.trim switches${cr.build ? '' : ' (it has no build of its own)'}: name the configure switch that leaves the code out, as build.trim spells it`,
          });
        }
        patches.push({
          component: name,
          id: `${set.name}/${ref.file}`,
          sha256: ref.sha256,
          strip: set.strip,
          cves: ref.cves,
          ...(ref.notCompiled ? { notCompiled: ref.notCompiled } : {}),
          origin: { kind: 'patchset', patchSet: set.name, path: path.posix.join(set.dir, ref.file) },
        });
      }
    }
    const local = discoverPatches(patchesDir, name, version);
    problems.push(...local.problems);
    patches.push(...local.patches);
  }
  if (problems.length) throw new RecipeError(problems);

  const toolchain = opts.toolchain ?? {};
  // the one place the target's architecture picks the hardening flags (cet only on x86_64)
  const hardening = hardeningFor(p.hardening, cross ? target.nodeArch : (toolchain.arch ?? process.arch));
  const nginxHardening = { cflags: p.sanitizers ? sanitizedCflags(hardening) : hardening.cflags, ldflags: hardening.ldflags };
  const crossArgs = cross ? crossConfigureArgs(target) : [];
  const configureArgs = nginxConfigureArgs(p, components, crossArgs, nginxHardening);
  const install = installPaths(p.nginx.prefix, p.nginx.paths);
  const variants: PlanVariant[] = (p.nginx.variants ?? []).map((v) => ({
    name: v.name,
    description: v.description,
    configureArgs: nginxConfigureArgs(p, components, [...crossArgs, ...v.modules], nginxHardening),
    flags: v.modules,
    sbin: path.posix.join(path.posix.dirname(install.sbin), v.name),
    debug: p.nginx.modules.includes('--with-debug') || v.modules.includes('--with-debug'),
  }));
  const sanitizers = sanitizersOf(configureArgs);
  if (Boolean(p.sanitizers) !== sanitizers.length > 0) {
    throw new RecipeError([{ file, path: 'sanitizers', message: p.sanitizers ? 'is true but nginx.ccOpt/ldOpt have no -fsanitize= option' : `nginx is compiled with -fsanitize=${sanitizers.join(',')}: set "sanitizers": true (a diagnostic build, not shipped)` }]);
  }
  let tests: TestStageInputs | undefined;
  if (opts.tests) {
    const suite = loadTestSuite(recipes.dir).recipe;
    const files = [...new Set((opts.tests.files ?? []).map((g) => g.replace(/^\.\//, '')))].sort();
    if (files.some((g) => !g || g.includes('/'))) throw new UsageError(`--test-files ${opts.tests.files!.join(' ')}: each is a glob on a test file name, e.g. 'ssl*.t' (no directories)`);
    tests = {
      suite: { name: suite.name, commit: suite.commit, treeSha256: suite.artifact.treeSha256, sha256: suite.artifact.sha256 },
      files,
      unsafe: Boolean(opts.tests.unsafe),
      env: sanitizerEnv(sanitizersOf(configureArgs)),
    };
  }
  const stages = planStages({ components, patches, patchSets, configureArgs, variants, toolchain, bootstrapTools: opts.bootstrapTools ?? {}, hardening, ktls: p.ktls, recipesDir: recipes.dir, tests, target: cross ? target.triple : undefined });
  // a local patch is hashed by its path inside the checkout (its id) and content, not where the checkout is
  const hashedPatches = patches.map((x) => (x.origin.kind === 'local' ? { ...x, origin: { kind: 'local', path: x.id } } : x));
  const body = { profile: p.name, components, configureArgs, variants, patches: hashedPatches, stages: stages.map((s) => s.key), toolchain, ...(cross ? { target: target.triple } : {}) };
  return {
    profile: p.name,
    description: p.description,
    extends: entry.extends,
    resolvedProfile: p,
    ktls: p.ktls,
    recipesDir: recipes.dir,
    patchesDir,
    components,
    configureArgs,
    nginxFlags: p.nginx.modules,
    install,
    variants,
    patches,
    patchSets,
    stages,
    toolchain,
    hardening,
    target,
    cross,
    planHash: hashOf(body),
  };
}

interface GraphInput {
  components: PlanComponent[];
  patches: PlanPatch[];
  patchSets: PlanPatchSet[];
  configureArgs: string[];
  variants: PlanVariant[];
  toolchain: Record<string, string>;
  bootstrapTools: Record<string, string>;
  hardening: Hardening;
  ktls: boolean;
  recipesDir: string;
  /** the test stage's inputs, when asked for (build --test) */
  tests?: TestStageInputs;
  /** a cross build's target triple (undefined for the host's own: its keys stay what they were) */
  target?: string;
}

/**
 * A recipe's build data as the plan carries it: the per-target `cross` table taken out, and the
 * entry of a cross build's target put beside it; the pinned version's `bootstrap` put in (a
 * version without one, and a native plan, give the components they gave before).
 */
function buildOf(b: BuildSpec, triple: string | undefined, bootstrap?: Bootstrap): Pick<PlanComponent, 'build' | 'cross'> {
  const { cross, ...build } = b;
  const mine = triple ? (cross[triple] ?? { args: [], host: true }) : undefined;
  return { build: bootstrap ? { ...build, bootstrap } : build, ...(mine ? { cross: mine } : {}) };
}

/**
 * What nginx's ./configure is told in a cross build: the platform (its auto/os tests then follow
 * the target's, not `uname`'s) and the cross compiler. Both show in `nginx -V`, as they should.
 */
export function crossConfigureArgs(t: Target): string[] {
  return [`--crossbuild=${nginxCrossbuild(t)}`, `--with-cc=${t.triple}-gcc`];
}

/**
 * The smoke test's own pins: the VM kernel recipe decides the verdict as much as the binary, and
 * the pinned nginx-tests is its HTTP/3 client (Test::Nginx::HTTP3).
 */
function smokePins(recipesDir: string, triple: string | undefined): string {
  const pin = (f: string) => (existsSync(f) ? sha256Hex(readFileSync(f)) : 'none');
  const kernel = pin(path.join(recipesDir, 'vm', vmKernelRecipe(targetOf(triple))));
  const suite = pin(path.join(recipesDir, 'testsuites', 'nginx-tests.json'));
  return suite === 'none' ? kernel : `${kernel} h3-client:${suite}`;
}

/**
 * The stage graph. key = hash(own inputs + code of the stage kind + keys of the stages it depends
 * on), as in BitBake: change one component's version and only that component's stages and what
 * follows them change key. Each component is fetched on its own.
 */
function planStages(g: GraphInput): PlanStage[] {
  const stages: PlanStage[] = [];
  const keys = new Map<string, string>();
  // a cross build's compiling stages also name the target (and a library its cross data); a
  // native build's inputs are exactly what they were before targets existed
  const crossInputs = (c?: PlanComponent) => (g.target ? { target: g.target, ...(c?.cross ? { cross: c.cross } : {}) } : {});
  // the id is the kind and the component's or binary's name, spelled by stageId alone
  const add = (kind: StageKind, name: string | undefined, deps: string[], inputs: unknown, component?: ComponentName, variant?: string) => {
    const id = stageId(kind, name);
    const keyInputs = { inputs, code: codeOf(kind), deps: Object.fromEntries(deps.map((d) => [d, keys.get(d)!])) };
    const key = hashOf({ id, ...keyInputs });
    keys.set(id, key);
    stages.push({ id, kind, component, key, deps, keyInputs, ...(variant ? { variant } : {}) });
  };
  const nginx = g.components.find((c) => c.role === 'server')!;
  for (const c of g.components) {
    const sets = g.patchSets.filter((s) => s.component === c.name);
    add('fetch', c.name, [], { artifacts: c.artifacts.map((a) => a.sha256), patchSets: sets.map((s) => s.artifact.sha256) }, c.name);
    add('extract', c.name, [stageId('fetch', c.name)], { topdir: c.topdir }, c.name);
    const own = g.patches.filter((x) => x.component === c.name).map((x) => ({ id: x.id, sha256: x.sha256, strip: x.strip }));
    add('patch', c.name, [stageId('extract', c.name)], own, c.name);
    if (c.role === 'tls' || c.role === 'library') {
      // a version that bootstraps (its build.bootstrap) also names its tool's version; no other key does
      const tool = c.build?.bootstrap ? { bootstrapTool: g.bootstrapTools[c.build.bootstrap.run] ?? 'unknown' } : {};
      add('library', c.name, [stageId('patch', c.name)], { build: c.build, options: c.options, licenseFiles: c.licenseFiles, toolchain: g.toolchain, hardening: g.hardening.cflags, ...crossInputs(c), ...tool }, c.name);
    }
  }
  const libsFor = (phase: 'configure' | 'make') => librariesFor(g, phase).map((c) => stageId('library', c.name));
  // a module's patched source tree is placed next to nginx's at configure (no stage of its own)
  const mods = modules(g);
  // nginx's own stages, once for the production binary and once per twin (variant): every
  // dependency stage above is shared, only the configure arguments and the binary's name differ
  const layout = g.components.map((c) => [c.name, c.layout ?? null, c.consume?.newerThanMakefile ?? []]);
  for (const v of [{ name: nginx.name, configureArgs: g.configureArgs, variant: undefined as string | undefined }, ...g.variants.map((v) => ({ ...v, variant: v.name }))]) {
    add('configure', v.name, [stageId('patch', nginx.name), ...mods.map((m) => stageId('patch', m.name)), ...libsFor('configure')], { configureArgs: v.configureArgs, layout, toolchain: g.toolchain, ...crossInputs() }, nginx.name, v.variant);
    add('compile', v.name, [stageId('configure', v.name), ...libsFor('make')], {}, nginx.name, v.variant);
    add('install', v.name, [stageId('compile', v.name)], { licenseFiles: nginx.licenseFiles, modules: mods.map((m) => [m.name, m.licenseFiles]), ...(v.variant ? { binary: v.name } : {}) }, nginx.name, v.variant);
  }
  const installs = [stageId('install', nginx.name), ...g.variants.map((v) => stageId('install', v.name))];
  const variantFacts = g.variants.map((v) => [v.name, v.configureArgs, v.debug]);
  const moduleFacts = mods.map((m) => [m.name, m.module]);
  const expectations = { ktls: g.ktls, hardening: g.hardening.protections, configureArgs: g.configureArgs, variants: variantFacts, components: g.components.map((c) => [c.name, c.version, c.role, c.verify, c.ktls ?? null]), modules: moduleFacts };
  add('verify', undefined, installs, expectations);
  add('smoke', undefined, installs, { ktls: g.ktls, vmKernel: smokePins(g.recipesDir, g.target), modules: moduleFacts, variants: variantFacts });
  // the suite's pin, the file selection and the environment (sanitizer options); the binary comes in by the install key
  if (g.tests) add('test', undefined, [stageId('install', nginx.name)], g.tests);
  add('artifacts', undefined, [...installs, stageId('verify')], {
    variants: variantFacts,
    components: g.components.map((c) => [c.name, c.version, c.license, c.licenseFiles, c.homepage, c.description, c.artifacts.map((a) => a.sha256)]),
    patches: g.patches.map((x) => [x.id, x.sha256]),
    patchSets: g.patchSets.map((s) => [s.name, s.description, s.artifact.sha256, s.artifact.file]),
    // what the manifest and SBOM say beyond the bytes: identities and resolved CVEs
    sbom: {
      identity: g.components.map((c) => [c.identity ?? null, c.tag ?? null]),
      cves: g.patches.map((x) => [x.cves, x.notCompiled ?? null]),
      // the libraries' configure switches: recorded, and what a not_affected claim is checked against
      configure: g.components.filter((c) => c.build).map((c) => [c.name, configureSwitches(c)]),
    },
    modules: mods.map((m) => [m.name, m.module.link, m.module.names]),
    toolchain: g.toolchain,
  });
  return stages;
}
