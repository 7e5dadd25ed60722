// The BuildPlan: everything a build needs to know, resolved from recipes + profile + flags.
// Produced by recipes/resolve.ts (pure). Stages consume it; nothing here does I/O.
import type { Artifact, ComponentName, DistroFile } from './recipes/schema.ts';

export type { ComponentName } from './recipes/schema.ts';

/** One patch, from the project's patches/ tree or from a pinned distro patch set. */
export interface PlanPatch {
  component: ComponentName;
  /** Stable identifier, e.g. "patches/nginx/1.26.3/0001-foo.patch" or "nginx-debian-security/CVE-2025-53859.patch". */
  id: string;
  sha256: string;
  strip: number;
  /** CVE ids this patch resolves (from the recipe; empty for local patches and non-CVE fixes). */
  cves: string[];
  /** Local patches: absolute path of the file. Patch-set patches: path inside the patch-set archive. */
  origin: { kind: 'local'; path: string } | { kind: 'patchset'; patchSet: string; path: string };
}

export interface PlanPatchSet {
  component: ComponentName;
  name: string;
  description: string;
  artifact: Artifact;
}

export interface PlanComponent {
  name: ComponentName;
  version: string;
  /** sha256 of the preferred artifact (the first one in the recipe). */
  sha256: string;
  /** Equivalent archives, most preferred first; any one of them is accepted. */
  artifacts: Artifact[];
  /** Human/JSON view of where the bytes can come from: URLs, and distro:<archive>:<pool>/<file>. */
  sources: { url: string; sha256: string }[];
  options: string[];
  license: string;
  licenseFiles: string[];
  /** Top-level directory name of the unpacked source (same for every artifact of a version). */
  topdir: string;
  /** CPE and purl templates ("{version}") for the SBOM, from the recipe. */
  identity?: { cpe: string; purl: string };
}

export type StageKind =
  | 'fetch'
  | 'extract'
  | 'patch'
  | 'build'
  | 'configure'
  | 'compile'
  | 'install'
  | 'verify'
  | 'smoke'
  | 'package';

export interface PlanStage {
  /** e.g. "fetch", "extract:openssl", "build:zlib-ng", "configure:nginx", "smoke" */
  id: string;
  kind: StageKind;
  component?: ComponentName;
  /** sha256 over this stage's own inputs and the keys of the stages it depends on. */
  key: string;
  deps: string[];
}

export interface BuildPlan {
  profile: string;
  description: string;
  ktls: boolean;
  recipesDir: string;
  patchesDir: string;
  components: PlanComponent[];
  /** The exact argv given to nginx's ./configure (no shell quoting involved). */
  configureArgs: string[];
  patches: PlanPatch[];
  patchSets: PlanPatchSet[];
  /** Paths of the nginx tree relative to the build workspace, where deps are placed. */
  layout: Record<ComponentName, string>;
  stages: PlanStage[];
  /** Facts about the build host that feed the keys (compiler version, ...). */
  toolchain: Record<string, string>;
  /** sha256 over the whole plan; names a build uniquely. */
  planHash: string;
}

export function distroSource(d: DistroFile): string {
  return `distro:${d.archive}:pool/${d.pool}/${d.file}`;
}

export function component(plan: BuildPlan, name: ComponentName): PlanComponent {
  const c = plan.components.find((x) => x.name === name);
  if (!c) throw new Error(`plan has no component ${name}`);
  return c;
}

export function stage(plan: BuildPlan, id: string): PlanStage {
  const s = plan.stages.find((x) => x.id === id);
  if (!s) throw new Error(`plan has no stage ${id}`);
  return s;
}
