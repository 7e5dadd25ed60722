// The implementations of the stage kinds for a real build: each kind's module (KINDS[kind].module,
// src/stages/kinds/<kind>.ts) turns its inputs (the outputs of the stages it depends on) into its
// output. The table names the module once: the same file is loaded here and its import closure
// is hashed into the kind's key (../kinds.ts), so the key covers exactly the code that runs.
// The runner (./runner.ts) decides what runs and keeps the outputs.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KINDS } from '../kinds.ts';
import type { StageKind } from '../plan.ts';
import type { BuildContext, Implement } from '../stages/kinds/common.ts';
import type { StageImpl } from './runner.ts';

export type { BuildContext } from '../stages/kinds/common.ts';
export { binariesOf, binaryIn, copyLicenses, variantOf } from '../stages/kinds/common.ts';

const here = fileURLToPath(import.meta.url);
/** .ts under tsx, .js when the compiled CLI runs from lib/ */
const ext = path.extname(here);

/** Load a kind's implementation module (src/… under tsx, lib/… compiled). */
export async function loadKind(kind: StageKind): Promise<Implement> {
  const file = path.join(path.dirname(here), '..', KINDS[kind].module.replace(/\.ts$/, ext));
  const mod = (await import(pathToFileURL(file).href)) as { implement?: Implement };
  if (typeof mod.implement !== 'function') throw new Error(`${KINDS[kind].module} exports no implement()`);
  return mod.implement;
}

export function implementations(b: BuildContext): Record<StageKind, () => Promise<StageImpl>> {
  return Object.fromEntries((Object.keys(KINDS) as StageKind[]).map((k) => [k, async () => (await loadKind(k))(b)])) as Record<StageKind, () => Promise<StageImpl>>;
}
