// The stage kinds: for each, how its output is kept and which module implements it. This table
// sits beside the plan's types (./plan.ts): the planner (recipes/resolve.ts) reads it to compute
// keys, the runner (pipeline/registry.ts) to load the implementations. Nothing else lists kinds.
//
// A stage's key covers the code it runs, derived, not listed: the import closure of the kind's
// implementation module (every source file below src/ that module can reach by a static or a
// literal dynamic import, found by esbuild's resolver, the one tsx runs the sources with). Edit
// any file of that closure (the shipped nginx.conf generator the smoke test serves, the error
// classes, the plan helpers) and exactly the kinds that reach it get new keys.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { StageKind } from './plan.ts';

/**
 * dir:    the output is a stage-cache entry (a directory), restored instead of re-run
 * result: the output is a JSON result kept in the stage cache (verify, smoke)
 * none:   never cached: runs whenever a stage that needs it runs (scratch trees, store lookups)
 */
export type CacheMode = 'dir' | 'result' | 'none';

export interface KindInfo {
  cache: CacheMode;
  /** Title in progress views; `{c}` is the component's display name. */
  title: string;
  /** Runs only while holding a job token (it keeps a CPU busy); false for I/O-only kinds. */
  job: boolean;
  /** The implementation module (relative to src/): it exports `implement(build context)`. */
  module: string;
  /**
   * Whether the module's import closure is part of the key. Only fetch says no: its output is
   * the pinned bytes (sha256 in the key), whatever code fetched them; keying it by its code would
   * rebuild every library when a download timeout changes.
   */
  keyedByCode: boolean;
}

const kind = (cache: CacheMode, title: string, job: boolean, name: string, keyedByCode = true): KindInfo => ({ cache, title, job, module: `stages/kinds/${name}.ts`, keyedByCode });

export const KINDS: Record<StageKind, KindInfo> = {
  fetch: kind('none', 'fetch {c}', false, 'fetch', false),
  extract: kind('none', 'extract {c}', false, 'extract'),
  patch: kind('none', 'patch {c}', false, 'patch'),
  library: kind('dir', 'build {c}', true, 'library'),
  configure: kind('none', 'configure {c}', true, 'configure'),
  compile: kind('none', 'compile {c}', true, 'compile'),
  install: kind('dir', 'install {c}', true, 'install'),
  verify: kind('result', 'verify the binary (nginx -V, symbols, linked libraries, nginx -t)', true, 'verify'),
  smoke: kind('result', 'smoke test: kTLS + SSL_sendfile, PCRE2 JIT, zlib-ng, jemalloc', true, 'smoke'),
  test: kind('result', "nginx's test suite (nginx-tests) against the binary", true, 'test'),
  artifacts: kind('dir', 'artifacts: tarball, manifest, SBOM, SHA256SUMS', true, 'artifacts'),
};

/** src/ of the project, also when this module runs compiled from lib/. */
export const SRC_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/**
 * The import closure of each module (relative paths below `srcRoot`), in one esbuild pass over
 * the TypeScript sources: type-only imports are not followed (they run no code), packages from
 * node_modules are outside (their versions are pinned by the lockfile). The sources are read
 * even when the compiled JavaScript runs, so the compiled CLI and tsx compute the same keys.
 */
export function importClosures(modules: string[], srcRoot = SRC_ROOT): Record<string, string[]> {
  for (const m of modules) if (!existsSync(path.join(srcRoot, m))) throw new Error(`stage code ${m} not found in ${srcRoot}`);
  const r = buildSync({
    absWorkingDir: srcRoot,
    entryPoints: Object.fromEntries(modules.map((m, i) => [`e${i}`, m])),
    bundle: true,
    write: false,
    metafile: true,
    splitting: false,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outdir: 'out',
    logLevel: 'silent',
  });
  const outputs = r.metafile!.outputs;
  return Object.fromEntries(
    modules.map((m, i) => {
      const out = Object.entries(outputs).find(([o]) => path.basename(o) === `e${i}.js`);
      if (!out) throw new Error(`no closure computed for ${m}`);
      return [m, Object.keys(out[1].inputs).map((f) => path.relative(srcRoot, path.resolve(srcRoot, f)).split(path.sep).join('/')).sort()];
    }),
  );
}

const memo = new Map<string, Record<StageKind, Record<string, string>>>();

/** Every kind's code: file (relative to src/) -> sha256, for the files of its closure. */
export function kindCode(srcRoot = SRC_ROOT): Record<StageKind, Record<string, string>> {
  let m = memo.get(srcRoot);
  if (m) return m;
  const kinds = Object.keys(KINDS) as StageKind[];
  const keyed = kinds.filter((k) => KINDS[k].keyedByCode);
  const closures = importClosures(keyed.map((k) => KINDS[k].module), srcRoot);
  const fileHash = new Map<string, string>();
  const hashOf = (rel: string) => {
    let h = fileHash.get(rel);
    if (!h) fileHash.set(rel, (h = createHash('sha256').update(readFileSync(path.join(srcRoot, rel))).digest('hex')));
    return h;
  };
  m = Object.fromEntries(kinds.map((k) => [k, KINDS[k].keyedByCode ? Object.fromEntries(closures[KINDS[k].module]!.map((f) => [f, hashOf(f)])) : {}])) as Record<StageKind, Record<string, string>>;
  memo.set(srcRoot, m);
  return m;
}

export const codeOf = (k: StageKind, srcRoot = SRC_ROOT): Record<string, string> => kindCode(srcRoot)[k];
