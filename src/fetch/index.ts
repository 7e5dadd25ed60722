// Verified downloads into the content-addressed distfiles store.
//
// Source order for an artifact: the store → user mirrors (<mirror>/<file>) → upstream urls →
// the distro archive named by the host's apt sources (<archive>/pool/<pool>/<file>).
// Bytes are hashed while they stream into a temp file in <distdir>/.partial/ and renamed into
// <distdir>/<sha256>/<file> only once the sha256 (and the size, when pinned) match. One lock per
// sha256 makes concurrent fetches of the same file (threads or processes) download it once.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { ownerText } from '../lock.ts';
import path from 'node:path';
import { FetchError, ForgeError, IoError } from '../errors.ts';
import { ioError, isIoError, noteStore } from '../ioerror.ts';
import { BUILTIN_RECIPES } from '../recipes/load.ts';
import type { FileArtifact } from '../recipes/schema.ts';
import { aptArchives } from './apt.ts';
import { downloadFrom, isLocalSource, makeDispatcher, SourceFailure, type DownloadContext } from './download.ts';
import { verifySignature } from './signature.ts';
import { checkStore, inStore, partialPath, storePath, withStoreLock, type StoreKey } from './store.ts';

export { aptArchives, aptSources } from './apt.ts';
export { inStore, storePath, hashFile } from './store.ts';
export { verifySignature, dearmor } from './signature.ts';
export { looksLikeHtml, SourceFailure, DOWNLOAD_LIMITS } from './download.ts';

export interface FetchOptions {
  /** content-addressed store root: <distdir>/<sha256>/<artifact.file> */
  distdir: string;
  /** user mirrors: <mirror>/<artifact.file> tried first (after the store); http(s) URLs, file:// URLs or absolute paths */
  mirrors?: string[];
  /** open no socket at all; missing → FetchError listing what is missing */
  offline?: boolean;
  /** default true: also try the host's apt-source archive (pool layout) */
  distro?: boolean;
  /** directory with armored keyrings for signature.keyring (default: the built-in recipes/keys) */
  keysDir?: string;
  signal?: AbortSignal;
  /** per-request inactivity timeout (default 30 s); tests use small values */
  timeoutMs?: number;
  /** retries per source, with exponential backoff (default 3) */
  retries?: number;
  /** first backoff delay in ms, doubled on each retry (default 1000) */
  backoffMs?: number;
  /** cap for an artifact without a pinned size (default DOWNLOAD_LIMITS.maxBytes, 512 MiB) */
  maxBytes?: number;
  /** all attempts against one source, then the next source (default 20 min) */
  deadlineMs?: number;
  /** minimum transfer rate in bytes/s over minRateWindowMs, else the next source (default 8 KiB/s over 60 s; 0 turns it off) */
  minRateBytes?: number;
  minRateWindowMs?: number;
  /** root of the filesystem whose etc/apt is read for distro archives (default "/"; tests use a fake root) */
  aptRoot?: string;
  onProgress?: (e: { file: string; received: number; total?: number; source: string }) => void;
  /** human-readable events: "trying <url>", "sha256 mismatch ...", "stored ..." */
  onLog?: (line: string) => void;
  /** called once per artifact obtained (also for signature files) */
  onResult?: (r: FetchResult) => void;
}

export interface FetchResult {
  file: string;
  sha256: string;
  path: string;
  size: number;
  /** "present": was already in the store; "stored": obtained now (downloaded or resumed). */
  status: 'present' | 'stored';
  /** Where the bytes came from (for "stored"). */
  source?: string;
  /** Bytes transferred over the network by this call. */
  transferred: number;
}

/** Every source was tried and none delivered the pinned bytes. */
export class SourcesExhaustedError extends FetchError {
  constructor(
    readonly file: string,
    readonly sha256: string,
    readonly attempts: { source: string; reason: string; kind?: string }[],
    distdir: string,
    noSourceWhy = 'the artifact has no urls, no mirror was given, and it has no distro source',
  ) {
    const lines = attempts.length
      ? attempts.map((t) => `  ${t.source}\n    ${t.reason.split('\n').join('\n    ')}`).join('\n')
      : `  (no source to try: ${noSourceWhy})`;
    super(`could not fetch ${file} (sha256 ${sha256}); tried ${attempts.length} source${attempts.length === 1 ? '' : 's'}:\n${lines}`, {
      hint: storeHint([{ file, sha256 }], distdir, true),
    });
  }
}

/** A store entry that exists but fails its check (size or sha256). */
export interface DamagedEntry {
  path: string;
  actual: string;
  /** the pinned sha256 of that entry (when not the listed one) */
  expected?: string;
}

