// Safe, atomic extraction of a source archive with node-tar. Its own module below fetch/ (source
// trees pinned by their content) and the stages (extract, patch sets), and `treehash` of an archive.
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
// Limits (checked while streaming, in both passes, before the bytes reach the disk): total
// uncompressed bytes, number of entries, and the expansion ratio against the compressed size
// (a 20 MB gzip must not expand into 20 GiB). Every write error of pass 2 (disk full, a name too
// long for the file system) is reported with the member and path, and the temp dir is removed:
// node-tar runs non-strict so that it always ends with `close`; every warning is a failure here.
// gzip is decompressed in-process; xz and bzip2 through `xz -dc` / `bzip2 -dc` (node-tar has no
// decoder for them). The format is detected from magic bytes, not from the file name.
// Pass 2 writes with node-tar's UnpackSync: the same checks, but each file's open/write/utimes/
// close runs on the main thread instead of as four thread-pool round trips. OpenSSL's 6,048
// entries: 2.2 s instead of 4.8 s of CPU, and as much less wall time on the build's critical path;
// the event loop still turns between the decompressor's chunks.
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execa, type ResultPromise } from 'execa';
import { Parser, UnpackSync, type ReadEntry } from 'tar';
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

/** What one extraction may write. The shipped archives stay far below (measured: at most 6,048
 *  entries, 135 MB, ratio 6.1 — OpenSSL 3.5.7 and jemalloc 5.3.0). */
export interface ExtractLimits {
  /** total uncompressed tar bytes */
  maxBytes: number;
  /** number of archive entries */
  maxEntries: number;
  /** uncompressed / compressed size, enforced once `ratioFloor` bytes were expanded */
  maxRatio: number;
  /** below this many uncompressed bytes the ratio is not judged (tar pads small files to 512 B) */
  ratioFloor: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  maxBytes: 4 * 1024 ** 3,
  maxEntries: 200_000,
  maxRatio: 30,
  ratioFloor: 64 * 1024 ** 2,
};

function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

const LIMIT_HINT =
  'the archive expands beyond what a source tarball should; it is not what the recipe pins (a decompression bomb?). Nothing was kept.';

/** Counts the uncompressed tar bytes as they stream and enforces the byte and ratio limits. */
class Meter {
  bytes = 0;
  entries = 0;
  declared = 0;
  sawData = false;
  constructor(
    readonly archive: string,
    readonly compressed: number,
    readonly limits: ExtractLimits,
  ) {}
  /** Returns a Rejection when a limit is exceeded. */
  onChunk(chunk: Buffer): Rejection | undefined {
    this.bytes += chunk.length;
    if (!this.sawData && chunk.some((b) => b !== 0)) this.sawData = true;
    if (this.bytes > this.limits.maxBytes) {
      return new Rejection('(archive)', `expands to more than ${fmtBytes(this.limits.maxBytes)} (the limit of uncompressed bytes)`, LIMIT_HINT);
    }
    if (this.bytes > this.limits.ratioFloor && this.compressed > 0 && this.bytes / this.compressed > this.limits.maxRatio) {
      return new Rejection(
        '(archive)',
        `expands more than ${this.limits.maxRatio}x: ${fmtBytes(this.bytes)} so far from ${fmtBytes(this.compressed)} compressed (source tarballs expand 2-10x)`,
        LIMIT_HINT,
      );
    }
    return undefined;
  }
  /** Per entry (from its header, before its body is read). */
  onEntry(member: string, size: number): Rejection | undefined {
    this.entries++;
    this.declared += Math.max(0, size || 0);
    if (this.entries > this.limits.maxEntries) return new Rejection(member, `more than ${this.limits.maxEntries} entries (the limit)`, LIMIT_HINT);
    if (this.declared > this.limits.maxBytes) {
      return new Rejection(member, `its entries declare more than ${fmtBytes(this.limits.maxBytes)} (the limit of uncompressed bytes)`, LIMIT_HINT);
    }
    return undefined;
  }
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
    readonly hint?: string,
  ) {
    super(reason);
  }
}

