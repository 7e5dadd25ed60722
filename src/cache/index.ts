// Stage cache: one directory per (stage id, key). An entry is produced in a temp directory
// beside it and renamed into place only when complete, so an entry is either whole or absent;
// a build killed at any moment leaves at most a temp directory, which is ignored and swept.
// A lock per entry keeps two builds from producing the same entry at once.
//
// Integrity (issue 21, defect 1). When an entry is committed, every path in it is recorded in
// MANIFEST: directories and files with their mode, files with size and sha256, symbolic links
// with their target; the manifest also names the entry's stage and key and the sha256 of the
// other meta.json fields, and meta.json holds the manifest's own sha256. Every use of an entry
// (lookup) checks the whole tree against it: a file or directory that is not in the manifest,
// one that is missing, another type, mode, size or link target, other bytes, a meta.json that
// was changed or that names another stage or key than where the entry lies: the entry is
// refused (onDamaged gets one line saying where and what) and the stage is rebuilt.
// Bytes are compared by sha256, with one shortcut: STAMPS records, per file, (size, mtime_ns,
// ctime_ns, inode, device) as they were when its bytes last matched the manifest (at commit, or
// after a full re-hash). A file whose stamp is unchanged is not read again. Any write through the
// file system changes ctime, and no ordinary tool can set ctime back (`touch` restores mtime
// only), so a same-size, same-mtime edit is re-hashed and caught; a copy of the state directory
// (new inodes) is re-hashed once and re-stamped. What the shortcut cannot see is damage below the
// file system (a failing disk, a raw device write): `deep` re-hashes every file whatever its
// stamp; the runner uses it for every entry a running stage reads and for entries whose bytes
// leave the machine (see src/pipeline/runner.ts). The manifest is a check against damage and
// mistakes, not against someone who can write the state directory (they can rewrite it too).
// An entry written before this format has no such check and is rebuilt.
// Each lookup touches the entry directory's mtime: `nginx-forge gc` reads it as the last use.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  utimesSync,
  writeFileSync,
  constants,
  type BigIntStats,
} from 'node:fs';
import path from 'node:path';
import { removeTree } from '../mounts.ts';
import { terminalSafe } from '../terminal.ts';
import { acquireLock, type LockOwner } from '../lock.ts';

export interface CacheEntryMeta {
  stage: string;
  key: string;
  created: string;
  seconds: number;
  [k: string]: unknown;
}

const safe = (id: string) => id.replace(/[^A-Za-z0-9._-]/g, '_');

/** The file list of an entry, written beside meta.json. */
export const MANIFEST = '.manifest.json';
/** The fast-path stamps of an entry's files (not part of what is checked: a stale stamp only costs a re-hash). */
export const STAMPS = '.stamps.json';
/** The manifest format: entries of another (older) format are rebuilt. */
export const MANIFEST_VERSION = 2;
const OWN = new Set(['meta.json', MANIFEST, STAMPS]);

export type FileRecord =
  | { t: 'f'; mode: number; size: number; sha256: string }
  | { t: 'l'; link: string }
  | { t: 'd'; mode: number }
  | { t: 'o'; mode: number };

interface Manifest {
  v: number;
  stage: string;
  key: string;
  /** sha256 of meta.json's fields other than `integrity` */
  meta: string;
  files: Record<string, FileRecord>;
}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const metaHash = (meta: Record<string, unknown>) => {
  const { integrity: _, ...rest } = meta;
  return sha256(JSON.stringify(rest));
};
const stampOf = (st: BigIntStats) => `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`;
const modeOf = (st: BigIntStats) => Number(st.mode & 0o7777n);
const typeOf = (st: BigIntStats): FileRecord['t'] => (st.isSymbolicLink() ? 'l' : st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'o');
const TYPE_NAME = { f: 'a regular file', l: 'a symbolic link', d: 'a directory', o: 'a special file' } as const;
const octal = (m: number) => `0${m.toString(8).padStart(3, '0')}`;

const buf = Buffer.allocUnsafe(1 << 20);
/** sha256 of a file read through one descriptor, and its stamp when nothing changed while reading. */
function hashFile(file: string): { sha256: string; stamp?: string; bytes: number } {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    const before = fstatSync(fd, { bigint: true });
    const h = createHash('sha256');
    let bytes = 0;
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) h.update(buf.subarray(0, n));
    const after = fstatSync(fd, { bigint: true });
    return { sha256: h.digest('hex'), stamp: stampOf(before) === stampOf(after) ? stampOf(after) : undefined, bytes };
  } finally {
    closeSync(fd);
  }
}