/** --offline and something is not in the store, or is there but damaged. */
export class OfflineMissingError extends FetchError {
  constructor(
    readonly missing: { file: string; sha256: string; alternatives?: { file: string; sha256: string }[]; damaged?: DamagedEntry }[],
    distdir: string,
  ) {
    const damagedLine = (d: DamagedEntry, sha256: string) => `\n      damaged: ${d.path} ${d.actual.startsWith('(') ? d.actual : `hashes to ${d.actual}`}, expected sha256 ${d.expected ?? sha256}`;
    const lines = missing.map((m) =>
      m.alternatives && m.alternatives.length > 1
        ? `  one of:\n${m.alternatives.map((x) => `    ${x.file}  sha256 ${x.sha256}`).join('\n')}${m.damaged ? damagedLine(m.damaged, m.sha256) : ''}`
        : `  ${m.file}  sha256 ${m.sha256}${m.damaged ? damagedLine(m.damaged, m.sha256) : ''}`,
    );
    const nDamaged = missing.filter((m) => m.damaged).length;
    const nAbsent = missing.length - nDamaged;
    const what = [nAbsent ? `${nAbsent} file${nAbsent === 1 ? ' is' : 's are'} not in` : '', nDamaged ? `${nDamaged} file${nDamaged === 1 ? ' is' : 's are'} damaged in` : '']
      .filter(Boolean)
      .join(' and ');
    super(`offline: ${what} the distfiles store ${distdir}:\n${lines.join('\n')}`, {
      hint: `${nDamaged ? 'a damaged entry is removed and downloaded again by `nginx-forge fetch` without --offline (or delete it and copy a good file in); ' : ''}run \`nginx-forge fetch\` without --offline where the network is reachable (same --distdir), or copy each file to ${path.join(distdir, '<sha256>', '<file>')}`,
    });
  }
}

function storeHint(files: { file: string; sha256: string }[], distdir: string, network: boolean): string {
  const f = files[0]!;
  return [
    network ? 'pass --mirror <url> for a mirror that has the file (looked up as <mirror>/<file>), or' : '',
    `put the file into the store by hand: mkdir -p ${path.join(distdir, f.sha256)} && cp <your copy> ${storePath(distdir, f)}`,
    `(it must hash to sha256 ${f.sha256}); if the pinned hash or URLs are wrong, check the recipe`,
  ]
    .filter(Boolean)
    .join(' ');
}

type SourceKind = 'mirror' | 'upstream' | 'distro';

/** The download sources of an artifact, in the order they are tried. */
export function sourcesOf(a: FileArtifact, opts: Pick<FetchOptions, 'mirrors' | 'distro' | 'aptRoot'>): { kind: SourceKind; url: string }[] {
  const out: { kind: SourceKind; url: string }[] = [];
  for (const m of opts.mirrors ?? []) {
    const base = m.replace(/\/+$/, '');
    out.push({ kind: 'mirror', url: isLocalSource(base) && !base.startsWith('file:') ? path.join(base, a.file) : `${base}/${encodeURIComponent(a.file)}` });
  }
  for (const u of a.urls ?? []) out.push({ kind: 'upstream', url: u });
  if (a.distro && opts.distro !== false) {
    const archives = aptArchives(opts.aptRoot ?? '/');
    const roots = a.distro.archive === 'security' ? archives.security : archives.main;
    for (const r of roots) out.push({ kind: 'distro', url: `${r}/pool/${a.distro.pool}/${encodeURIComponent(a.distro.file)}` });
  }
  const seen = new Set<string>();
  return out.filter((s) => !seen.has(s.url) && seen.add(s.url));
}

/** Why an artifact has no source at all, in the user's terms. */
function noSourceReason(a: FileArtifact, opts: FetchOptions): string {
  const base = [a.urls?.length ? '' : 'the artifact has no upstream urls', opts.mirrors?.length ? '' : 'no --mirror was given'].filter(Boolean).join(', ');
  if (!a.distro) return `${base}, and it has no distro source`;
  if (opts.distro === false) return `${base}, and its distro source (pool/${a.distro.pool}/${a.distro.file}) is disabled by --no-distro`;
  return `${base}, and this host's apt sources name no ${a.distro.archive} archive for its distro source (pool/${a.distro.pool}/${a.distro.file})`;
}

