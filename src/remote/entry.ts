// A stage-cache entry as one file that can travel (an OCI layer): a gzip'd tar whose single
// top-level directory `entry/` holds the entry's tree as the cache keeps it, meta.json and its
// manifest included, the stamps left out (they are inodes and times of the machine that made it).
// Unpacking trusts nothing: the archive goes through the same extraction as a source tarball
// (src/archive/extract.ts: no absolute path, no "..", no link out of the tree, no device, size
// and ratio limits), and the tree must then pass the cache's own check, every byte hashed, as the
// entry of exactly the stage and key asked for (StageCache.adopt).
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { create } from 'tar';
import { extractArchive, type ExtractLimits } from '../archive/extract.ts';
import { STAMPS, type EntryCheck, type StageCache } from '../cache/index.ts';
import { removeTree } from '../mounts.ts';

/** The top-level directory of a packed entry. */
export const ENTRY_TOPDIR = 'entry';

/** Pack an entry's directory into `outFile` (tar.gz); returns its size. */
export async function packEntry(entryDir: string, outFile: string): Promise<{ size: number }> {
  const names = readdirSync(entryDir).filter((n) => n !== STAMPS).sort();
  mkdirSync(path.dirname(outFile), { recursive: true });
  // portable: no owner names, uid/gid or atime/ctime; the modes are the manifest's
  await create({ gzip: { level: 6 }, file: outFile, cwd: entryDir, prefix: ENTRY_TOPDIR, portable: true, strict: true }, names);
  return { size: statSync(outFile).size };
}

export type UnpackResult = { dir: string } | { refused: Extract<EntryCheck, { ok: false }> };

/**
 * Unpack a packed entry into the cache as the entry of (stageId, key). Throws ExtractError for an
 * archive that is not a plain entry tree; returns `refused` when the tree is not exactly the entry
 * its manifest records (nothing is kept then).
 */
export async function unpackEntry(
  cache: StageCache,
  stageId: string,
  key: string,
  archive: string,
  opts: { signal?: AbortSignal; limits?: Partial<ExtractLimits> } = {},
): Promise<UnpackResult> {
  const parent = cache.tempFor(stageId, key);
  try {
    const top = await extractArchive(archive, parent, ENTRY_TOPDIR, opts);
    return await cache.adopt(stageId, key, top, { signal: opts.signal });
  } finally {
    removeTree(parent);
  }
}
