import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { printJson } from './common.ts';
import type { BuildPlan } from '../plan.ts';
import { UsageError } from '../errors.ts';
import { KINDS } from '../kinds.ts';

/** The stage graph as a Mermaid flowchart: one node per stage, one edge per dependency. */
export function planGraph(plan: BuildPlan): string {
  const node = (id: string) => id.replace(/[^A-Za-z0-9]/g, '_');
  const shape = (id: string) => {
    const kind = plan.stages.find((s) => s.id === id)!.kind;
    const cache = KINDS[kind].cache;
    // cached outputs are rounded, results hexagons, scratch steps plain boxes
    return cache === 'dir' ? `(["${id}"])` : cache === 'result' ? `{{"${id}"}}` : `["${id}"]`;
  };
  const lines = ['flowchart LR'];
  for (const s of plan.stages) lines.push(`  ${node(s.id)}${shape(s.id)}`);
  for (const s of plan.stages) for (const d of s.deps) lines.push(`  ${node(d)} --> ${node(s.id)}`);
  return `${lines.join('\n')}\n`;
}

/** The JSON view of a plan: stable, documented fields for scripts and CI. */
export function planJson(plan: BuildPlan) {
  const { $schema: _, ...resolvedProfile } = plan.resolvedProfile;
  return {
    profile: plan.profile,
    extends: plan.extends,
    resolvedProfile,
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
    variants: plan.variants,
    patches: plan.patches.map((p) => ({ component: p.component, id: p.id, sha256: p.sha256, cves: p.cves })),
    stages: plan.stages.map((s) => ({ id: s.id, kind: s.kind, component: s.component, key: s.key, deps: s.deps })),
    toolchain: plan.toolchain,
    hardening: plan.hardening,
    target: { triple: plan.target.triple, cross: plan.cross },
  };
}

/** What the plan builds for: the host's own machine, or another one (a cross build, with its compiler). */
export function targetLine(plan: BuildPlan): string {
  if (!plan.cross) return `target ${plan.target.triple} (this host's own)`;
  return `target ${plan.target.triple}: a cross build (${plan.target.triple}-gcc${plan.toolchain.crossCc ? `: ${plan.toolchain.crossCc}` : ''}); configure's test programs and verify run under ${plan.target.qemu}`;
}

export async function run(flags: PlanFlags & { json?: boolean; explainKey?: string; graph?: boolean }): Promise<number> {
  const plan = planFromFlags(flags);
  if (flags.explainKey) {
    const st = plan.stages.find((s) => s.id === flags.explainKey);
    if (!st) throw new UsageError(`--explain-key ${flags.explainKey}: the plan has no such stage (stages: ${plan.stages.map((s) => s.id).join(', ')})`);
    const view = { id: st.id, key: st.key, kind: st.kind, cache: KINDS[st.kind].cache, ...st.keyInputs };
    if (flags.json) printJson(view);
    else {
      const out = [`${st.id}  key ${st.key}  (${st.kind}, output ${KINDS[st.kind].cache === 'none' ? 'not cached' : `cached as ${KINDS[st.kind].cache}`})`, '', 'inputs:', ...JSON.stringify(st.keyInputs.inputs, null, 2).split('\n').map((l) => `  ${l}`), '', 'code (sha256 of each source file in the import closure of the implementation module of this stage kind):'];
      for (const [f, h] of Object.entries(st.keyInputs.code)) out.push(`  ${f.padEnd(20)} ${h}`);
      if (!Object.keys(st.keyInputs.code).length) out.push('  (none: the output is fixed by the pinned sha256)');
      out.push('', 'dependency keys:');
      for (const [d, k] of Object.entries(st.keyInputs.deps)) out.push(`  ${d.padEnd(20)} ${k}`);
      if (!Object.keys(st.keyInputs.deps).length) out.push('  (none)');
      process.stdout.write(`${out.join('\n')}\n`);
    }
    return 0;
  }
  if (flags.graph) {
    process.stdout.write(planGraph(plan));
    return 0;
  }
  if (flags.json) {
    printJson(planJson(plan));
    return 0;
  }
  const out: string[] = [`profile ${plan.profile}: ${plan.description}`, ...(plan.extends.length ? [`extends ${plan.extends.join(' → ')} (plan --json shows the resolved profile)`] : []), targetLine(plan), '', 'components:'];
  for (const c of plan.components) out.push(`  ${c.name.padEnd(9)} ${c.version.padEnd(8)} ${c.role.padEnd(7)} sha256 ${c.sha256}`);
  out.push('', 'patches:');
  for (const p of plan.patches) out.push(`  ${p.component.padEnd(9)} ${p.id}`);
  out.push('', 'nginx ./configure:');
  for (const a of plan.configureArgs) out.push(`  ${a}`);
  for (const v of plan.variants) out.push('', `${v.name} (${v.sbin}): the same, plus ${v.flags.join(' ')}; shares every dependency stage`);
  out.push('', 'stages:');
  const w = Math.max(18, ...plan.stages.map((s) => s.id.length));
  for (const s of plan.stages) out.push(`  ${s.id.padEnd(w)} ${s.key.slice(0, 16)}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
