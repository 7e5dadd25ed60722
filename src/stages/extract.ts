// Safe, atomic extraction of a source archive with node-tar.
//
// Two passes over the same open file descriptor (so the bytes cannot change in between):
//   1. list: every entry is validated before anything is written. Rejected: absolute paths, ".."
//      components, members outside the expected top-level directory (or a second top-level
//      entry), devices/FIFOs/unknown types, symlinks whose target resolves outside the tree
//      (resolved through the archive's own symlinks, with a hop limit), hard links to anything
//      but an earlier regular file in the tree, any entry that goes through a symlink or replaces
//      one (the symlink-then-file trick), and an entry changing the type of an earlier one.
//   2. extract into a fresh temp dir beside the destination with node-tar's own protections on
//      (strict, no preservePaths) and a filter that re-checks every entry, then rename() the
//      single top-level directory into place. Any failure removes the temp dir: destParent never
//      holds a partial tree.
// gzip is decompressed in-process; xz and bzip2 through `xz -dc` / `bzip2 -dc` (node-tar has no
// decoder for them). The format is detected from magic bytes, not from the file name.
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execa, type ResultPromise } from 'execa';
import { Parser, Unpack, type ReadEntry } from 'tar';
import { ExtractError, MissingToolError } from '../errors.ts';

export type Compression = 'gzip' | 'xz' | 'bzip2' | 'zstd' | 'none';

/** Identify the container from its first bytes. */
export function detectCompression(head: Buffer): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.subarray(0, 3).toString('latin1') === 'BZh' && head[3]! >= 0x31 && head[3]! <= 0x39) return 'bzip2';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'none';
  return undefined;
}

const DECOMPRESSORS: Partial<Record<Compression, [string, string[]]>> = {
  xz: ['xz', ['-dc']],
  bzip2: ['bzip2', ['-dc']],
  zstd: ['zstd', ['-dc']],
};

interface TarStream {
  tar: Readable;
  /** Resolves when the decompressor finished cleanly; rejects with its complaint. */
  done: Promise<void>;
  stop(): void;
}

/** Raw tar bytes of the archive, read from the already open file handle. */
function openTar(fh: FileHandle, archive: string, comp: Compression, signal?: AbortSignal): TarStream {
  const src = fh.createReadStream({ autoClose: false, start: 0, highWaterMark: 1 << 20 });
  if (comp === 'none') return { tar: src, done: Promise.resolve(), stop: () => src.destroy() };
  if (comp === 'gzip') {
    const gz = createGunzip();
    const done = new Promise<void>((resolve, reject) => {
      gz.on('end', resolve);
      gz.on('close', resolve); // also after stop()
      gz.on('error', (e) => reject(new ExtractError(archive, '(archive)', `gzip data is damaged: ${e.message}`)));
    });
    src.pipe(gz);
    return { tar: gz, done, stop: () => (src.destroy(), gz.destroy()) };
  }
  const [cmd, args] = DECOMPRESSORS[comp]!;
  let stopped = false;
  const p: ResultPromise = execa(cmd, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false }, reject: false, cancelSignal: signal });
  p.stdin!.on('error', () => undefined); // EPIPE when we stop early
  src.pipe(p.stdin!);
  const done = p.then((r) => {
    if (stopped || signal?.aborted) return;
    if ((r as { code?: string }).code === 'ENOENT' || (r.exitCode === undefined && /ENOENT/.test(String(r.message)))) {
      throw new MissingToolError(cmd, `extracting ${path.basename(archive)}`, `install ${cmd} (Debian/Ubuntu: apt-get install ${cmd === 'xz' ? 'xz-utils' : cmd})`);
    }
    if (r.exitCode !== 0) {
      throw new ExtractError(archive, '(archive)', `${cmd} -dc failed (exit ${r.exitCode ?? r.signal}): ${String(r.stderr ?? '').trim().split('\n').slice(-2).join(' / ')}`);
    }
  });
  return {
    tar: p.stdout!,
    done,
    stop: () => {
      stopped = true;
      src.destroy();
      p.stdout!.destroy();
      p.kill();
    },
  };
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const DIR_TYPES = new Set(['Directory', 'GNUDumpDir']);

type Kind = 'file' | 'dir' | 'symlink' | 'hardlink';

/** Split an archive path into components; returns undefined for the archive root ("./"). */
function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

