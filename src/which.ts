// Looking up executables: one implementation for doctor, the smoke test, benchmarks and tests.
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Look a command up in env.PATH; an absolute or relative path is checked as is. */
export function which(cmd: string, env: Record<string, string | undefined> = process.env): string | undefined {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, cmd);
    if (existsSync(p) && isExecutable(p)) return p;
  }
  return undefined;
}
