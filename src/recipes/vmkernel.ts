// Which pinned kernel recipe (recipes/vm/) the smoke test's VM of a target boots: read by the
// planner (the smoke stage's key pins it) and by the VM code. x86-64 keeps its first name.
import type { Target } from '../target.ts';

export const vmKernelRecipe = (t: Pick<Target, 'cpu'>): string => (t.cpu === 'x86_64' ? 'kernel.json' : `kernel-${t.cpu}.json`);
