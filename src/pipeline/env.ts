// The environment of every compiler run of a build: reproducibility settings and the prefix map
// that hides the workspace path from the binaries. Part of the library and nginx stage keys.
import { ccacheEnv } from './ccache.ts';

export function compileEnv(ws: string, epoch: number, ccache: boolean): Record<string, string> {
  const map = `-ffile-prefix-map=${ws}=/usr/src/nginx-forge`;
  const env: Record<string, string> = {
    SOURCE_DATE_EPOCH: String(epoch),
    CFLAGS: `-O2 -g ${map}`,
    LC_ALL: 'C',
    TZ: 'UTC',
    ZERO_AR_DATE: '1',
  };
  return ccache ? { ...env, ...ccacheEnv(ws) } : env;
}

/** make's parallelism arguments: N jobs, and no new job while the load is N or more. */
export const makeJobs = (jobs: number): string[] => [`-j${jobs}`, `-l${jobs}`];
