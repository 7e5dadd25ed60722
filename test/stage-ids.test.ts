// A stage id is spelled in one place: stageId(kind, name) of src/plan.ts. The planner names every
// stage with it, and no other source file builds an id from a kind by hand ("install:" + name)
// or writes one as a literal ('install:nginx'): a renamed kind or server component reaches all.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KINDS } from '../src/kinds.ts';
import { serverInstall, stageId, type StageKind } from '../src/plan.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { SRC_ROOT } from '../src/kinds.ts';

const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)) : f.endsWith('.ts') ? [path.join(dir, f)] : []));

/** Not stage ids although they look alike: CycloneDX bom-refs of patches ("patch:<patch id>"). */
const NOT_STAGE_IDS = [/const patchRef = \(p: PlanPatch\) => `patch:\$\{p\.id\}`/];

describe('stage ids', () => {
  it('every stage of a plan is named stageId(kind, its component or binary)', () => {
    const recipes = loadRecipes();
    for (const profile of recipes.profiles.keys()) {
      const plan = resolvePlan(recipes, profile, { toolchain: { cc: 'gcc 12' }, tests: {} });
      for (const s of plan.stages) {
        const name = s.variant ?? (s.id.includes(':') ? s.id.slice(s.id.indexOf(':') + 1) : undefined);
        expect(s.id).toBe(stageId(s.kind, name));
        if (['fetch', 'extract', 'patch', 'library'].includes(s.kind)) expect(s.id).toBe(stageId(s.kind, s.component));
      }
      expect(plan.stages.map((s) => s.id)).toContain(serverInstall(plan));
    }
  });

  it('no source file outside src/plan.ts builds a stage id by hand', () => {
    const kinds = Object.keys(KINDS) as StageKind[];
    const built = new RegExp(`\`(${kinds.join('|')}):\\$\\{|'(${kinds.join('|')}):[a-z0-9]`);
    const offenders: string[] = [];
    for (const f of files(SRC_ROOT)) {
      if (path.relative(SRC_ROOT, f) === 'plan.ts') continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (built.test(line) && !NOT_STAGE_IDS.some((r) => r.test(line))) offenders.push(`${path.relative(SRC_ROOT, f)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