/** The detached signature of an artifact as an artifact of its own (it has its own sha256). */
export function signatureArtifact(a: FileArtifact): FileArtifact | undefined {
  const s = a.signature;
  if (!s) return undefined;
  const ext = (s.urls[0] ?? s.distro?.file ?? '').match(/\.(asc|sig|sign)$/)?.[0] ?? '.asc';
  return { file: `${a.file}${ext}`, sha256: s.sha256, ...(s.size !== undefined ? { size: s.size } : {}), urls: s.urls, distro: s.distro };
}

/** The artifact plus its signature file, i.e. every store entry fetching it needs. */
export function storeEntriesOf(a: FileArtifact): FileArtifact[] {
  const sig = signatureArtifact(a);
  return sig ? [a, sig] : [a];
}

export interface Ctx {
  opts: FetchOptions;
  dl: DownloadContext;
}

export async function withCtx<T>(opts: FetchOptions, fn: (c: Ctx) => Promise<T>): Promise<T> {
  // a full (or read-only) store: the error says how to put it elsewhere
  noteStore(opts.distdir);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const { dispatcher, close } = makeDispatcher(timeoutMs);
  try {
    return await fn({
      opts,
      dl: {
        dispatcher,
        timeoutMs,
        retries: opts.retries ?? 3,
        backoffMs: opts.backoffMs ?? 1_000,
        maxBytes: opts.maxBytes,
        deadlineMs: opts.deadlineMs,
        minRateBytes: opts.minRateBytes,
        minRateWindowMs: opts.minRateWindowMs,
        signal: opts.signal,
        onProgress: opts.onProgress,
        onLog: opts.onLog,
      },
    });
  } finally {
    await close();
  }
}

const isAbortish = (e: unknown, signal?: AbortSignal) => Boolean(signal?.aborted) || (e as Error)?.name === 'AbortError';

/** Store entry of one file (no signature check): present, or downloaded now under the lock. */
async function obtainFile(a: FileArtifact, c: Ctx): Promise<FetchResult> {
  const { opts } = c;
  const log = opts.onLog;
  const present = (p: string): FetchResult => ({ file: a.file, sha256: a.sha256, path: p, size: a.size ?? 0, status: 'present', transferred: 0 });
  const first = await checkStore(opts.distdir, a, opts.signal);
  if (first.state === 'ok') return withSize(present(first.path));
  if (opts.offline) {
    throw new OfflineMissingError([{ file: a.file, sha256: a.sha256, ...(first.state === 'corrupt' ? { damaged: { path: first.path, actual: first.actual } } : {}) }], opts.distdir);
  }
  await mkdir(opts.distdir, { recursive: true });
  return withStoreLock(
    opts.distdir,
    a,
    {
      signal: opts.signal,
      onWait: (o) => log?.(`${a.file}: another download of it is running${ownerText(o)}; waiting for it`),
      onTakeOver: (why) => log?.(`${a.file}: took over a stale download lock (${why})`),
      whileWaiting: async () => {
        if (!existsSync(storePath(opts.distdir, a))) return undefined;
        const p = await inStore(opts.distdir, a);
        return p ? withSize(present(p)) : undefined;
      },
    },
    async () => {
      const again = await checkStore(opts.distdir, a, opts.signal);
      if (again.state === 'ok') return withSize(present(again.path));
      if (again.state === 'corrupt') {
        log?.(`${a.file}: store entry ${again.path} is damaged (sha256 ${again.actual}, expected ${a.sha256}); removing it`);
        await rm(again.path, { force: true, recursive: true });
      }
      const sources = sourcesOf(a, opts);
      const part = partialPath(opts.distdir, a);
      const attempts: { source: string; reason: string; kind?: string }[] = [];
      for (const s of sources) {
        try {
          const d = await downloadFrom(s.url, a, part, c.dl);
          const dest = storePath(opts.distdir, a);
          await mkdir(path.dirname(dest), { recursive: true });
          await rename(part, dest);
          log?.(`${a.file}: stored ${dest} (${d.size} bytes, sha256 ${d.sha256}) from ${s.url}`);
          return { file: a.file, sha256: a.sha256, path: dest, size: d.size, status: 'stored' as const, source: s.url, transferred: d.transferred };
        } catch (e) {
          if (isAbortish(e, opts.signal)) throw e;
          if (e instanceof IoError && DISK_FULL.has(e.code) && e.path === part) {
            // kept, a partial file on a full disk only keeps it full; the next attempt starts over
            await rm(part, { force: true });
            e.message += `\n  the partial download ${part} was removed`;
          }
          if (e instanceof ForgeError) throw e;
          // the store cannot take it (disk full, read-only, permissions): no other source helps;
          // a local mirror's file that cannot be read is that source's failure
          if (isIoError(e) && (!e.path || !path.relative(path.resolve(opts.distdir), path.resolve(e.path)).startsWith('..'))) throw ioError(e, { path: e.path ?? part });
          const f = e instanceof SourceFailure ? e : new SourceFailure(s.url, 'network', (e as Error).message, false);
          attempts.push({ source: s.url, reason: f.reason, kind: f.kind });
          log?.(`${a.file}: ${s.url}: ${f.reason.split('\n').join(' ')}${sources.indexOf(s) < sources.length - 1 ? '; trying the next source' : ''}`);
        }
      }
      throw new SourcesExhaustedError(a.file, a.sha256, attempts, opts.distdir, noSourceReason(a, opts));
    },
  );
}

