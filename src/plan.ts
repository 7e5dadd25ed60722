// The BuildPlan: everything a build needs to know, resolved from recipes + profile + flags.
// Produced by recipes/resolve.ts (pure). Stages consume it; nothing here does I/O.
import type { Hardening } from './hardening.ts';
import type { Target } from './target.ts';
import type { Artifact, BuildSpec, ComponentName, ConsumeSpec, DistroFile, ModuleSpec, ProfileRecipe, VerifySpec } from './recipes/schema.ts';

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
  /**
   * From the recipe: the configure switch that leaves the vulnerable code out, and that code's files.
   * The CVEs are not_affected only when the build's configure switches really leave it out
   * (vexStatus in src/vex.ts); otherwise they are fixed by this patch.
   */
  notCompiled?: { switch: string; code: string[] };
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
  /** server: nginx itself; tls: the TLS library slot; library: any other linked library; module: a third-party nginx module. */
  role: 'server' | 'tls' | 'library' | 'module';
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
  /** Libraries: how the generic builder compiles it (the recipe's per-target `cross` data taken out: see `cross`). */
  build?: Omit<BuildSpec, 'cross'>;
  /** Libraries of a cross build: what the recipe's `build.cross` says for the plan's target. */
  cross?: NonNullable<BuildSpec['cross']>[string];
  /** Libraries: how nginx consumes the build output. */
  consume?: ConsumeSpec;
  /** Where the build output sits relative to nginx's source tree's parent (libraries). */
  layout?: string;
  verify: VerifySpec;
  /** kTLS facts from the recipe: the option that enables it, the first version that can. */
  ktls?: { option?: string; minVersion: string };
  /** CPE and purl templates ("{version}") for the SBOM, from the recipe. */
  identity?: { cpe?: string; purl: string };
  /** The upstream git tag of this version when the identity purl's {version} would not spell it (recipe `tag`). */
  tag?: string;
  /** Modules: the recipe's module data and how this profile links it. */
  module?: ModuleSpec & { link: 'static' | 'dynamic' };
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

/** The one spelling of a stage id: `kind:name` for a component's or a binary's stage, `kind` alone for a whole-build one. */
export const stageId = (kind: StageKind, name?: string): string => (name ? `${kind}:${name}` : kind);

/**
 * A twin binary of nginx built from the same dependency stages with extra configure flags (the
 * profile's `nginx.variants`, e.g. nginx-debug = the production flags + --with-debug, as pkg-oss
 * ships it). Only nginx's own stages (configure/compile/install:<name>) are its own.
 */
export interface PlanVariant {
  /** binary and stage name, e.g. "nginx-debug" */
  name: string;
  description: string;
  /** the exact argv of its ./configure: the production one with `flags` after the profile's modules */
  configureArgs: string[];
  /** the flags it adds to the production build */
  flags: string[];
  /** where it is installed: beside the production binary, under its own name */
  sbin: string;
  /** built --with-debug: its debug log can prove kTLS */
  debug: boolean;
}

export interface PlanStage {
  /** e.g. "fetch:openssl", "extract:openssl", "library:zlib-ng", "configure:nginx", "smoke" */
  id: string;
  kind: StageKind;
  component?: ComponentName;
  /** sha256 over this stage's own inputs and the keys of the stages it depends on. */
  key: string;
  deps: string[];
  /** nginx's configure/compile/install of a twin binary (plan.variants), e.g. "nginx-debug" */
  variant?: string;
  /** What went into the key (plan --explain-key): the stage's own inputs, its code, its deps' keys. */
  keyInputs: { inputs: unknown; code: Record<string, string>; deps: Record<string, string> };
}

/**
 * Where nginx installs and what it writes, as the packages need it (computed once from the profile's
 * prefix and paths, with nginx's own defaults for a path the profile leaves out). All absolute.
 */
