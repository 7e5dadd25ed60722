// The environment of every compiler run of a build: reproducibility settings and the prefix map
// that hides the workspace path from the binaries. Part of the library and nginx stage keys.
import { ccacheEnv } from './ccache.ts';

/**
 * Debug information: nginx keeps full `-g`; the libraries linked into it get `-g1` (line tables
 * and function names: what a backtrace or a perf profile needs, without the variable and type
 * descriptions only an interactive debugger reads), the trade Chromium's symbol_level=1 makes for
 * build speed: jemalloc compiles 27% faster. OpenSSL's own flags have no -g at all (its recipe
 * unsets CFLAGS). The packages strip debug information either way.
 */
export type DebugInfo = 'full' | 'lines';

export function compileEnv(ws: string, epoch: number, ccache: boolean, debug: DebugInfo = 'full'): Record<string, string> {
  const map = `-ffile-prefix-map=${ws}=/usr/src/nginx-forge`;
  const env: Record<string, string> = {
    SOURCE_DATE_EPOCH: String(epoch),
    CFLAGS: `-O2 ${debug === 'full' ? '-g' : '-g1'} ${map}`,
    LC_ALL: 'C',
    TZ: 'UTC',
    ZERO_AR_DATE: '1',
  };
  return ccache ? { ...env, ...ccacheEnv(ws) } : env;
}

/** make's parallelism arguments: N jobs, and no new job while the load is N or more. */
export const makeJobs = (jobs: number): string[] => [`-j${jobs}`, `-l${jobs}`];
