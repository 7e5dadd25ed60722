// The tree hash: a pin on the unpacked content of a source archive, for sources whose archive
// bytes are not stable (a forge's /archive/<commit>.tar.gz is regenerated, recompressed, and may
// carry different headers, while the files inside are the same).
//
// Definition (version 1; documented in README "Sources pinned by content"):
//   Walk the extracted top-level directory (the directory itself is not an entry; its name is
//   checked separately as the recipe's `topdir`). For every entry below it, one line
//       <type> <mode> <path> <value>\n
//   type  "file", "dir" or "symlink" (anything else - FIFO, socket, device - is an error)
//   mode  git's modes: file 100644, or 100755 when the owner-execute bit is set; dir 040000;
//         symlink 120000. Nothing else of the permission bits counts (umask and the extractor's
//         normalisation differ between machines; ownership and times never count)
//   path  relative to the top-level directory, "/"-separated, UTF-8; a path containing a
//         newline is an error
//   value file: sha256 (lowercase hex) of its content; dir: "-"; symlink: the link target, as
//         stored (not resolved)
//   Lines are sorted by path in byte order (UTF-8), and the tree hash is the sha256 (lowercase
//   hex) of their concatenation. Hard links count as the regular files they are.
// `nginx-forge treehash <dir>` prints it (and the lines with --list).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { ForgeError, ExitCode } from '../errors.ts';

export type TreeEntryType = 'file' | 'dir' | 'symlink';

export interface TreeEntry {
  type: TreeEntryType;
  mode: '100644' | '100755' | '040000' | '120000';
  /** relative to the top-level directory, "/"-separated */
  path: string;
  /** file: sha256 of the content; dir: "-"; symlink: the target */
  value: string;
}

/** The tree on disk cannot be described by the tree hash (an unsupported entry). */
export class TreeHashError extends ForgeError {
  constructor(root: string, member: string, reason: string) {
    super(`cannot compute the tree hash of ${root}: ${member}: ${reason}`, {
      exitCode: ExitCode.fetch,
      hint: 'a pinned source tree holds only regular files, directories and symbolic links',
    });
  }
}

/** The unpacked tree is not the pinned one. */
export class TreeHashMismatchError extends ForgeError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`tree sha256 mismatch for ${what}\n  expected: ${expected}\n  actual:   ${actual}`, {
      exitCode: ExitCode.fetch,
      hint: 'the unpacked files are not the pinned ones; nothing was kept. Check the mirror, or the recipe (its treeSha256) if you changed the version on purpose; `nginx-forge treehash --list <dir>` shows what was hashed.',
    });
  }
}

async function fileSha256(file: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { signal, highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const byteOrder = (a: TreeEntry, b: TreeEntry) => Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8'));

/** Every entry below `root`, sorted (see the definition above). */
export async function treeEntries(root: string, signal?: AbortSignal): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = await readdir(path.join(root, rel));
    for (const name of names) {
      signal?.throwIfAborted();
      const r = rel ? `${rel}/${name}` : name;
      if (r.includes('\n')) throw new TreeHashError(root, JSON.stringify(r), 'a path with a newline');
      const abs = path.join(root, r);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) out.push({ type: 'symlink', mode: '120000', path: r, value: await readlink(abs) });
      else if (st.isDirectory()) {
        out.push({ type: 'dir', mode: '040000', path: r, value: '-' });
        await walk(r);
      } else if (st.isFile()) out.push({ type: 'file', mode: st.mode & 0o100 ? '100755' : '100644', path: r, value: await fileSha256(abs, signal) });
      else throw new TreeHashError(root, r, 'not a regular file, directory or symbolic link');
    }
  };
  if (!(await lstat(root)).isDirectory()) throw new TreeHashError(root, '.', 'not a directory');
  await walk('');
  return out.sort(byteOrder);
}

/** The lines that are hashed, each ending in "\n". */
export function treeManifest(entries: TreeEntry[]): string {
  return [...entries]
    .sort(byteOrder)
    .map((e) => `${e.type} ${e.mode} ${e.path} ${e.value}\n`)
    .join('');
}

export function treeSha256FromEntries(entries: TreeEntry[]): string {
  return createHash('sha256').update(treeManifest(entries), 'utf8').digest('hex');
}

/** The tree hash of the directory `root`. */
export async function treeSha256(root: string, signal?: AbortSignal): Promise<string> {
  return treeSha256FromEntries(await treeEntries(root, signal));
}

/** Throws TreeHashMismatchError unless `root` hashes to `expected`; returns the hash. */
export async function verifyTree(root: string, expected: string, what: string, signal?: AbortSignal): Promise<string> {
  const actual = await treeSha256(root, signal);
  if (actual !== expected) throw new TreeHashMismatchError(what, expected, actual);
  return actual;
}