export interface PlanInstall {
  prefix: string;
  sbin: string;
  /** nginx.conf, and the directory it sits in (mime.types, conf.d/, sites-enabled/ ...) */
  conf: string;
  confDir: string;
  modules: string;
  errorLog: string;
  accessLog: string;
  pid: string;
  lock: string;
  /** temp path per directive ("client_body_temp_path" → "/var/lib/nginx/body") */
  temp: Record<string, string>;
  /** one place each: the directories holding logs, temp files, and the pid/lock files */
  logDirs: string[];
  tempDirs: string[];
  runDirs: string[];
  /** the html root nginx's make install fills (<prefix>/html) */
  html: string;
  /** system user and group the workers run as */
  user: string;
  group: string;
  /** systemd unit / rc.d service name */
  service: string;
}

export interface BuildPlan {
  profile: string;
  description: string;
  /** the profiles this one extends, nearest first (empty: its file is complete on its own) */
  extends: string[];
  /** the profile as resolved (its "extends" chain applied, `--prefix` in effect): what the plan was made from */
  resolvedProfile: ProfileRecipe;
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
  /** install paths and names for the packages */
  install: PlanInstall;
  /** twin binaries built beside nginx from the same dependency stages (e.g. nginx-debug) */
  variants: PlanVariant[];
  stages: PlanStage[];
  /** Facts about the build host that feed the keys (compiler version, ...; a cross build's target and cross compiler). */
  toolchain: Record<string, string>;
  /** the profile's protections on this target and their flags (every library, module and nginx gets them) */
  hardening: Hardening;
  /** the machine the build is for (src/target.ts): the host's, or another one's (a cross build) */
  target: Target;
  /** whether `target` is another machine than the build host (then every compiling stage's key names it) */
  cross: boolean;
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

/** The install stage of nginx's own (production) binary, e.g. "install:nginx". */
export function serverInstall(plan: BuildPlan): string {
  return stageId('install', server(plan).name);
}

/** The TLS library (role "tls"), when the profile has one. */
export function tlsLibrary(plan: BuildPlan): PlanComponent | undefined {
  return plan.components.find((x) => x.role === 'tls');
}

/** Every library nginx links (built by a library stage: roles tls and library), in plan order. */
export function libraries(plan: { components: PlanComponent[] }): PlanComponent[] {
  return plan.components.filter((x) => x.role === 'tls' || x.role === 'library');
}

/** The libraries nginx's ./configure reads (`configure`), or only its make (`make`): recipe `nginx.neededBy`. */
export function librariesFor(plan: { components: PlanComponent[] }, phase: 'configure' | 'make'): PlanComponent[] {
  return libraries(plan).filter((c) => (c.consume?.neededBy ?? 'configure') === phase);
}

/** The third-party modules (role "module"), in plan order. */
export function modules(plan: { components: PlanComponent[] }): (PlanComponent & { module: NonNullable<PlanComponent['module']> })[] {
  return plan.components.filter((x): x is PlanComponent & { module: NonNullable<PlanComponent['module']> } => x.role === 'module' && x.module !== undefined);
}

/** The .so files a dynamic module installs (file names in the modules path). */
export function moduleObjects(m: PlanComponent): string[] {
  return m.module?.link === 'dynamic' ? m.module.names.map((n) => `${n}.so`) : [];
}

/** nginx's --modules-path (where dynamic modules are installed): plan.install.modules, the one place it is computed. */
export function modulesPath(plan: { install: PlanInstall }): string {
  return plan.install.modules;
}

/** The debug twin (a variant built --with-debug), when the profile has one. */
export function debugVariant(plan: { variants?: PlanVariant[] }): PlanVariant | undefined {
  return plan.variants?.find((v) => v.debug);
}

/** The plan as a variant's binary sees it: its configure arguments and flags, everything else shared. */
export function variantView(plan: BuildPlan, v: PlanVariant | undefined): BuildPlan {
  return v ? { ...plan, configureArgs: v.configureArgs, nginxFlags: [...plan.nginxFlags, ...v.flags] } : plan;
}
