// Temp trees under $TMPDIR (a package's staging tree, a gpgv home): created as
//   nginx-forge-<kind>-<pid>-<start>-XXXXXX
// so the name records the owner, as src/lock.ts's locks do (pid, and the process start time that
// tells a reused pid apart). The owner removes its tree when it is done, also on Ctrl-C; a tree
// whose owner is gone (kill -9, a crash, a power cut) is swept at the start of the next build or
// package, and by `nginx-forge gc`. Trees without an owner in their name (made by older versions)
// are swept when untouched for UNOWNED_MS.
import { lstatSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeTree } from './mounts.ts';
import { pidAlive, processStart } from './lock.ts';

/** A tree named without its owner is left alone this long (no command of ours runs longer). */
export const UNOWNED_MS = 24 * 3_600_000;

const MY_START = processStart(process.pid);

/** A new temp tree of this process under $TMPDIR. */
export function tempDir(kind: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `nginx-forge-${kind}-${process.pid}-${MY_START ?? 0}-`));
}

const OWNED = /^nginx-forge-[a-z]+-(\d+)-(\d+)-[A-Za-z0-9]{6}$/;
const UNOWNED = /^nginx-forge-[a-z]+-[A-Za-z0-9]{6}$/;

export interface SweptTemp {
  path: string;
  reason: string;
}

/**
 * The temp trees under $TMPDIR whose owner is gone (only this user's directories; a link is never
 * followed): what sweepTempDirs() and gc remove.
 */
export function staleTempDirs(opts: { dir?: string; now?: number } = {}): SweptTemp[] {
  const dir = opts.dir ?? os.tmpdir();
  const now = opts.now ?? Date.now();
  const uid = process.getuid?.();
  const stale: SweptTemp[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return stale;
  }
  for (const name of names) {
    if (!name.startsWith('nginx-forge-')) continue;
    const p = path.join(dir, name);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
    const owned = OWNED.exec(name);
    if (owned) {
      const pid = Number(owned[1]);
      const start = owned[2] === '0' ? undefined : owned[2];
      if (!pidAlive(pid, start)) stale.push({ path: p, reason: `temp tree of a process that is gone (pid ${pid})` });
    } else if (UNOWNED.test(name) && now - st.mtimeMs > UNOWNED_MS) {
      stale.push({ path: p, reason: `temp tree without an owner, untouched for ${Math.floor((now - st.mtimeMs) / 3_600_000)} h` });
    }
  }
  return stale;
}

/** Remove the stale temp trees (staleTempDirs()); returns what was removed. */
export function sweepTempDirs(opts: { dir?: string; now?: number } = {}): SweptTemp[] {
  return staleTempDirs(opts).filter((t) => {
    try {
      removeTree(t.path);
      return true;
    } catch {
      return false; // another sweeper, or not ours to remove: leave it
    }
  });
}
