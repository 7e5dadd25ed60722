// First-build scheduling: before any build on this machine has measured a stage (a fresh clone,
// a CI runner, a new state dir), how long it probably takes, from the plan alone. The runner
// only uses it to order stages (job tokens go to the longest chain first), so only the order has
// to be right: a component's compile time grows with its source, and the compressed size of its
// pinned archive is the measure at hand (OpenSSL 53 MB, PCRE2 2.9 MB, nginx 1.2 MB, jemalloc
// 0.7 MB, zlib-ng 0.3 MB; measured on 2 cores, OpenSSL's build is the longest by far and, with
// nginx's configure and compile after it, the critical path). Without it a cold build handed the
// two tokens to whichever libraries were extracted first and OpenSSL waited 50 s for one.
import type { BuildPlan } from '../plan.ts';

/** seconds of compile per MB of compressed source (order of magnitude, 2 cores) */
const PER_MB = 1.5;
const BASE = 5;

export function firstBuildEstimates(plan: BuildPlan): Map<string, number> {
  const mb = new Map(
    plan.components.map((c) => [c.name, Math.max(0, ...c.artifacts.map((a) => a.size ?? 0)) / 1e6] as const),
  );
  const est = new Map<string, number>();
  for (const s of plan.stages) {
    const size = s.component ? (mb.get(s.component) ?? 0) : 0;
    switch (s.kind) {
      case 'library':
      case 'compile':
        est.set(s.id, BASE + PER_MB * size);
        break;
      case 'configure':
        est.set(s.id, BASE);
        break;
      default:
        est.set(s.id, 1);
    }
  }
  return est;
}
