// The BuildPlan: everything a build needs to know, resolved from recipes + profile + flags.
// Produced by recipes/resolve.ts (pure). Stages consume it; nothing here does I/O.
import type { Artifact, BuildSpec, ComponentName, ConsumeSpec, DistroFile, VerifySpec } from './recipes/schema.ts';

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
  /** How people write it: "OpenSSL". */
  displayName: string;
  description: string;
  homepage: string;
  /** server: nginx itself; tls: the TLS library slot; library: any other linked library. */
  role: 'server' | 'tls' | 'library';
  version: string;
  /** sha256 of the preferred artifact (the first one in the recipe). */
  sha256: string;
  /** Equivalent archives, most preferred first; any one of them is accepted. */
  artifacts: Artifact[];
  /** Human/JSON view of where the bytes can come from: URLs, and distro:<archive>:<pool>/<file>. */
  sources: { url: string; sha256: string }[];
  /** The profile's options for this component's own configure (plus the recipe's flagOptions that apply). */
  options: string[];
  license: string;
  licenseFiles: string[];
  /** Top-level directory name of the unpacked source (same for every artifact of a version). */
  topdir: string;
  /** Libraries: how the generic builder compiles it. */
  build?: BuildSpec;
  /** Libraries: how nginx consumes the build output. */
  consume?: ConsumeSpec;
  /** Where the build output sits relative to nginx's source tree's parent (libraries). */
  layout?: string;
  verify: VerifySpec;
  /** kTLS facts from the recipe: the option that enables it, the first version that can. */
  ktls?: { option?: string; minVersion: string };
  /** CPE and purl templates ("{version}") for the SBOM, from the recipe. */
  identity?: { cpe: string; purl: string };
}

export type StageKind =
  | 'fetch'
  | 'extract'
  | 'patch'
  | 'library'
  | 'configure'
  | 'compile'
  | 'install'
  | 'verify'
  | 'smoke'
  | 'test'
  | 'artifacts';

export interface PlanStage {
  /** e.g. "fetch:openssl", "extract:openssl", "library:zlib-ng", "configure:nginx", "smoke" */
  id: string;
  kind: StageKind;
  component?: ComponentName;
  /** sha256 over this stage's own inputs and the keys of the stages it depends on. */
  key: string;
  deps: string[];
  /** What went into the key (plan --explain-key): the stage's own inputs, its code, its deps' keys. */
  keyInputs: { inputs: unknown; code: Record<string, string>; deps: Record<string, string> };
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
  /** nginx ./configure flags of the profile (modules), for stages that judge by them. */
  nginxFlags: string[];
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

/** nginx itself (the component with role "server"). */
export function server(plan: BuildPlan): PlanComponent {
  const c = plan.components.find((x) => x.role === 'server');
  if (!c) throw new Error('plan has no server component');
  return c;
}

/** The TLS library (role "tls"), when the profile has one. */
export function tlsLibrary(plan: BuildPlan): PlanComponent | undefined {
  return plan.components.find((x) => x.role === 'tls');
}

/** Every component nginx links (everything but the server), in plan order. */
export function libraries(plan: BuildPlan): PlanComponent[] {
  return plan.components.filter((x) => x.role !== 'server');
}
