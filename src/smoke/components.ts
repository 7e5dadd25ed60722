// Component proofs come from recipe data only: a component recipe's `verify.nginxT` (an
// environment for `nginx -t` and the text it must then print) is what the smoke test runs and
// judges. A build's smoke stage takes them from the plan (required: the plan lists the
// component); `nginx-forge smoke` without --profile from every component recipe that has one
// (required when the binary's configure arguments name the component).
import { BUILTIN_RECIPES, loadRecipes } from '../recipes/load.ts';
import type { VerifySpec } from '../recipes/schema.ts';
import type { ComponentProof } from './types.ts';

type WithVerify = { name: string; displayName?: string; verify: VerifySpec };

/** The proofs of these components (those whose verify has an nginxT), with a fixed requirement or none. */
export function componentProofsOf(components: WithVerify[], required?: boolean): ComponentProof[] {
  return components.flatMap((c) => (c.verify.nginxT ? [{ name: c.name, displayName: c.displayName ?? c.name, env: c.verify.nginxT.env, expect: c.verify.nginxT.expect, ...(required === undefined ? {} : { required }) }] : []));
}

/** Every component recipe's proof in a recipe directory (default: the built-in recipes). */
export function catalogComponentProofs(recipesDir: string = BUILTIN_RECIPES): ComponentProof[] {
  const set = loadRecipes(recipesDir);
  return componentProofsOf([...set.components.values()].map((c) => c.recipe));
}

/** Settle a proof's requirement: its own, else whether `nginx -V`'s configure arguments name the component. */
export function settleRequired(c: ComponentProof, configureLine: string): ComponentProof & { required: boolean } {
  return { ...c, required: c.required ?? configureLine.includes(c.name) };
}
