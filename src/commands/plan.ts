import type { PlanFlags } from './common.ts';
import { planFromFlags, printJson } from './common.ts';
import type { BuildPlan } from '../plan.ts';

/** The JSON view of a plan: stable, documented fields for scripts and CI. */
export function planJson(plan: BuildPlan) {
  return {
    profile: plan.profile,
    ktls: plan.ktls,
    planHash: plan.planHash,
    components: plan.components.map((c) => ({
      name: c.name,
      version: c.version,
      sha256: c.sha256,
      sources: c.sources,
      options: c.options,
      license: c.license,
    })),
    configureArgs: plan.configureArgs,
    patches: plan.patches.map((p) => ({ component: p.component, id: p.id, sha256: p.sha256, cves: p.cves })),
    stages: plan.stages.map((s) => ({ id: s.id, key: s.key, deps: s.deps })),
    toolchain: plan.toolchain,
  };
}

export async function run(flags: PlanFlags & { json?: boolean }): Promise<number> {
  const plan = planFromFlags(flags);
  if (flags.json) {
    printJson(planJson(plan));
    return 0;
  }
  const out: string[] = [`profile ${plan.profile}: ${plan.description}`, '', 'components:'];
  for (const c of plan.components) out.push(`  ${c.name.padEnd(9)} ${c.version.padEnd(8)} sha256 ${c.sha256}`);
  out.push('', 'patches:');
  for (const p of plan.patches) out.push(`  ${p.component.padEnd(9)} ${p.id}`);
  out.push('', 'nginx ./configure:');
  for (const a of plan.configureArgs) out.push(`  ${a}`);
  out.push('', 'stages:');
  for (const s of plan.stages) out.push(`  ${s.id.padEnd(18)} ${s.key.slice(0, 16)}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
