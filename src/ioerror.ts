// The one classification of file-system errors (ENOSPC, EDQUOT, EROFS, EACCES, EPERM, EIO, EFBIG, ENOTDIR)
// into a user error (IoError, exit 10) that names the path, the file system it is on with its free
// space, and the setting that moves the writes elsewhere (--out, --distdir, NGINX_FORGE_HOME,
// TMPDIR). Used where the path is known (downloads, the log of a command, SHA256SUMS), by exec.ts
// for a command whose output reports one, and by cli.ts's handler for any other error carrying
// such a code, so a full disk is never an "internal error", a network error to retry, or a
// patch that "does not apply".
import { existsSync, readFileSync, realpathSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ForgeError, IoError } from './errors.ts';
import { fmtBytes } from './format.ts';
import { distfilesDir, stateDir } from './paths.ts';

const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error (the device or the file system failed)',
  EFBIG: 'file too large for the file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a directory',
};

/** The errno codes that are the file system's answer, not the input's or the network's. */
export const IO_CODES: ReadonlySet<string> = new Set(Object.keys(WORDS));

/** Syscalls of node:fs (EACCES/EPERM count only from these: a socket or kill() can say them too). */
const FS_SYSCALLS = new Set([
  'open', 'write', 'read', 'mkdir', 'mkdtemp', 'rename', 'copyfile', 'cp', 'unlink', 'rmdir', 'rm', 'symlink', 'link',
  'chmod', 'fchmod', 'lchmod', 'chown', 'fchown', 'lchown', 'utime', 'futime', 'lutime', 'fsync', 'fdatasync',
  'ftruncate', 'truncate', 'close', 'scandir', 'opendir', 'stat', 'lstat', 'fstat', 'access', 'readlink', 'realpath', 'statfs',
]);

const READ_SYSCALLS = new Set(['read', 'scandir', 'opendir', 'stat', 'lstat', 'fstat', 'readlink', 'realpath', 'access', 'statfs']);

type Errno = NodeJS.ErrnoException & { dest?: string };

/** True for an error of the file system (not of a socket, a child process or kill()). */
export function isIoError(e: unknown): e is Errno {
  const err = e as Errno | undefined;
  if (!err || typeof err !== 'object' || err instanceof ForgeError) return false;
  if (typeof err.code !== 'string' || !IO_CODES.has(err.code)) return false;
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    const sys = String(err.syscall ?? '');
    return FS_SYSCALLS.has(sys) || (typeof err.path === 'string' && !sys.startsWith('spawn') && sys !== 'connect' && sys !== 'bind');
  }
  return true;
}

