// Stage cache: one directory per (stage id, key). An entry is produced in a temp directory
// beside it and renamed into place only when complete, so an entry is either whole or absent;
// a build killed at any moment leaves at most a temp directory, which is ignored and swept.
// A lock per entry keeps two builds from producing the same entry at once.
// Integrity: when an entry is committed, every file in it is recorded (type, size, sha256; link
// targets) in MANIFEST, whose own sha256 is in meta.json. lookup() checks cheaply (lstat: every
// file there, same type and size, no link changed; the manifest unchanged) and treats a damaged
// entry as absent, so the stage is rebuilt instead of trusted; verify(..., { deep: true }) also
// re-hashes the bytes. An entry written before manifests existed has no check and is rebuilt.
// Each lookup touches the entry directory's mtime: `nginx-forge gc` reads it as the last use.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { acquireLock } from '../lock.ts';

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

type FileRecord = { t: 'f'; size: number; sha256: string } | { t: 'l'; link: string } | { t: 'd' } | { t: 'o' };

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Every path below `dir` (sorted, relative), without meta.json and the manifest. */
function recordTree(dir: string): Record<string, FileRecord> {
  const out: Record<string, FileRecord> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (!rel && (name === 'meta.json' || name === MANIFEST)) continue;
      const full = path.join(dir, r);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out[r] = { t: 'l', link: readlinkSync(full) };
      else if (st.isDirectory()) {
        out[r] = { t: 'd' };
        walk(r);
      } else if (st.isFile()) out[r] = { t: 'f', size: st.size, sha256: sha256File(full) };
      else out[r] = { t: 'o' };
    }
  };
  walk('');
  return out;
}

export type EntryCheck = { ok: true } | { ok: false; problem: string };

export class StageCache {
  constructor(readonly root: string) {}

  entryDir(stageId: string, key: string): string {
    return path.join(this.root, safe(stageId), key);
  }

  /**
   * The entry's directory when it is complete and passes its integrity check; undefined otherwise
   * (absent, or damaged: then it is rebuilt, and produce() replaces it). Records the use for gc.
   */
  lookup(stageId: string, key: string): string | undefined {
    const dir = this.entryDir(stageId, key);
    if (!existsSync(path.join(dir, 'meta.json'))) return undefined;
    const c = this.verify(stageId, key);
    if (!c.ok) {
      this.onDamaged?.(stageId, key, c.problem);
      return undefined;
    }
    try {
      const now = new Date();
      utimesSync(dir, now, now);
    } catch {
      /* a read-only cache still serves */
    }
    return dir;
  }

  /** Called when lookup() finds a damaged entry (the build logs it). */
  onDamaged?: (stageId: string, key: string, problem: string) => void;

  /**
   * Check an entry against its manifest: every recorded path there with the same type, size and
   * link target, nothing missing; `deep` also compares every file's sha256.
   */
  verify(stageId: string, key: string, opts: { deep?: boolean } = {}): EntryCheck {
    const dir = this.entryDir(stageId, key);
    let meta: CacheEntryMeta;
    try {
      meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CacheEntryMeta;
    } catch (e) {
      return { ok: false, problem: `meta.json unreadable: ${(e as Error).message}` };
    }
    const integrity = meta.integrity as { manifestSha256?: string } | undefined;
    if (!integrity?.manifestSha256) return { ok: false, problem: 'written by an older nginx-forge (no file manifest to check it against)' };
    let files: Record<string, FileRecord>;
    try {
      const raw = readFileSync(path.join(dir, MANIFEST));
      if (createHash('sha256').update(raw).digest('hex') !== integrity.manifestSha256) return { ok: false, problem: `${MANIFEST} was changed` };
      files = JSON.parse(raw.toString('utf8')) as Record<string, FileRecord>;
    } catch (e) {
      return { ok: false, problem: `${MANIFEST} unreadable: ${(e as Error).message}` };
    }
    for (const [rel, rec] of Object.entries(files)) {
      const full = path.join(dir, rel);
      let st;
      try {
        st = lstatSync(full);
      } catch {
        return { ok: false, problem: `${rel} is missing` };
      }
      if (rec.t === 'f') {
        if (!st.isFile()) return { ok: false, problem: `${rel} is no longer a regular file` };
        if (st.size !== rec.size) return { ok: false, problem: `${rel} has ${st.size} bytes, recorded ${rec.size}` };
        if (opts.deep && sha256File(full) !== rec.sha256) return { ok: false, problem: `${rel} has changed (sha256 differs)` };
      } else if (rec.t === 'l') {
        if (!st.isSymbolicLink() || readlinkSync(full) !== rec.link) return { ok: false, problem: `${rel} is no longer the symbolic link to ${rec.link}` };
      } else if (rec.t === 'd' && !st.isDirectory()) return { ok: false, problem: `${rel} is no longer a directory` };
    }
    return { ok: true };
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
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ dir: string; produced: boolean }> {
    const final = this.entryDir(stageId, key);
    const parent = path.dirname(final);
    mkdirSync(parent, { recursive: true });
    // the lock records its holder's pid: a build killed with -9 does not stall the next one
    // (waiting for another build's lock ends at once on Ctrl-C when a signal is given)
    const release = (await acquireLock(this.lockFile(stageId, key), { pollMs: 500, what: `stage ${stageId}`, signal: opts.signal })) as () => void;
    try {
      if (this.lookup(stageId, key)) return { dir: final, produced: false };
      this.sweep(parent, key);
      const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
      mkdirSync(tmp, { recursive: true });
      const started = Date.now();
      try {
        const extra = (await fill(tmp)) ?? {};
        const files = recordTree(tmp);
        const manifest = Buffer.from(`${JSON.stringify(files)}\n`);
        writeFileSync(path.join(tmp, MANIFEST), manifest);
        const recorded = Object.values(files);
        const meta: CacheEntryMeta = {
          stage: stageId,
          key,
          created: new Date().toISOString(),
          seconds: (Date.now() - started) / 1000,
          ...extra,
          integrity: {
            files: recorded.length,
            bytes: recorded.reduce((n, r) => n + (r.t === 'f' ? r.size : 0), 0),
            manifestSha256: createHash('sha256').update(manifest).digest('hex'),
          },
        };
        // meta.json is written last: its presence inside the renamed dir marks completeness
        writeFileSync(path.join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
        if (existsSync(final)) rmSync(final, { recursive: true, force: true }); // incomplete leftover
        renameSync(tmp, final);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
      return { dir: final, produced: true };
    } finally {
      release();
    }
  }

  /** The lock file of an entry (held while a build produces it). */
  lockFile(stageId: string, key: string): string {
    return `${this.entryDir(stageId, key)}.lock`;
  }

  /** Remove temp directories left by killed builds for this key (we hold the lock). */
  private sweep(parent: string, key: string): void {
    for (const f of readdirSync(parent)) {
      if (f.startsWith(`${key}.tmp-`)) rmSync(path.join(parent, f), { recursive: true, force: true });
    }
  }

  /** Drop an entry (used by --force before producing it again). */
  remove(stageId: string, key: string): void {
    rmSync(this.entryDir(stageId, key), { recursive: true, force: true });
  }
}
