// A small fake stage graph for runner tests:  a ─┐
//                                               ├─> c (a JSON result)
//                                            b ─┘
// a and b make cache directories. Each stage's body is given by the test.
import type { PlanStage, StageKind } from '../../src/plan.ts';
import type { CacheMode } from '../../src/kinds.ts';
import type { StageImpl, StageRunContext } from '../../src/pipeline/runner.ts';

export type Body = (ctx: StageRunContext) => Promise<unknown>;

export function fakeStages(bodies: Partial<Record<'a' | 'b' | 'c', Body>>, keys: Partial<Record<'a' | 'b' | 'c', string>> = {}) {
  // the fake kinds borrow real kind names: a → library, b → install, c → verify
  const kindOf: Record<string, StageKind> = { a: 'library', b: 'install', c: 'verify' };
  const mode: Partial<Record<StageKind, CacheMode>> = { library: 'dir', install: 'dir', verify: 'result' };
  const stage = (id: 'a' | 'b' | 'c', deps: string[]): PlanStage => ({
    id,
    kind: kindOf[id]!,
    key: keys[id] ?? `key-${id}`,
    deps,
    keyInputs: { inputs: {}, code: {}, deps: {} },
  });
  const stages = [stage('a', []), stage('b', []), stage('c', ['a', 'b'])];
  const idOfKind = Object.fromEntries(Object.entries(kindOf).map(([id, k]) => [k, id])) as Record<StageKind, 'a' | 'b' | 'c'>;
  return {
    stages,
    modeOf: (k: StageKind) => mode[k] ?? 'none',
    implOf: async (k: StageKind): Promise<StageImpl> => ({
      run: (ctx) => (bodies[idOfKind[k]] ?? (async () => ({})))(ctx),
    }),
  };
}