/** errno codes of a full disk or quota: a partial file that cannot grow is removed */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

async function withSize(r: FetchResult): Promise<FetchResult> {
  if (r.size) return r;
  return { ...r, size: (await stat(r.path)).size };
}

async function obtain(a: FileArtifact, c: Ctx): Promise<FetchResult> {
  const r = await obtainFile(a, c);
  c.opts.onResult?.(r);
  const sigA = signatureArtifact(a);
  if (sigA && a.signature) {
    const sr = await obtainFile(sigA, c);
    c.opts.onResult?.(sr);
    const keyring = path.join(c.opts.keysDir ?? path.join(BUILTIN_RECIPES, 'keys'), a.signature.keyring);
    const ok = await verifySignature(r.path, sr.path, keyring, a.signature.fingerprints, { signal: c.opts.signal });
    c.opts.onLog?.(`${a.file}: good OpenPGP signature by ${ok.fingerprint}${ok.note ? ` (${ok.note})` : ''}`);
  }
  return r;
}

/** Returns the store path of a verified copy of this artifact, downloading if needed. */
export async function fetchArtifact(a: FileArtifact, opts: FetchOptions): Promise<string> {
  return (await fetchArtifactResult(a, opts)).path;
}

/** Like fetchArtifact, with what happened (present/stored, size, source). */
export async function fetchArtifactResult(a: FileArtifact, opts: FetchOptions): Promise<FetchResult> {
  return withCtx(opts, (c) => obtain(a, c));
}

/** Equivalent alternatives (a PlanComponent's artifacts): first one obtainable wins. */
export async function fetchOneOf<T extends FileArtifact>(alternatives: T[], opts: FetchOptions): Promise<{ artifact: T; path: string }> {
  if (alternatives.length === 0) throw new FetchError('nothing to fetch: no artifacts given');
  // a verified copy of any alternative beats downloading a more preferred one
  for (const a of alternatives) {
    if (await storeEntriesPresent(a, opts.distdir)) return { artifact: a, path: await fetchArtifact(a, { ...opts, offline: true }) };
  }
  if (opts.offline) {
    // a copy that is there but damaged is said so, not "not in the store"
    for (const a of alternatives) {
      const st = await checkStore(opts.distdir, a, opts.signal);
      if (st.state === 'corrupt') {
        throw new OfflineMissingError([{ file: a.file, sha256: a.sha256, alternatives, damaged: { path: st.path, actual: st.actual } }], opts.distdir);
      }
    }
    throw new OfflineMissingError([{ file: alternatives[0]!.file, sha256: alternatives[0]!.sha256, alternatives }], opts.distdir);
  }
  const errors: FetchError[] = [];
  for (const a of alternatives) {
    try {
      return { artifact: a, path: await fetchArtifact(a, opts) };
    } catch (e) {
      if (isAbortish(e, opts.signal) || !(e instanceof SourcesExhaustedError)) throw e;
      errors.push(e);
      if (alternatives.length > 1) opts.onLog?.(`${a.file}: not obtainable; trying the equivalent ${alternatives[alternatives.indexOf(a) + 1]?.file ?? '(none left)'}`);
    }
  }
  if (errors.length === 1) throw errors[0]!;
  throw new FetchError(`none of ${alternatives.length} equivalent archives could be fetched:\n${errors.map((e) => indent(e.message)).join('\n')}`, {
    hint: storeHint(alternatives, opts.distdir, true).replace('put the file', 'put any one of them'),
    cause: errors,
  });
}

const indent = (s: string) => s.split('\n').map((l) => `  ${l}`).join('\n');

/** True when the artifact (and its signature file, when pinned) are verified store entries. */
export async function storeEntriesPresent(a: FileArtifact, distdir: string): Promise<boolean> {
  for (const e of storeEntriesOf(a)) if (!(await inStore(distdir, e))) return false;
  return true;
}

export type { StoreKey };