class Rejection extends Error {
  constructor(
    readonly member: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Validation state over the whole archive (pass 1); pass 2 re-runs `check` on each entry. */
export class TreeValidator {
  readonly kinds = new Map<string, Kind>();
  readonly symlinks = new Map<string, string>();
  constructor(readonly topdir: string) {}

  /** Per-entry checks. Returns the normalized path, or undefined for the archive root "./". */
  check(entry: Pick<ReadEntry, 'path' | 'type' | 'linkpath'>, record: boolean): string | undefined {
    const raw = entry.path;
    const member = raw;
    if (raw.includes('\0')) throw new Rejection(member, 'NUL byte in the path');
    if (raw.startsWith('/')) throw new Rejection(member, 'absolute path');
    const parts = components(raw);
    if (parts.includes('..')) throw new Rejection(member, 'path contains a ".." component');
    const type = String(entry.type);
    let kind: Kind;
    if (FILE_TYPES.has(type)) kind = 'file';
    else if (DIR_TYPES.has(type)) kind = 'dir';
    else if (type === 'SymbolicLink') kind = 'symlink';
    else if (type === 'Link') kind = 'hardlink';
    else if (type === 'CharacterDevice' || type === 'BlockDevice') throw new Rejection(member, `${type === 'CharacterDevice' ? 'character' : 'block'} device`);
    else if (type === 'FIFO') throw new Rejection(member, 'FIFO (named pipe)');
    else throw new Rejection(member, `unsupported entry type "${type}"`);
    if (parts.length === 0) {
      if (kind !== 'dir') throw new Rejection(member, 'the archive root must be a directory');
      return undefined;
    }
    if (parts[0] !== this.topdir) {
      throw new Rejection(member, `outside the expected top-level directory "${this.topdir}/"${parts.length === 1 ? ' (a second top-level entry)' : ''}`);
    }
    if (parts.length === 1 && kind !== 'dir') throw new Rejection(member, `the top-level "${this.topdir}" must be a directory, not a ${kind}`);
    const norm = parts.join('/');
    // nothing may be written through a symlink that the archive itself created
    for (let i = 1; i < parts.length; i++) {
      const anc = parts.slice(0, i).join('/');
      if (this.symlinks.has(anc)) throw new Rejection(member, `goes through the symbolic link "${anc}"`);
      const k = this.kinds.get(anc);
      if (k && k !== 'dir') throw new Rejection(member, `its parent "${anc}" is a ${k}, not a directory`);
    }
    const prev = this.kinds.get(norm);
    if (prev === 'symlink') throw new Rejection(member, `replaces the symbolic link "${norm}" (symlink-then-file trick)`);
    if (prev && prev !== kind && !(prev === 'file' && kind === 'hardlink') && !(prev === 'hardlink' && kind === 'file')) {
      throw new Rejection(member, `changes an earlier ${prev} into a ${kind}`);
    }
    if (kind === 'symlink') {
      const target = String(entry.linkpath ?? '');
      if (!target) throw new Rejection(member, 'symbolic link with an empty target');
      if (target.startsWith('/')) throw new Rejection(member, `symbolic link to the absolute path "${target}" (outside the tree)`);
      if (target.includes('\0')) throw new Rejection(member, 'NUL byte in the link target');
      // resolved against the whole tree after the listing (later links may take part)
    }
    if (kind === 'hardlink') {
      const target = String(entry.linkpath ?? '');
      if (!target) throw new Rejection(member, 'hard link with an empty target');
      if (target.startsWith('/')) throw new Rejection(member, `hard link to the absolute path "${target}" (outside the tree)`);
      const tparts = components(target);
      if (tparts.includes('..')) throw new Rejection(member, `hard link target "${target}" contains ".." (outside the tree)`);
      if (tparts[0] !== this.topdir || tparts.length < 2) throw new Rejection(member, `hard link target "${target}" is outside "${this.topdir}/"`);
      const tnorm = tparts.join('/');
      for (let i = 1; i < tparts.length; i++) {
        const anc = tparts.slice(0, i).join('/');
        if (this.symlinks.has(anc)) throw new Rejection(member, `hard link target "${target}" goes through the symbolic link "${anc}"`);
      }
      const tk = this.kinds.get(tnorm);
      if (tk !== 'file' && tk !== 'hardlink') {
        throw new Rejection(member, `hard link target "${target}" is not a regular file earlier in the archive`);
      }
    }
    if (record) {
      this.kinds.set(norm, kind);
      if (kind === 'symlink') this.symlinks.set(norm, String(entry.linkpath));
    }
    return norm;
  }

  /** After the listing: every symlink must resolve, through the archive's symlinks, inside the tree. */
  checkSymlinks(): void {
    for (const [link, target] of this.symlinks) {
      const parent = link.split('/').slice(0, -1);
      try {
        this.resolve(parent, target, 0);
      } catch (e) {
        if (e instanceof Rejection) throw new Rejection(link, `symbolic link to "${target}" ${e.reason}`);
        throw e;
      }
    }
  }

  private resolve(start: string[], target: string, hops: number): string[] {
    if (target.startsWith('/')) throw new Rejection('', 'resolves to an absolute path (outside the tree)');
    let stack = [...start];
    for (const c of target.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        stack.pop();
        if (stack.length === 0) throw new Rejection('', `resolves outside "${this.topdir}/"`);
        continue;
      }
      stack.push(c);
      const here = stack.join('/');
      const next = this.symlinks.get(here);
      if (next !== undefined) {
        if (hops >= 40) throw new Rejection('', 'is part of a symbolic link loop');
        stack = this.resolve(stack.slice(0, -1), next, hops + 1);
      }
    }
    if (stack[0] !== this.topdir) throw new Rejection('', `resolves outside "${this.topdir}/"`);
    return stack;
  }
}

/** Pass 1: read every header, validate, write nothing. */
async function listAndValidate(fh: FileHandle, archive: string, comp: Compression, topdir: string, signal?: AbortSignal): Promise<TreeValidator> {
  const v = new TreeValidator(topdir);
  const ts = openTar(fh, archive, comp, signal);
  let rejection: Rejection | undefined;
  let entries = 0;
  const parsed = new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      filter: (_p: string, entry: unknown) => {
        if (rejection) return false;
        try {
          v.check(entry as ReadEntry, true);
          entries++;
        } catch (e) {
          if (!(e instanceof Rejection)) throw e;
          rejection = e;
          ts.stop();
          resolve();
        }
        return false; // listing only: skip the body
      },
    });
    parser.on('ignoredEntry', (entry: ReadEntry) => {
      if (rejection) return;
      // meta/unknown entry types never reach the filter
      const t = String(entry.type);
      if (!FILE_TYPES.has(t) && !DIR_TYPES.has(t) && t !== 'SymbolicLink' && t !== 'Link') {
        rejection = new Rejection(entry.path, /^(CharacterDevice|BlockDevice|FIFO)$/.test(t) ? t : `unsupported entry type "${t}"`);
        ts.stop();
        resolve();
      }
    });
    parser.on('error', (e: Error) => (rejection ? resolve() : reject(new ExtractError(archive, '(archive)', `not a valid tar archive: ${e.message}`))));
    parser.on('end', () => resolve());
    ts.tar.on('error', (e) => (rejection ? resolve() : reject(new ExtractError(archive, '(archive)', `cannot read: ${e.message}`))));
    signal?.addEventListener('abort', () => (ts.stop(), reject(signal.reason)), { once: true });
    ts.tar.pipe(parser as unknown as NodeJS.WritableStream);
  });
  const [p, d] = await Promise.allSettled([parsed, ts.done]);
  if (signal?.aborted) throw signal.reason;
  if (rejection) throw new ExtractError(archive, rejection.member, rejection.reason);
  // a failing decompressor (missing, damaged data) explains a parse error: report it first
  if (d.status === 'rejected') throw d.reason;
  if (p.status === 'rejected') throw p.reason;
  if (entries === 0) throw new ExtractError(archive, '(archive)', 'the archive has no entries');
  try {
    v.checkSymlinks();
  } catch (e) {
    if (e instanceof Rejection) throw new ExtractError(archive, e.member, e.reason);
    throw e;
  }
  if (!v.kinds.has(topdir) && ![...v.kinds.keys()].some((k) => k.startsWith(`${topdir}/`))) {
    throw new ExtractError(archive, '(archive)', `no top-level directory "${topdir}"`);
  }
  return v;
}