/** Every path below `dir` (relative, sorted), with its lstat, without the entry's own files. */
function walkTree(dir: string): Map<string, BigIntStats> {
  const out = new Map<string, BigIntStats>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      if (!rel && OWN.has(name)) continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(path.join(dir, r), { bigint: true });
      out.set(r, st);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** The manifest records of a finished tree, and the stamps of its files. */
function recordTree(dir: string): { files: Record<string, FileRecord>; stamps: Record<string, string> } {
  const files: Record<string, FileRecord> = {};
  const stamps: Record<string, string> = {};
  for (const [r, st] of walkTree(dir)) {
    const full = path.join(dir, r);
    const t = typeOf(st);
    if (t === 'l') files[r] = { t, link: readlinkSync(full) };
    else if (t === 'f') {
      const h = hashFile(full);
      files[r] = { t, mode: modeOf(st), size: Number(st.size), sha256: h.sha256 };
      if (h.stamp) stamps[r] = h.stamp;
    } else files[r] = { t, mode: modeOf(st) };
  }
  return { files, stamps };
}

export type EntryCheck =
  | { ok: true; /** bytes read and hashed (0 when every stamp matched) */ hashed: number }
  | { ok: false; /** `<path in the entry> <what differs>` */ problem: string; /** the file concerned */ path: string; what: string };

/** The one line reporting a refused entry: stage, path, what differed, and that it is rebuilt (bytes read from the entry, such as a broken meta.json, shown as escapes). */
export const refusedLine = (stageId: string, c: { path: string; what: string }) => terminalSafe(`cache: ${stageId}: ${c.path} ${c.what}; rebuilding`);

/** One line for a stale stage lock taken over (its holder gone, or the file unreadable). */
export const takenOverLine = (stageId: string, lockFile: string, why: string) => terminalSafe(`cache: ${stageId}: took over the stale lock ${lockFile} (${why})`);

type LockTakeOver = (why: string, owner?: LockOwner) => void;

export interface VerifyOptions {
  /** re-hash every file, whatever its stamp */
  deep?: boolean;
  /** check this directory as the entry of (stageId, key) instead of the one in the cache (adopt) */
  at?: string;
}

export class StageCache {
  constructor(readonly root: string) {}

  entryDir(stageId: string, key: string): string {
    return path.join(this.root, safe(stageId), key);
  }

  /**
   * The entry's directory when it is complete and passes its integrity check; undefined otherwise
   * (absent, or refused: then onDamaged hears of it, and produce() replaces it). Records the use for gc.
   */
  lookup(stageId: string, key: string, opts: VerifyOptions = {}): string | undefined {
    const r = this.check(stageId, key, opts);
    if (r.refused) this.onDamaged?.(refusedLine(stageId, r.refused), stageId, key, r.refused);
    return r.dir;
  }

  /** lookup() without the report: the entry's directory, or why it was refused (absent: neither). */
  check(stageId: string, key: string, opts: VerifyOptions = {}): { dir?: string; refused?: Extract<EntryCheck, { ok: false }> } {
    const dir = this.entryDir(stageId, key);
    if (!existsSync(path.join(dir, 'meta.json'))) return {};
    const c = this.verify(stageId, key, opts);
    if (!c.ok) return { refused: c };
    try {
      const now = new Date();
      utimesSync(dir, now, now);
    } catch {
      /* a read-only cache still serves */
    }
    return { dir };
  }

  /** Called when lookup() refuses an entry, with the one line to report (the caller rebuilds it). */
  onDamaged?: (line: string, stageId: string, key: string, check: Extract<EntryCheck, { ok: false }>) => void;

  /**
   * Check an entry against its manifest (see the top of this file). `stageId` may also be the
   * entry's directory name (gc walks directories).
   */
  verify(stageId: string, key: string, opts: VerifyOptions = {}): EntryCheck {
    const dir = opts.at ?? this.entryDir(stageId, key);
    const bad = (rel: string, what: string): EntryCheck => ({ ok: false, problem: `${rel} ${what}`, path: path.join(dir, rel), what });
    let meta: CacheEntryMeta;
    try {
      meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CacheEntryMeta;
    } catch (e) {
      return bad('meta.json', `unreadable: ${(e as Error).message}`);
    }
    // the entry must be the one asked for: an entry copied to another key is not that key's output
    if ((meta.stage !== stageId && safe(String(meta.stage)) !== stageId) || meta.key !== key) {
      return bad('meta.json', `names stage ${meta.stage} key ${meta.key}, but the entry lies at stage ${stageId} key ${key}`);
    }
    const integrity = meta.integrity as { manifestSha256?: string; version?: number } | undefined;
    if (!integrity?.manifestSha256 || integrity.version !== MANIFEST_VERSION) {
      return bad(MANIFEST, `written by an older nginx-forge (no manifest of format ${MANIFEST_VERSION} with every file's sha256 and mode)`);
    }
    let manifest: Manifest;
    try {
      const raw = readFileSync(path.join(dir, MANIFEST));
      if (sha256(raw) !== integrity.manifestSha256) return bad(MANIFEST, 'was changed (its sha256 differs from the one in meta.json)');
      manifest = JSON.parse(raw.toString('utf8')) as Manifest;
    } catch (e) {
      return bad(MANIFEST, `unreadable: ${(e as Error).message}`);
    }
    if (manifest.v !== MANIFEST_VERSION || manifest.stage !== meta.stage || manifest.key !== meta.key) return bad(MANIFEST, `is not the manifest of stage ${meta.stage} key ${meta.key}`);
    if (manifest.meta !== metaHash(meta)) return bad('meta.json', 'was changed (its fields differ from those recorded in the manifest)');

    let actual: Map<string, BigIntStats>;
    try {
      actual = walkTree(dir);
    } catch (e) {
      return bad('.', `unreadable: ${(e as Error).message}`);
    }
    const files = manifest.files;
    for (const rel of Object.keys(files)) if (!actual.has(rel)) return bad(rel, `is missing (the manifest records ${TYPE_NAME[files[rel]!.t]})`);
    for (const [rel, st] of actual) {
      const rec = files[rel];
      const t = typeOf(st);
      if (!rec) return bad(rel, `is not in the manifest (${TYPE_NAME[t]} added after the entry was made)`);
      if (t !== rec.t) return bad(rel, `is ${TYPE_NAME[t]}, the manifest records ${TYPE_NAME[rec.t]}`);
      if (rec.t === 'l') {
        const link = readlinkSync(path.join(dir, rel));
        if (link !== rec.link) return bad(rel, `links to ${link}, the manifest records ${rec.link}`);
        continue;
      }
      if (modeOf(st) !== rec.mode) return bad(rel, `has mode ${octal(modeOf(st))}, the manifest records ${octal(rec.mode)}`);
      if (rec.t === 'f' && Number(st.size) !== rec.size) return bad(rel, `has ${st.size} bytes, the manifest records ${rec.size}`);
    }
    // the bytes: a file whose stamp is unchanged since its bytes last matched is not read again
    let stamps: Record<string, string> = {};
    try {
      stamps = JSON.parse(readFileSync(path.join(dir, STAMPS), 'utf8')) as Record<string, string>;
    } catch {
      /* none (or unreadable): every file is hashed */
    }
    let hashed = 0;
    let restamped = false;
    for (const [rel, rec] of Object.entries(files)) {
      if (rec.t !== 'f') continue;
      const st = actual.get(rel)!;
      if (!opts.deep && stamps[rel] !== undefined && stamps[rel] === stampOf(st)) continue;
      let h;
      try {
        h = hashFile(path.join(dir, rel));
      } catch (e) {
        return bad(rel, `unreadable: ${(e as Error).message}`);
      }
      hashed += h.bytes;
      if (h.sha256 !== rec.sha256) return bad(rel, `has other bytes than when the entry was made (sha256 ${h.sha256}, the manifest records ${rec.sha256})`);
      if (h.stamp && stamps[rel] !== h.stamp) {
        stamps[rel] = h.stamp;
        restamped = true;
      }
    }
    if (restamped) {
      try {
        const tmp = path.join(dir, `${STAMPS}.${process.pid}.tmp`);
        writeFileSync(tmp, `${JSON.stringify(stamps)}\n`);
        renameSync(tmp, path.join(dir, STAMPS));
      } catch {
        /* a read-only cache: hashed again next time */
      }
    }
    return { ok: true, hashed };
  }

  meta(stageId: string, key: string): CacheEntryMeta | undefined {
    const dir = this.lookup(stageId, key);
    return dir ? (JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CacheEntryMeta) : undefined;
  }

  /**
   * Produce an entry: `fill(tmpDir)` writes the outputs; on success the directory is renamed into
   * place. Under a lock: if another process produced it meanwhile, its entry is returned as is.
   */
  async produce(
    stageId: string,
    key: string,
    fill: (tmpDir: string) => Promise<Record<string, unknown> | void>,
    opts: { signal?: AbortSignal; onWait?: (owner?: LockOwner) => void; onTakeOver?: LockTakeOver } = {},
  ): Promise<{ dir: string; produced: boolean }> {
    const final = this.entryDir(stageId, key);
    const parent = path.dirname(final);
    mkdirSync(parent, { recursive: true });
    // the lock records its holder's pid: a build killed with -9 does not stall the next one
    // (waiting for another build's lock ends at once on Ctrl-C when a signal is given)
    // (onWait hears once that another process holds it, so that a wait is never silent)
    const release = (await acquireLock(this.lockFile(stageId, key), { pollMs: 500, what: `stage ${stageId}`, signal: opts.signal, onWait: opts.onWait, onTakeOver: opts.onTakeOver })) as () => void;
    try {
      // produced by another build meanwhile (a refused entry was reported by whoever looked it up;
      // every byte is compared: the caller may have refused it for bytes its stamps do not show)
      if (this.check(stageId, key, { deep: true }).dir) return { dir: final, produced: false };
      this.sweep(parent, key);
      const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
      mkdirSync(tmp, { recursive: true });
      const started = Date.now();
      try {
        const extra = (await fill(tmp)) ?? {};
        const { files, stamps } = recordTree(tmp);
        const base: CacheEntryMeta = { stage: stageId, key, created: new Date().toISOString(), seconds: (Date.now() - started) / 1000, ...extra };
        // where the entry lies, whatever the stage returned
        base.stage = stageId;
        base.key = key;
        const manifestData: Manifest = { v: MANIFEST_VERSION, stage: stageId, key, meta: metaHash(base), files };
        const manifest = Buffer.from(`${JSON.stringify(manifestData)}\n`);
        writeFileSync(path.join(tmp, MANIFEST), manifest);
        writeFileSync(path.join(tmp, STAMPS), `${JSON.stringify(stamps)}\n`);
        const recorded = Object.values(files);
        const meta: CacheEntryMeta = {
          ...base,
          integrity: {
            version: MANIFEST_VERSION,
            files: recorded.length,
            bytes: recorded.reduce((n, r) => n + (r.t === 'f' ? r.size : 0), 0),
            manifestSha256: sha256(manifest),
          },
        };
        // meta.json is written last: its presence inside the renamed dir marks completeness
        writeFileSync(path.join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
        if (existsSync(final)) removeTree(final); // incomplete or refused leftover
        renameSync(tmp, final);
      } catch (e) {
        // a killed debootstrap leaves proc mounted in its root: unmounted first, never deleted through
        try {
          removeTree(tmp);
        } catch {
          // a mount that would not go: the stage's own error is the one to report; the next
          // produce() of this key sweeps the leftover and names the mount if it is still there
        }
        throw e;
      }
      return { dir: final, produced: true };
    } finally {
      release();
    }
  }

  /**
   * Take in an entry made elsewhere (a remote cache's copy, unpacked by the caller into `src`, a
   * directory beside the entry named by tempFor(), so that a rename moves it into place). Under
   * the entry's lock: `src` must pass the same check as every local use, every byte hashed, as the
   * entry of exactly this stage and key; STAMPS (this machine's inodes and times) is made anew.
   * Returns the entry's directory, or why `src` was refused (then `src` is removed, nothing kept).
   */
  async adopt(stageId: string, key: string, src: string, opts: { signal?: AbortSignal; onTakeOver?: LockTakeOver } = {}): Promise<{ dir: string } | { refused: Extract<EntryCheck, { ok: false }> }> {
    const final = this.entryDir(stageId, key);
    const release = (await acquireLock(this.lockFile(stageId, key), { pollMs: 500, what: `stage ${stageId}`, signal: opts.signal, onTakeOver: opts.onTakeOver })) as () => void;
    try {
      if (this.check(stageId, key, { deep: true }).dir) {
        removeTree(src);
        return { dir: final };
      }
      rmSync(path.join(src, STAMPS), { force: true });
      const c = this.verify(stageId, key, { deep: true, at: src });
      if (!c.ok) {
        removeTree(src);
        return { refused: c };
      }
      if (existsSync(final)) removeTree(final);
      renameSync(src, final);
      return { dir: final };
    } finally {
      release();
    }
  }

  /** A fresh temp path beside the entry (swept by the next produce() of the key when left behind). */
  tempFor(stageId: string, key: string): string {
    const final = this.entryDir(stageId, key);
    mkdirSync(path.dirname(final), { recursive: true });
    return `${final}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** The lock file of an entry (held while a build produces it). */
  lockFile(stageId: string, key: string): string {
    return `${this.entryDir(stageId, key)}.lock`;
  }

  /** Remove temp directories left by killed builds for this key (we hold the lock). */
  private sweep(parent: string, key: string): void {
    for (const f of readdirSync(parent)) {
      if (f.startsWith(`${key}.tmp-`)) removeTree(path.join(parent, f));
    }
  }

  /** Drop an entry (used by --force before producing it again). */
  remove(stageId: string, key: string): void {
    removeTree(this.entryDir(stageId, key));
  }
}
