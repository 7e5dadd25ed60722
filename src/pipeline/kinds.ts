// The stage kinds: for each, how its output is kept and which source files decide what it
// produces. This is the light half of the registry: the plan (pure) reads it to compute keys;
// the runner pairs it with the implementations in ./registry.ts. Nothing else lists stage kinds.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StageKind } from '../plan.ts';

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
  /**
   * Source files and folders (relative to src/) whose code decides this stage's output. Their
   * content is part of the key: changing the builder rebuilds, no hand-bumped version needed.
   * fetch has none: its output is fixed by the pinned sha256, whatever code fetched it.
   */
  code: string[];
}

export const KINDS: Record<StageKind, KindInfo> = {
  fetch: { cache: 'none', title: 'fetch {c}', job: false, code: [] },
  extract: { cache: 'none', title: 'extract {c}', job: false, code: ['stages/extract.ts'] },
  patch: { cache: 'none', title: 'patch {c}', job: false, code: ['stages/patch.ts'] },
  library: { cache: 'dir', title: 'build {c}', job: true, code: ['stages/library.ts', 'pipeline/env.ts'] },
  configure: { cache: 'none', title: 'configure {c}', job: true, code: ['stages/nginx.ts', 'pipeline/env.ts'] },
  compile: { cache: 'none', title: 'compile {c}', job: true, code: ['stages/nginx.ts', 'pipeline/env.ts'] },
  install: { cache: 'dir', title: 'install {c}', job: true, code: ['stages/nginx.ts'] },
  verify: { cache: 'result', title: 'verify the binary (nginx -V, symbols, linked libraries, nginx -t)', job: true, code: ['stages/verify.ts'] },
  smoke: { cache: 'result', title: 'smoke test: kTLS + SSL_sendfile, PCRE2 JIT, zlib-ng, jemalloc', job: true, code: ['stages/smoke.ts', 'smoke'] },
  test: { cache: 'result', title: "nginx's test suite (nginx-tests) against the binary", job: true, code: ['nginxtests', 'stages/test.ts'] },
  artifacts: { cache: 'dir', title: 'artifacts: tarball, manifest, SBOM, SHA256SUMS', job: true, code: ['stages/artifacts.ts', 'sbom.ts'] },
};

/** src/ of the project, also when this module runs compiled from dist/. */
export const SRC_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

function filesBelow(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((f) => filesBelow(path.join(p, f)));
}

const memo = new Map<string, string>();

/**
 * sha256 of a source file or folder below src/. The TypeScript sources are hashed even when the
 * compiled JavaScript runs, so the compiled CLI and tsx compute the same keys.
 */
export function codeHash(rel: string): string {
  let h = memo.get(rel);
  if (h) return h;
  const src = path.join(SRC_ROOT, rel);
  if (!existsSync(src)) throw new Error(`stage code ${rel} not found in ${SRC_ROOT}`);
  const hash = createHash('sha256');
  for (const f of filesBelow(src)) hash.update(`${path.relative(src, f)}\0`).update(readFileSync(f)).update('\0');
  h = hash.digest('hex');
  memo.set(rel, h);
  return h;
}

export function codeOf(kind: StageKind): Record<string, string> {
  return Object.fromEntries(KINDS[kind].code.map((f) => [f, codeHash(f)]));
}