/** Pass 2: extract into `tmp` with node-tar's own protections on, re-checking every entry. */
async function unpackInto(fh: FileHandle, archive: string, comp: Compression, tmp: string, topdir: string, signal?: AbortSignal): Promise<void> {
  const v = new TreeValidator(topdir);
  const ts = openTar(fh, archive, comp, signal);
  let rejection: Rejection | undefined;
  let failure: unknown;
  // Always wait for node-tar's 'close' (all pending writes done) before returning, so the caller
  // can delete the temp dir without racing a write. After a rejection every entry is skipped.
  await new Promise<void>((resolve) => {
    const u = new Unpack({
      cwd: tmp,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      unlink: false,
      chmod: true,
      processUmask: 0o022,
      filter: (_p: string, e: unknown) => {
        const entry = e as ReadEntry;
        if (rejection || failure) return false;
        try {
          if (v.check(entry, true) === undefined) return false; // "./": leave the temp dir alone
        } catch (err) {
          if (!(err instanceof Rejection)) throw err;
          rejection = err;
          return false;
        }
        if (typeof entry.mode === 'number') {
          // keep permission bits (executables stay executable), drop setuid/setgid/sticky, and
          // keep the tree writable and traversable by its owner (patching needs it)
          entry.mode = (entry.mode & 0o777) | (DIR_TYPES.has(String(entry.type)) ? 0o700 : 0o600);
        }
        return true;
      },
    });
    u.on('error', (e: Error & { path?: string; entry?: ReadEntry }) => {
      failure ??= new ExtractError(archive, String(e.entry?.path ?? e.path ?? '(archive)'), e.message);
    });
    u.on('close', () => resolve());
    ts.tar.on('error', (e) => {
      failure ??= new ExtractError(archive, '(archive)', `cannot read: ${e.message}`);
      u.end();
    });
    signal?.addEventListener(
      'abort',
      () => {
        failure ??= signal.reason;
        ts.stop();
        u.end();
      },
      { once: true },
    );
    ts.tar.pipe(u as unknown as NodeJS.WritableStream);
  });
  let decompressor: unknown;
  await ts.done.catch((e) => {
    decompressor = e;
  });
  if (signal?.aborted) throw signal.reason;
  if (rejection) throw new ExtractError(archive, rejection.member, rejection.reason);
  if (decompressor) throw decompressor;
  if (failure) throw failure;
}

