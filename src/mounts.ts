// Removing a tree that may hold mount points. debootstrap mounts proc (and sysfs, or a bind of
// /dev inside a container) into the root it makes and unmounts them when it exits; killed (-9,
// a timeout, a session that ends) it leaves them mounted. A plain recursive remove then fails
// with EBUSY on the mount point after deleting what it could through it, and through a bind
// mount that is the host's own files. So every tree we remove is first unmounted, deepest mount
// first, and the remove never crosses into a mount point that is still there.
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { execaSync } from 'execa';
import { ForgeError } from './errors.ts';

/** /proc/self/mountinfo writes space, tab, newline and backslash in a path as octal escapes. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount points at or below `dir` (resolved), deepest first. */
export function mountsUnder(dir: string): string[] {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    return [];
  }
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return []; // not Linux: nothing of ours mounts there
  }
  const found = new Set<string>();
  for (const line of info.split('\n')) {
    // <id> <parent> <major:minor> <root> <mount point> <options> ...
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = unescape(mp);
    if (p === root || p.startsWith(`${root}/`)) found.add(p);
  }
  return [...found].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}

/** Unmount everything at or below `dir` (a busy mount is detached lazily); returns what was unmounted. */
export function unmountUnder(dir: string): string[] {
  const done: string[] = [];
  // a mount point can be stacked (mounted twice): repeat until none is left or nothing changes
  for (let round = 0; round < 8; round++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) break;
    let progress = false;
    for (const mp of mps) {
      for (const args of [[mp], ['-l', mp]]) {
        if (execaSync('umount', args, { reject: false, stdin: 'ignore' }).exitCode === 0) {
          done.push(mp);
          progress = true;
          break;
        }
      }
    }
    if (!progress) break;
  }
  return done;
}

/**
 * Remove a tree, mounts inside it unmounted first. Throws (naming the mount point) rather than
 * delete through a mount it could not undo.
 */
export function removeTree(dir: string): void {
  unmountUnder(dir);
  const left = mountsUnder(dir);
  if (left.length > 0) {
    throw new ForgeError(`cannot remove ${dir}: ${left[0]} is still mounted and nginx-forge never deletes through a mount point`, {
      hint: `unmount it as root (umount ${left[0]}; or umount -l), then run the command again`,
    });
  }
  rmSync(dir, { recursive: true, force: true });
}
