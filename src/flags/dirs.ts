// The directory checks of command-line paths (--recipes, --patches, --out, --distdir, ...): a bad
// path is exit 2 naming the flag, the path, what is wrong and what to do. Below the commands and
// bench: planFromFlags (./plan.ts) checks --recipes and --patches with them too, and
// commands/validate.ts's checkPaths runs them before a command starts.
import { accessSync, constants, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';

export function kind(p: string): 'dir' | 'file' | 'absent' | 'other' {
  try {
    const st = statSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return 'absent';
  }
}

/** An input directory (--recipes, --patches): must exist and be a directory. */
export function checkInputDir(flag: string, dir: string): void {
  const k = kind(dir);
  if (k === 'absent') throw new UsageError(`${flag} ${dir}: no such directory`, `give the path of an existing ${flag === '--recipes' ? 'recipe directory (with components/ and profiles/)' : 'directory'}`);
  if (k !== 'dir') throw new UsageError(`${flag} ${dir}: not a directory (it is a ${k === 'file' ? 'file' : 'special file'})`, `${flag} takes a directory${flag === '--recipes' ? ' (with components/ and profiles/), e.g. a copy of the built-in recipes/' : ''}`);
}

/**
 * An output or store directory: an existing file there, a parent that is a file, or a directory
 * that cannot be written is exit 2 now, with the path. Creates the directory when absent.
 */
export function checkOutputDir(flag: string, dir: string, opts: { writable?: boolean; create?: boolean } = {}): void {
  const k = kind(dir);
  if (k === 'file' || k === 'other') throw new UsageError(`${flag} ${dir}: is a ${k === 'file' ? 'file' : 'special file'}, not a directory`, `give ${flag} a directory (it is created when missing)`);
  if (k === 'absent' && opts.create === false) {
    // not created yet (the command creates it when it has something to write): judge the nearest existing parent
    let up = path.dirname(dir);
    while (kind(up) === 'absent' && path.dirname(up) !== up) up = path.dirname(up);
    if (kind(up) !== 'dir') throw new UsageError(`${flag} ${dir}: cannot be created: ${up} is a file, not a directory`, `give ${flag} a directory path`);
    if (opts.writable === false) return checkOutputDir(flag, up, { writable: false });
    // named as given: "--out /proc/self/out: cannot be created in /proc/self", not "--out /proc/self"
    const why = notWritable(up);
    if (why) throw new UsageError(`${flag} ${dir}: cannot be created: ${up} is ${why}`, `give ${flag} a directory on a writable disk`);
    return;
  }
  if (k === 'absent') {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UsageError(`${flag} ${dir}: cannot create it (${err.code ?? err.message}${err.code === 'ENOTDIR' ? ': a parent of it is a file' : ''})`, `give ${flag} a directory that can be created`);
    }
  }
  if (opts.writable === false) {
    try {
      accessSync(dir, constants.R_OK | constants.X_OK);
    } catch {
      throw new UsageError(`${flag} ${dir}: cannot be read`, 'check its permissions');
    }
    return;
  }
  const why = notWritable(dir);
  if (why) {
    throw new UsageError(
      `${flag} ${dir}: ${why}`,
      flag === '--distdir' ? 'downloads are stored there: give a writable directory, or use --offline when every file is already in it' : `give ${flag} a writable directory`,
    );
  }
}

/** Why files cannot be created in an existing directory (undefined: they can). */
function notWritable(dir: string): string | undefined {
  // access(W_OK) says yes to root on a read-only mount: really write a probe file
  const probe = path.join(dir, `.nginx-forge-probe-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const what = err.code === 'EROFS' ? 'read-only file system' : err.code === 'ENOENT' ? 'ENOENT: it takes no new files, as the kernel\'s /proc and /sys do' : (err.code ?? err.message);
    return `not writable (${what})`;
  }
}
