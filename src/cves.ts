// What this build says about each CVE its patches name, shared by the SBOM's vulnerabilities
// (src/sbom.ts) and the OpenVEX document (src/vex.ts), so the two never disagree:
//   fixed         an applied patch resolves it (CycloneDX: resolved)
//   not_affected  the patch's recipe entry says which configure switch leaves the vulnerable code
//                 out (patches[].notCompiled, e.g. OpenSSL's no-quic) AND the build's configure
//                 switches for that component really do (the last of no-x/enable-x is no-x).
//                 Justification vulnerable_code_not_present (CycloneDX: code_not_present), the
//                 switch and the files as the impact statement; the patch is applied as well.
// The switches checked are the ones the manifest and the SBOM record (configureSwitches, the list
// the library stage passes), so the claim can be checked from the artifacts alone.
import { component, type BuildPlan, type PlanComponent, type PlanPatch, type PlanPatchSet } from './plan.ts';
import { configureSwitches } from './recipes/commands.ts';

/** A component's configure switches as the build passed them: a library's own configure, nginx's ./configure. */
export function componentSwitches(plan: BuildPlan, c: PlanComponent): string[] {
  if (c.build) return configureSwitches(c);
  return c.role === 'server' ? plan.configureArgs : [];
}

/** The switch that undoes `sw` (no-quic ↔ enable-quic, --disable-x ↔ --enable-x, --without-x ↔ --with-x). */
export function opposite(sw: string): string | undefined {
  const pairs: [string, string][] = [['no-', 'enable-'], ['--disable-', '--enable-'], ['--without-', '--with-']];
  for (const [off, on] of pairs) {
    if (sw.startsWith(off)) return on + sw.slice(off.length);
    if (sw.startsWith(on)) return off + sw.slice(on.length);
  }
  return undefined;
}

/** Whether `sw` is in effect among `switches`: present, and not undone by its opposite later on the command line. */
export function switchInEffect(switches: string[], sw: string): boolean {
  const at = switches.lastIndexOf(sw);
  if (at < 0) return false;
  const undo = opposite(sw);
  return undo === undefined || switches.lastIndexOf(undo) < at;
}

export interface CveAnalysis {
  id: string;
  /** the applied patches that resolve it */
  patches: PlanPatch[];
  /** the components they patch */
  components: string[];
  /** set when every patch's code is left out of this build by a switch in effect */
  notCompiled?: { component: string; switch: string; code: string[] }[];
}

/** Every CVE an applied patch resolves, sorted (numeric), with whether its code is compiled in this build. */
export function cveAnalyses(plan: BuildPlan): CveAnalysis[] {
  const byCve = new Map<string, PlanPatch[]>();
  for (const p of plan.patches) for (const id of p.cves) byCve.set(id, [...(byCve.get(id) ?? []), p]);
  return [...byCve.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([id, patches]) => {
      const components = [...new Set(patches.map((p) => p.component))];
      const absent = patches.every((p) => p.notCompiled && switchInEffect(componentSwitches(plan, component(plan, p.component)), p.notCompiled.switch));
      const notCompiled = absent ? patches.map((p) => ({ component: p.component, switch: p.notCompiled!.switch, code: p.notCompiled!.code })) : undefined;
      return { id, patches, components, ...(notCompiled ? { notCompiled } : {}) };
    });
}

const patchSetOf = (plan: BuildPlan, p: PlanPatch): PlanPatchSet | undefined =>
  p.origin.kind === 'patchset' ? plan.patchSets.find((s) => p.origin.kind === 'patchset' && s.name === p.origin.patchSet) : undefined;

/** "Resolved in this build by <patch> (sha256 …, from <archive>), applied to the <c> sources before compiling." */
export function fixedStatement(plan: BuildPlan, a: CveAnalysis): string {
  const named = a.patches.map((p) => {
    const set = patchSetOf(plan, p);
    return `${p.id} (sha256 ${p.sha256}${set ? `, from ${set.artifact.file}` : ''})`;
  });
  return `Resolved in this build by ${named.join(' and ')}, applied to the ${a.components.join(', ')} sources before compiling.`;
}

/** "The vulnerable code (ssl/quic/quic_port.c) is not compiled: openssl was configured with no-quic (manifest.json …)." */
export function notCompiledStatement(a: CveAnalysis): string {
  const parts = (a.notCompiled ?? []).map((n) => `${n.code.join(', ')} of ${n.component}, left out by its configure switch ${n.switch}`);
  return `The vulnerable code is not compiled into this build: ${parts.join('; ')} (the switches are recorded in manifest.json components[].configure and in this SBOM's nginx-forge:configure:switch properties).`;
}
