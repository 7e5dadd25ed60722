// Public shape of a build run: what runBuild() (src/pipeline/index.ts) takes and returns.
// The package and bench commands use it too.
import type { BuildPlan } from '../plan.ts';
import type { RemoteSettings } from '../flags/cache.ts';
import type { RemoteStats } from '../remote/index.ts';

export interface BuildOptions {
  /** distfiles store (default: <state>/distfiles) */
  distdir?: string;
  mirrors?: string[];
  offline?: boolean;
  /** look in the host's distro archive (apt sources); default true */
  distro?: boolean;
  /** parallel compile jobs shared between concurrent builds; default: CPU count */
  jobs?: number;
  /** artifact directory; default "dist" */
  out?: string;
  /** ignore the stage cache */
  force?: boolean;
  /** run the smoke stage (default true) and its VM mode */
  smoke?: boolean;
  smokeVm?: 'auto' | 'always' | 'never';
  ccache?: boolean;
  /** build only what this stage id needs (package: stageId("artifacts"), bench: serverInstall(plan)) */
  until?: string;
  /** with `until`: the binaries' install stages too (package wraps their trees; restored when cached) */
  withInstalls?: boolean;
  /**
   * re-hash every file of every cache entry used, not only of those a running stage reads
   * (package: the install trees leave the machine in the package)
   */
  verifyContent?: boolean;
  /** a stage cache shared on OCI registries (--cache-from/--cache-to; src/flags/cache.ts) */
  remote?: RemoteSettings;
  /** sign the provenance of the artifacts written to `out` with this key (PEM; src/provenance.ts) */
  provenanceKey?: string;
  signal?: AbortSignal;
}

export interface StageResult {
  id: string;
  status: 'built' | 'cached' | 'skipped';
  seconds: number;
  detail?: string;
}

export interface BuildSummary {
  profile: string;
  planHash: string;
  /** the installed nginx inside the staging root */
  binary: string;
  /** DESTDIR staging tree: usr/sbin/nginx, etc/nginx/..., usr/share/nginx/html, ... */
  root: string;
  /** the twin binaries (plan.variants, e.g. nginx-debug): each in its own install tree */
  variants: Record<string, { binary: string; root: string }>;
  /** licenses/<component>/<file> of every component */
  licensesDir: string;
  /** files written to `out` (tarball, manifest.json, sbom.cdx.json, vex.openvex.json, SHA256SUMS) */
  artifacts: string[];
  manifest?: string;
  sbom?: string;
  /** <out>/<name>.intoto.jsonl: the signed provenance of the artifacts (with a provenance key) */
  provenance?: string;
  /** the OpenVEX document beside the SBOM */
  vex?: string;
  stages: StageResult[];
  seconds: number;
  /** cache entries refused (damaged, changed, misplaced) and rebuilt: one line each */
  refused?: string[];
  /** --cache-from/--cache-to: entries and bytes moved */
  remote?: RemoteStats;
  /** --ccache: this build's compiler cache hits and misses */
  ccache?: { hits: number; misses: number; hitRate: number };
}

export type RunBuild = (plan: BuildPlan, opts: BuildOptions) => Promise<BuildSummary>;
