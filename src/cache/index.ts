// Stage cache: one directory per (stage id, key). An entry is produced in a temp directory
// beside it and renamed into place only when complete, so an entry is either whole or absent;
// a build killed at any moment leaves at most a temp directory, which is ignored and swept.
// A lock per entry keeps two builds from producing the same entry at once.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync, renameSync } from 'node:fs';
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

export class StageCache {
  constructor(readonly root: string) {}

  entryDir(stageId: string, key: string): string {
    return path.join(this.root, safe(stageId), key);
  }

  /** The entry's directory when it is complete; undefined otherwise. */
  lookup(stageId: string, key: string): string | undefined {
    const dir = this.entryDir(stageId, key);
    return existsSync(path.join(dir, 'meta.json')) ? dir : undefined;
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
  ): Promise<{ dir: string; produced: boolean }> {
    const final = this.entryDir(stageId, key);
    const parent = path.dirname(final);
    mkdirSync(parent, { recursive: true });
    // the lock records its holder's pid: a build killed with -9 does not stall the next one
    const release = (await acquireLock(this.lockFile(stageId, key), { pollMs: 500, what: `stage ${stageId}` })) as () => void;
    try {
      if (this.lookup(stageId, key)) return { dir: final, produced: false };
      this.sweep(parent, key);
      const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
      mkdirSync(tmp, { recursive: true });
      const started = Date.now();
      try {
        const extra = (await fill(tmp)) ?? {};
        const meta: CacheEntryMeta = {
          stage: stageId,
          key,
          created: new Date().toISOString(),
          seconds: (Date.now() - started) / 1000,
          ...extra,
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
