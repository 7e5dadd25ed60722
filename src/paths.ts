// Where nginx-forge keeps its state. One root, overridable for tests and CI caches:
//   NGINX_FORGE_HOME (default: $XDG_CACHE_HOME/nginx-forge or ~/.cache/nginx-forge)
//     distfiles/   content-addressed downloads: <sha256>/<file> (or $NGINX_FORGE_DISTDIR)
//     stages/      stage cache entries: <stage-id>/<key>/
//     work/        scratch build trees (safe to delete)
//     logs/        one log file per stage run
import os from 'node:os';
import path from 'node:path';

export function stateDir(): string {
  if (process.env.NGINX_FORGE_HOME) return path.resolve(process.env.NGINX_FORGE_HOME);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'nginx-forge');
}

/** --distdir, else $NGINX_FORGE_DISTDIR (e.g. one store shared by several state dirs), else <state>/distfiles */
export const distfilesDir = (override?: string) =>
  path.resolve(override || process.env.NGINX_FORGE_DISTDIR || path.join(stateDir(), 'distfiles'));
export const stagesDir = () => path.join(stateDir(), 'stages');
export const workDir = () => path.join(stateDir(), 'work');
export const logsDir = () => path.join(stateDir(), 'logs');

/** True when output should be plain lines (no TTY, or running under CI). */
export function plainOutput(): boolean {
  return !process.stderr.isTTY || Boolean(process.env.CI);
}