function rejectionError(archive: string, r: Rejection): ExtractError {
  return new ExtractError(archive, r.member, r.reason, { hint: r.hint });
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
async function listAndValidate(fh: FileHandle, archive: string, comp: Compression, topdir: string, meter: Meter, signal?: AbortSignal): Promise<TreeValidator> {
  const v = new TreeValidator(topdir);
  const ts = openTar(fh, archive, comp, signal);
  let rejection: Rejection | undefined;
  const parsed = new Promise<void>((resolve, reject) => {
    const refuse = (r: Rejection) => {
      rejection ??= r;
      ts.stop();
      resolve();
    };
    const parser = new Parser({
      strict: true,
      filter: (_p: string, entry: unknown) => {
        if (rejection) return false;
        try {
          v.check(entry as ReadEntry, true);
          const over = meter.onEntry((entry as ReadEntry).path, Number((entry as ReadEntry).size));
          if (over) refuse(over);
        } catch (e) {
          if (!(e instanceof Rejection)) throw e;
          refuse(e);
        }
        return false; // listing only: skip the body
      },
    });
    parser.on('ignoredEntry', (entry: ReadEntry) => {
      if (rejection) return;
      // meta/unknown entry types never reach the filter
      const t = String(entry.type);
      if (!FILE_TYPES.has(t) && !DIR_TYPES.has(t) && t !== 'SymbolicLink' && t !== 'Link') {
        refuse(new Rejection(entry.path, /^(CharacterDevice|BlockDevice|FIFO)$/.test(t) ? t : `unsupported entry type "${t}"`));
      }
    });
    parser.on('error', (e: Error) => {
      if (rejection) return resolve();
      // a tar of nothing but end-of-archive blocks (an "empty" tar)
      if (meter.entries === 0 && !meter.sawData) return reject(new ExtractError(archive, '(archive)', 'the archive is empty (no entries at all)', { hint: 'the file is not the source tarball the recipe pins; delete it from the distfiles store and fetch again' }));
      reject(new ExtractError(archive, '(archive)', `not a valid tar archive: ${e.message}`));
    });
    parser.on('end', () => resolve());
    ts.tar.on('error', (e) => (rejection ? resolve() : reject(new ExtractError(archive, '(archive)', `cannot read: ${e.message}`))));
    signal?.addEventListener('abort', () => (ts.stop(), reject(signal.reason)), { once: true });
    ts.tar.pipe(parser as unknown as NodeJS.WritableStream);
    // after pipe(): the parser sees a chunk's headers (declared sizes) before the byte count
    ts.tar.on('data', (chunk: Buffer) => {
      if (rejection) return;
      const over = meter.onChunk(chunk);
      if (over) refuse(over);
    });
  });
  const [p, d] = await Promise.allSettled([parsed, ts.done]);
  if (signal?.aborted) throw signal.reason;
  if (rejection) throw rejectionError(archive, rejection);
  // a failing decompressor (missing, damaged data) explains a parse error: report it first
  if (d.status === 'rejected') throw d.reason;
  if (p.status === 'rejected') throw p.reason;
  if (meter.entries === 0) throw new ExtractError(archive, '(archive)', 'the archive is empty (no entries at all)');
  try {
    v.checkSymlinks();
  } catch (e) {
    if (e instanceof Rejection) throw rejectionError(archive, e);
    throw e;
  }
  if (!v.kinds.has(topdir) && ![...v.kinds.keys()].some((k) => k.startsWith(`${topdir}/`))) {
    throw new ExtractError(archive, '(archive)', `no top-level directory "${topdir}"`);
  }
  return v;
}

/**
 * How long to wait for node-tar's 'close' after a fatal error before removing the temp dir. It
 * does not always come (measured: a member whose open() fails with ENAMETOOLONG), and pass 2
 * writes synchronously, so nothing is pending once the loop has turned: this is only a margin.
 * The timer must hold the event loop: an unref'd one let the CLI's loop drain first, and the
 * process ended with exit 13 ("unsettled top-level await"), no message, the temp dir left.
 */
const SETTLE_MS = 500;

/** A write error of pass 2 as the user should read it: which member, which path, what to do. */
function writeFailure(archive: string, tmp: string, destParent: string, err: unknown, entry?: { path?: unknown; absolute?: unknown }): ExtractError {
  const e = err as NodeJS.ErrnoException & { path?: string };
  const member = String(entry?.path ?? '(archive)');
  const code = e?.code;
  const abs = typeof e?.path === 'string' ? e.path : typeof entry?.absolute === 'string' ? entry.absolute : undefined;
  // the path as it would have been (the temp dir is gone when the user reads this)
  const where = abs ? path.join(destParent, path.relative(tmp, abs)) : undefined;
  const reason = `cannot write${where ? ` ${where}` : ''}: ${(e?.message ?? String(err)).trim()}`;
  let hint = 'the partial tree was removed; fix the cause and run the command again.';
  if (code === 'ENOSPC' || code === 'EDQUOT') hint = `the file system of ${destParent} is full: free space there (or point NGINX_FORGE_HOME at a larger disk) and run the command again; the partial tree was removed.`;
  else if (code === 'ENAMETOOLONG') hint = 'a member path is too long for this file system (or the state directory path is too deep); the partial tree was removed.';
  else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') hint = `${destParent} is not writable: check its permissions (or set NGINX_FORGE_HOME); the partial tree was removed.`;
  return new ExtractError(archive, member, reason, { verb: 'failed to extract', hint });
}

/** Pass 2: extract into `tmp` with node-tar's own protections on (synchronous writes), re-checking every entry. */
async function unpackInto(fh: FileHandle, archive: string, comp: Compression, tmp: string, destParent: string, topdir: string, meter: Meter, signal?: AbortSignal): Promise<void> {
  const v = new TreeValidator(topdir);
  const ts = openTar(fh, archive, comp, signal);
  let rejection: Rejection | undefined;
  let failure: unknown;
  // Wait for node-tar's 'close' (all pending writes done) before returning, so the caller can
  // delete the temp dir without racing a write. node-tar runs NON-strict: in strict mode a write
  // error is emitted as 'error' and the unpacker then stalls without ever emitting 'close' (the
  // process died with exit 13, "unsettled top-level await"). Non-strict, the same error is a
  // 'warn' and the stream still ends; here every warning is fatal. After a failure the input is
  // stopped and every further entry skipped; if 'close' still does not come (an aborted parser),
  // the wait ends after SETTLE_MS.
  await new Promise<void>((resolve) => {
    let settle: NodeJS.Timeout | undefined;
    const u = new UnpackSync({
      cwd: tmp,
      strict: false,
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
          fail(undefined, err);
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
    const fail = (f: unknown, r?: Rejection) => {
      if (rejection || failure) return;
      if (r) rejection = r;
      else failure = f;
      ts.stop();
      u.end();
      settle = setTimeout(resolve, SETTLE_MS);
    };
    u.on('warn', (code: string, message: string, data: { entry?: ReadEntry; path?: string; code?: string } & Partial<NodeJS.ErrnoException>) => {
      if (code === 'TAR_ENTRY_INFO') return;
      const isErrno = typeof data?.code === 'string' && /^E[A-Z]+$/.test(data.code) && data.code !== code;
      if (isErrno) fail(writeFailure(archive, tmp, destParent, Object.assign(new Error(message), data), data.entry));
      else fail(new ExtractError(archive, String(data?.entry?.path ?? data?.path ?? '(archive)'), `${code}: ${message}`));
    });
    u.on('error', (e: Error & { path?: string; entry?: ReadEntry; code?: string }) => {
      if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) fail(writeFailure(archive, tmp, destParent, e, e.entry));
      else fail(new ExtractError(archive, String(e.entry?.path ?? '(archive)'), e.message));
    });
    u.on('close', () => {
      if (settle) clearTimeout(settle);
      resolve();
    });
    ts.tar.on('data', (chunk: Buffer) => {
      if (rejection || failure) return;
      const over = meter.onChunk(chunk);
      if (over) fail(undefined, over);
    });
    ts.tar.on('error', (e) => fail(new ExtractError(archive, '(archive)', `cannot read: ${e.message}`)));
    signal?.addEventListener('abort', () => fail(signal.reason), { once: true });
    ts.tar.pipe(u as unknown as NodeJS.WritableStream);
  });
  let decompressor: unknown;
  await ts.done.catch((e) => {
    decompressor = e;
  });
  if (signal?.aborted) throw signal.reason;
  if (rejection) throw rejectionError(archive, rejection);
  if (failure) throw failure;
  if (decompressor) throw decompressor;
}

/**
 * Extract archive into destParent; returns the path of the single top-level dir (must equal
 * expectedTopdir). Atomic: extracts into a temp dir beside it, then renames.
 */
export async function extractArchive(
  archive: string,
  destParent: string,
  expectedTopdir: string,
  opts: { signal?: AbortSignal; limits?: Partial<ExtractLimits> } = {},
): Promise<string> {
  const { signal } = opts;
  const limits = { ...DEFAULT_EXTRACT_LIMITS, ...opts.limits };
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
    const { size } = await fh.stat();
    if (size === 0) throw new ExtractError(archive, '(archive)', 'the file is empty (0 bytes)', { hint: 'delete it from the distfiles store and fetch again' });
    let comp = detectCompression(head.subarray(0, bytesRead));
    // a plain tar with no entries is nothing but zero blocks (no "ustar" magic to detect)
    if (!comp && bytesRead === 512 && size % 512 === 0 && head.every((b) => b === 0)) comp = 'none';
    if (!comp) throw new ExtractError(archive, '(archive)', 'unknown format: not a gzip, xz, bzip2 or zstd compressed tar, nor a plain tar');
    await listAndValidate(fh, archive, comp, expectedTopdir, new Meter(archive, size, limits), signal);
    await mkdir(destParent, { recursive: true });
    tmp = await mkdtemp(path.join(destParent, `.extract-${expectedTopdir}-`));
    await unpackInto(fh, archive, comp, tmp, destParent, expectedTopdir, new Meter(archive, size, limits), signal);
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