/**
 * Extract archive into destParent; returns the path of the single top-level dir (must equal
 * expectedTopdir). Atomic: extracts into a temp dir beside it, then renames.
 */
export async function extractArchive(archive: string, destParent: string, expectedTopdir: string, opts: { signal?: AbortSignal } = {}): Promise<string> {
  const { signal } = opts;
  if (!expectedTopdir || expectedTopdir === '.' || expectedTopdir === '..' || expectedTopdir.includes('/') || expectedTopdir.includes('\0')) {
    throw new ExtractError(archive, expectedTopdir, 'the expected top-level directory must be a plain directory name');
  }
  if (signal?.aborted) throw signal.reason;
  let fh: FileHandle;
  try {
    fh = await open(archive, 'r');
  } catch (e) {
    throw new ExtractError(archive, '(archive)', `cannot open: ${(e as Error).message}`);
  }
  let tmp: string | undefined;
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    const comp = detectCompression(head.subarray(0, bytesRead));
    if (!comp) throw new ExtractError(archive, '(archive)', 'unknown format: not a gzip, xz, bzip2 or zstd compressed tar, nor a plain tar');
    await listAndValidate(fh, archive, comp, expectedTopdir, signal);
    await mkdir(destParent, { recursive: true });
    tmp = await mkdtemp(path.join(destParent, `.extract-${expectedTopdir}-`));
    await unpackInto(fh, archive, comp, tmp, expectedTopdir, signal);
    const top = await readdir(tmp);
    if (top.length !== 1 || top[0] !== expectedTopdir) {
      throw new ExtractError(archive, top.find((t) => t !== expectedTopdir) ?? '(archive)', `expected exactly one top-level directory "${expectedTopdir}", found: ${top.join(', ') || 'nothing'}`);
    }
    if (!(await stat(path.join(tmp, expectedTopdir))).isDirectory()) {
      throw new ExtractError(archive, expectedTopdir, 'the top-level entry is not a directory');
    }
    const dest = path.join(destParent, expectedTopdir);
    // replace an older tree atomically: move it aside, move the new one in, then delete the old one
    const old = path.join(tmp, '.previous');
    let hadOld = false;
    try {
      await rename(dest, old);
      hadOld = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      await rename(path.join(tmp, expectedTopdir), dest);
    } catch (e) {
      if (hadOld) await rename(old, dest).catch(() => undefined);
      throw e;
    }
    return dest;
  } finally {
    await fh.close().catch(() => undefined);
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}
