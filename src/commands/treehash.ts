// nginx-forge treehash <dir | archive --topdir NAME> [--list]: the tree hash a recipe pins as
// `treeSha256` (definition: src/fetch/treehash.ts, README "Sources pinned by content").
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { UsageError } from '../errors.ts';
import { treeEntries, treeManifest, treeSha256FromEntries } from '../fetch/treehash.ts';
import { extractArchive } from '../archive/extract.ts';

export async function run(target: string, flags: { topdir?: string; list?: boolean }): Promise<number> {
  let st;
  try {
    st = await stat(target);
  } catch {
    throw new UsageError(`${target}: no such file or directory`);
  }
  let tmp: string | undefined;
  try {
    let dir = target;
    if (!st.isDirectory()) {
      if (!flags.topdir) throw new UsageError(`${target}: an archive needs --topdir <name> (the single top-level directory it must contain)`);
      tmp = tempDir('treehash');
      dir = await extractArchive(path.resolve(target), tmp, flags.topdir);
    }
    const entries = await treeEntries(dir);
    if (flags.list) process.stdout.write(treeManifest(entries));
    process.stdout.write(`${treeSha256FromEntries(entries)}\n`);
    return 0;
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
