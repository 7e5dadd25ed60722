// The arrows between modules run one way: no import circles anywhere in src/, and the pure
// planner reaches nothing of the runner. Read from the sources by the same resolver the stage
// keys use (src/kinds.ts importClosures), so what is checked is what runs.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { importClosures, SRC_ROOT } from '../src/kinds.ts';

const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)) : f.endsWith('.ts') ? [path.join(dir, f)] : []));

/** module -> the modules it imports (relative to src/), value imports only, static and literal dynamic. */
function importGraph(): Map<string, string[]> {
  const r = buildSync({ absWorkingDir: SRC_ROOT, entryPoints: files(SRC_ROOT).map((f) => path.relative(SRC_ROOT, f)), bundle: true, write: false, metafile: true, packages: 'external', platform: 'node', format: 'esm', outdir: 'out', logLevel: 'silent' });
  return new Map(Object.entries(r.metafile.inputs).map(([f, i]) => [f, i.imports.filter((x) => !x.external).map((x) => x.path)]));
}

/** The imports from modules matching `from` of modules matching `to`, as "a -> b" lines. */
function arrows(g: Map<string, string[]>, from: RegExp, to: RegExp): string[] {
  return [...g].filter(([m]) => from.test(m)).flatMap(([m, deps]) => deps.filter((d) => to.test(d)).map((d) => `${m} -> ${d}`));
}

describe('layering', () => {
  it('every temp tree under $TMPDIR is made by tmpdirs.ts tempDir(), so its name records its owner and a killed run\'s tree is swept', () => {
    const offenders = files(SRC_ROOT)
      .filter((f) => !f.endsWith(`${path.sep}tmpdirs.ts`))
      .flatMap((f) => (/mkdtemp(Sync)?\(\s*path\.join\(\s*(os\.)?tmpdir\(\)/.test(readFileSync(f, 'utf8')) ? [path.relative(SRC_ROOT, f)] : []));
    // remote pull/push/sig and the bench's scratch trees were made by mkdtemp under os.tmpdir()
    expect(offenders).toEqual([]);
  });

  it('no import circles in src/', () => {
    const g = importGraph();
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (m: string, trail: string[]) => {
      if (state.get(m) === 'done') return;
      if (state.get(m) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(m)), m].join(' -> '));
        return;
      }
      state.set(m, 'open');
      for (const d of g.get(m) ?? []) visit(d, [...trail, m]);
      state.set(m, 'done');
    };
    for (const m of [...g.keys()].sort()) visit(m, []);
    expect(cycles).toEqual([]);
  });

  it('the planner (recipes/resolve.ts) reaches nothing of the runner, the stages or packaging', () => {
    const [closure] = Object.values(importClosures(['recipes/resolve.ts']));
    expect(closure!.filter((f) => /^(pipeline|stages|package|smoke|bench|commands)\//.test(f))).toEqual([]);
  });

  describe('shared pieces sit below the modules that share them', () => {
    const g = importGraph();
    it('bench/ imports nothing of commands/ (the plan from flags is flags/plan.ts, the fetch flags flags/fetch.ts)', () => {
      expect(arrows(g, /^bench\//, /^commands\//)).toEqual([]);
    });
    it('packaging and bench import nothing of stages/ (the library commands they write or run are recipes/commands.ts, pure)', () => {
      expect(arrows(g, /^(package|bench)\//, /^stages\//)).toEqual([]);
      const [closure] = Object.values(importClosures(['recipes/commands.ts']));
      expect(closure!.filter((f) => /^(stages|pipeline)\/|^exec\.ts$/.test(f))).toEqual([]);
    });
    it('the smoke test imports nothing of packaging (the shipped nginx.conf both use is conf/nginx.ts)', () => {
      expect(arrows(g, /^smoke\//, /^package\//)).toEqual([]);
      expect(arrows(g, /^conf\//, /^(package|smoke)\//)).toEqual([]);
    });
    it('fetch/ and the treehash command import nothing of stages/ (archive extraction is archive/)', () => {
      expect(arrows(g, /^(fetch\/|commands\/treehash\.ts$)/, /^stages\//)).toEqual([]);
      const [closure] = Object.values(importClosures(['archive/extract.ts']));
      expect(closure!.filter((f) => /^(stages|fetch|pipeline|commands)\//.test(f))).toEqual([]);
    });
    it('packaging imports nothing of the planner (the consume templates both fill are recipes/consume.ts, a leaf)', () => {
      expect(arrows(g, /^package\//, /^recipes\/resolve\.ts$/)).toEqual([]);
      const [closure] = Object.values(importClosures(['package/freebsd/index.ts']));
      expect(closure).not.toContain('recipes/resolve.ts');
      expect(g.get('recipes/consume.ts')).toEqual([]);
    });
    it('the FreeBSD port\'s generators are pure: only package/freebsd/index.ts reads the file system or the store', () => {
      const dir = path.join(SRC_ROOT, 'package', 'freebsd');
      const impure = readdirSync(dir)
        .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
        .flatMap((f) => [...readFileSync(path.join(dir, f), 'utf8').matchAll(/from '(node:(?!path')[^']+|[./]+\/(exec|fetch\/[^']+)\.ts)'/g)].map((m) => `${f} -> ${m[1]}`));
      expect(impure).toEqual([]);
      expect(arrows(g, /^package\/freebsd\/(?!index\.ts$)/, /^package\/freebsd\/index\.ts$/)).toEqual([]);
    });
    it('the stages and the chroot cache import nothing of the planner for a hash (sha256Hex, hashOf are hash.ts, a leaf)', () => {
      expect(arrows(g, /^(stages\/|package\/chroot\.ts$)/, /^recipes\/resolve\.ts$/)).toEqual([]);
      expect(g.get('hash.ts')).toEqual([]);
    });
  });
});