/** The first file-system error in an error, its causes, or the errors it aggregates. */
export function findIoError(e: unknown, depth = 0): Errno | undefined {
  if (depth > 6 || !e || typeof e !== 'object') return undefined;
  if (isIoError(e)) return e;
  const x = e as { cause?: unknown; errors?: unknown[] };
  for (const inner of [x.cause, ...(Array.isArray(x.errors) ? x.errors : [])]) {
    const found = findIoError(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The errno code a command's error lines report ("No space left on device", ...), if any. */
export function ioCodeInOutput(lines: string[]): string | undefined {
  const text = lines.join('\n');
  if (/no space left on device|ENOSPC/i.test(text)) return 'ENOSPC';
  if (/disk quota exceeded|EDQUOT/i.test(text)) return 'EDQUOT';
  if (/read-only file system|EROFS/i.test(text)) return 'EROFS';
  if (/input\/output error|\bEIO\b/.test(text)) return 'EIO';
  if (/file too large|EFBIG/i.test(text)) return 'EFBIG';
  return undefined;
}

// --- where nginx-forge writes, and the setting that moves each place

interface Place {
  label: string;
  dir: string;
  /** how to move it: "give --out a directory" + " on another disk" / " that is writable" */
  move: string;
}

const noted = new Map<string, Place>();

/** A directory this command writes to, given by a flag (--out, --distdir): IoError names the flag. */
export function noteWritePlace(flag: string, dir: string): void {
  const d = path.resolve(dir);
  noted.set(d, { label: flag, dir: d, move: `give ${flag} a directory` });
}

const STORE_MOVE = 'pass --distdir (or set NGINX_FORGE_DISTDIR) to a directory';

/** The distfiles store a fetch writes to (unless a flag named it already). */
export function noteStore(dir: string): void {
  const d = path.resolve(dir);
  if (!noted.has(d)) noted.set(d, { label: 'the distfiles store', dir: d, move: STORE_MOVE });
}

function places(): Place[] {
  const home = process.env.NGINX_FORGE_HOME;
  const store = process.env.NGINX_FORGE_DISTDIR;
  const out: Place[] = [...noted.values()];
  const add = (p: Place) => {
    if (!out.some((x) => x.dir === p.dir)) out.push(p);
  };
  // the state directory first: a path-less error on its disk names it (the store is in it by default)
  add({ label: home ? 'NGINX_FORGE_HOME' : 'the state directory', dir: stateDir(), move: 'set NGINX_FORGE_HOME to a directory' });
  add({ label: store ? 'NGINX_FORGE_DISTDIR' : 'the distfiles store', dir: distfilesDir(), move: STORE_MOVE });
  add({ label: 'TMPDIR', dir: path.resolve(os.tmpdir()), move: 'set TMPDIR to a directory' });
  return out;
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`);

/** The known place a path lies in (the deepest one). */
function placeOf(p: string): Place | undefined {
  const abs = path.resolve(p);
  return places()
    .filter((x) => inside(abs, x.dir))
    .sort((a, b) => b.dir.length - a.dir.length)[0];
}

function nearestExisting(p: string): string {
  let q = path.resolve(p);
  while (!existsSync(q) && path.dirname(q) !== q) q = path.dirname(q);
  try {
    return realpathSync(q);
  } catch {
    return q;
  }
}

interface Mount {
  point: string;
  fstype: string;
  source: string;
  readOnly: boolean;
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount a path is on (Linux /proc/self/mountinfo; undefined elsewhere). */
export function mountOf(p: string): Mount | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const real = nearestExisting(p);
  let best: Mount | undefined;
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const g = post.split(' ');
    const point = unescapeMount(f[4] ?? '');
    if (!point || !(point === '/' || inside(real, point))) continue;
    // the later of two mounts on one point is the one on top
    if (!best || point.length >= best.point.length) best = { point, fstype: g[0] ?? '?', source: unescapeMount(g[1] ?? '?'), readOnly: (f[5] ?? '').split(',').includes('ro') };
  }
  return best;
}

interface Space {
  free: number;
  size: number;
  inodesFree: number;
  inodes: number;
}

function spaceOf(p: string): Space | undefined {
  try {
    const s = statfsSync(nearestExisting(p));
    return { free: s.bavail * s.bsize, size: s.blocks * s.bsize, inodesFree: s.ffree, inodes: s.files };
  } catch {
    return undefined;
  }
}

/** "tmpfs mounted at /mnt/x: 0 B free of 1.0 MiB" (what df would say about the path's file system) */
export function describeFs(p: string): string {
  const m = mountOf(p);
  const s = spaceOf(p);
  const where = m ? `${m.fstype}${m.source && m.source !== m.fstype && m.source !== 'none' ? ` ${m.source}` : ''} mounted at ${m.point}` : 'its file system';
  const room = s ? `: ${fmtBytes(s.free)} free of ${fmtBytes(s.size)}${s.inodes > 0 && s.inodesFree === 0 ? ', no inodes left' : ''}` : '';
  return `${where}${room}${m?.readOnly ? ' (mounted read-only)' : ''}`;
}

const isFull = (s: Space | undefined) => Boolean(s && (s.free < Math.max(1024 ** 2, s.size * 0.001) || (s.inodes > 0 && s.inodesFree === 0)));

export interface IoErrorOptions {
  /** the file that could not be written (or read); else taken from the error */
  path?: string;
  /** what was being done, when no path is known: "running dpkg-deb (nginx package:deb)" */
  action?: string;
  /** lines printed after the first one (a command's detail) */
  detail?: string;
}

/** The user error for a file-system error (an errno error, or `{ code }` read from a command's output). */
export function ioError(e: unknown, opts: IoErrorOptions = {}): IoError {
  const err = (e ?? {}) as Errno;
  const code = String(err.code ?? 'EIO');
  const words = WORDS[code] ?? code;
  const file = opts.path ?? (typeof err.dest === 'string' ? err.dest : typeof err.path === 'string' ? err.path : undefined);
  const verb = READ_SYSCALLS.has(String(err.syscall ?? '')) ? 'read' : 'write';
  const lines: string[] = [];
  let place: Place | undefined;
  let at: string | undefined;
  if (file) {
    const abs = path.resolve(file);
    lines.push(`cannot ${verb} ${abs}: ${words} (${code})`);
    if (opts.detail) lines.push(opts.detail);
    lines.push(`  it is on ${describeFs(abs)}`);
    place = placeOf(abs);
    at = mountOf(abs)?.point ?? path.dirname(abs);
  } else {
    lines.push(`${words} (${code})${opts.action ? ` while ${opts.action}` : ''}`);
    if (opts.detail) lines.push(opts.detail);
    // the path is not known: show where nginx-forge writes, and which of those is full
    const seen = new Set<string>();
    const all = places().filter((p) => {
      const key = mountOf(p.dir)?.point ?? p.dir;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const full = all.filter((p) => (code === 'EROFS' ? mountOf(p.dir)?.readOnly : isFull(spaceOf(p.dir))));
    for (const p of all) lines.push(`  ${full.includes(p) ? (code === 'EROFS' ? 'read-only: ' : 'full: ') : ''}${p.label} ${p.dir} is on ${describeFs(p.dir)}`);
    place = full[0];
    at = place ? (mountOf(place.dir)?.point ?? place.dir) : undefined;
  }
  const other = (what: string) => (place ? `${place.move} ${what}` : `write to a directory ${what}`);
  const isState = place && inside(place.dir, stateDir());
  let hint: string;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      hint = `${code === 'EDQUOT' ? 'your disk quota is used up: ' : ''}free space${at ? ` on ${at}` : ''}${isState ? ' (`nginx-forge gc` removes unused stage entries, scratch trees and downloads)' : ''}, or ${other('on another disk')}; then run the same command again`;
      break;
    case 'EROFS':
      hint = `${at ?? 'that file system'} is mounted read-only: remount it read-write, or ${other('on a writable file system')}`;
      break;
    case 'EACCES':
    case 'EPERM': {
      const who = (() => {
        try {
          const u = os.userInfo();
          return `user ${u.username} (uid ${u.uid})`;
        } catch {
          return 'this user';
        }
      })();
      hint = `${who} may not ${verb} ${file ?? 'there'}: fix its owner or permissions, or ${other('this user can write')}`;
      break;
    }
    case 'ENOTDIR':
      hint = `${file ? `a directory above ${file}` : 'a directory on the way'} is a file: move that file away, or ${other('elsewhere')}`;
      break;
    case 'EIO':
      hint = `the device${at ? ` under ${at}` : ''} reported an I/O error: check it (dmesg, smartctl) before running again, or ${other('on another disk')}`;
      break;
    default:
      hint = `the file system${at ? ` at ${at}` : ''} cannot hold a file this large: ${other('on another file system')}`;
  }
  return new IoError(code, file && path.resolve(file), lines.join('\n'), hint, e instanceof Error ? e : undefined);
}

/** The IoError for any error that carries a file-system code (itself, a cause, one it aggregates). */
export function asIoError(e: unknown): IoError | undefined {
  if (e instanceof IoError) return e;
  if (e instanceof ForgeError) return undefined;
  const found = findIoError(e);
  return found ? ioError(found) : undefined;
}

/** Run fs work and turn a file-system error into an IoError about `file`. */
export function writing<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isIoError(e)) throw ioError(e, { path: (e as Errno).dest ?? (e as Errno).path ?? file });
    throw e;
  }
}
