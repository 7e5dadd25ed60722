// Fetch a source archive pinned by content (SourceArtifact) and unpack it, verified:
//   - pinned by sha256: the ordinary store entry <distdir>/<sha256>/<file> (fetchArtifact);
//   - pinned only by treeSha256: <distdir>/tree-<treeSha256>/<file>. A download is unpacked into
//     a temp dir beside the destination (the safe extraction of src/archive/extract.ts), its tree
//     hashed, and only a matching archive is renamed into the store. A store entry whose tree no
//     longer matches is removed and fetched again.
// Either way the tree of every extraction is checked when treeSha256 is pinned: the caller gets
// a directory whose content is the pinned one, or an error and nothing.
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExtractError, FetchError, ForgeError } from '../errors.ts';
import type { SourceArtifact } from '../recipes/schema.ts';
import { extractArchive } from '../archive/extract.ts';
import { downloadFrom, SourceFailure } from './download.ts';
import { fetchArtifact, OfflineMissingError, sourcesOf, withCtx, type FetchOptions } from './index.ts';
import { partialPath, storePath, withStoreLock, type StoreKey } from './store.ts';
import { TreeHashMismatchError, verifyTree } from './treehash.ts';

export interface SourceTree {
  /** the unpacked, verified top-level directory */
  dir: string;
  /** the archive in the distfiles store */
  archive: string;
  /** the tree hash that was verified (undefined when only sha256 is pinned) */
  treeSha256?: string;
}

/** The store key of an archive pinned only by its tree: <distdir>/tree-<treeSha256>/<file>. */
export function treeStoreKey(a: Pick<SourceArtifact, 'file' | 'treeSha256' | 'size'>): StoreKey {
  return { file: a.file, sha256: `tree-${a.treeSha256}`, size: a.size };
}

/** Extract `archive` into destParent and check the pinned tree; on a mismatch nothing is left. */
async function extractChecked(a: SourceArtifact, archive: string, destParent: string, signal?: AbortSignal): Promise<string> {
  const dir = await extractArchive(archive, destParent, a.topdir, { signal });
  if (a.treeSha256) {
    try {
      await verifyTree(dir, a.treeSha256, a.file, signal);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }
  return dir;
}

const exists = (p: string) => stat(p).then(
  (s) => s.isFile(),
  () => false,
);

/**
 * Fetch (store → mirrors → upstream urls) and unpack the artifact into destParent/<topdir>,
 * verified by its sha256 and/or its tree hash.
 */
export async function fetchSourceTree(a: SourceArtifact, destParent: string, opts: FetchOptions): Promise<SourceTree> {
  if (a.sha256) {
    const archive = await fetchArtifact({ ...a, sha256: a.sha256 }, opts);
    return { dir: await extractChecked(a, archive, destParent, opts.signal), archive, treeSha256: a.treeSha256 };
  }
  const key = treeStoreKey(a);
  const stored = storePath(opts.distdir, key);
  const log = opts.onLog;
  if (await exists(stored)) {
    try {
      return { dir: await extractChecked(a, stored, destParent, opts.signal), archive: stored, treeSha256: a.treeSha256 };
    } catch (e) {
      if (!(e instanceof TreeHashMismatchError) && !(e instanceof ExtractError)) throw e;
      if (opts.offline) throw e;
      log?.(`${a.file}: store entry ${stored} is damaged (${e.message.split('\n')[0]}); removing it and fetching again`);
      await rm(path.dirname(stored), { recursive: true, force: true });
    }
  }
  if (opts.offline) throw new OfflineMissingError([{ file: a.file, sha256: key.sha256 }], opts.distdir);
  await mkdir(opts.distdir, { recursive: true });
  await mkdir(destParent, { recursive: true });
  const archive = await withStoreLock(opts.distdir, key, { signal: opts.signal }, () =>
    withCtx(opts, async (c) => {
      if (await exists(stored)) return stored; // another process stored it meanwhile
      const part = partialPath(opts.distdir, key);
      const attempts: { source: string; reason: string; kind?: string }[] = [];
      for (const s of sourcesOf({ ...a, sha256: key.sha256 }, opts)) {
        // the bytes of such an archive may differ between sources: never resume another one's part
        await rm(part, { force: true });
        const scratch = await mkdtemp(path.join(destParent, '.verify-'));
        try {
          await downloadFrom(s.url, { file: a.file, size: a.size }, part, c.dl);
          await extractChecked(a, part, scratch, opts.signal);
          await mkdir(path.dirname(stored), { recursive: true });
          await rename(part, stored);
          log?.(`${a.file}: stored ${stored} (tree sha256 ${a.treeSha256}) from ${s.url}`);
          return stored;
        } catch (e) {
          if (opts.signal?.aborted) throw e;
          const reason = e instanceof SourceFailure ? e.reason : e instanceof ForgeError ? e.message : (e as Error).message;
          if (!(e instanceof SourceFailure) && !(e instanceof TreeHashMismatchError) && !(e instanceof ExtractError)) throw e;
          attempts.push({ source: s.url, reason, kind: e instanceof SourceFailure ? e.kind : 'mismatch' });
          log?.(`${a.file}: ${s.url}: ${reason.split('\n').join(' ')}`);
          await rm(part, { force: true });
        } finally {
          await rm(scratch, { recursive: true, force: true });
        }
      }
      const lines = attempts.length
        ? attempts.map((t) => `  ${t.source}\n    ${t.reason.split('\n').join('\n    ')}`).join('\n')
        : '  (no source to try: the artifact has no upstream urls and no --mirror was given)';
      throw new FetchError(`could not fetch ${a.file} (tree sha256 ${a.treeSha256}); tried ${attempts.length} source${attempts.length === 1 ? '' : 's'}:\n${lines}`, {
        hint: `pass --mirror <url> for a mirror that has ${a.file} (looked up as <mirror>/${a.file}), or put a copy into the store as ${stored} (its unpacked tree must hash to ${a.treeSha256})`,
      });
    }),
  );
  return { dir: await extractChecked(a, archive, destParent, opts.signal), archive, treeSha256: a.treeSha256 };
}
