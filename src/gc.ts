// `nginx-forge gc`: the state directory only grew (one build plus one interrupted build left
// ~930 MB; every new plan adds ~200 MB of stage entries). This removes, and says what it freed:
//   - stage entries not used within --max-age (default 30 days; a lookup records the use as the
//     entry directory's mtime), then the least recently used ones until stages/ fits --max-size;
//     damaged entries (failing their manifest) and temp dirs of dead producers always;
//   - work/<run>.<pid> trees whose owner process is gone, and $TMPDIR/nginx-forge-<kind>-<pid>-…
//     trees (a package's staging tree, a patch's dry run) whose owner is gone (src/tmpdirs.ts);
//   - unpacked VM kernels other than the pinned one (and the pinned one, and initramfs images,
//     when older than --max-age);
//   - distfiles no recipe pins (the built-in recipes, plus --recipes dirs), stale partial
//     downloads and dead locks; logs older than --max-age.
// Never removed: an entry whose lock is held by a live process, or that was used in the last
// GRACE_MS (a running build may be reading it without a lock); logs a running build or test run
// marked in use (lock.ts markInUse: an owner-pid lock beside the directory).
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { StageCache } from './cache/index.ts';
import { removeTree } from './mounts.ts';
import { inUseBy, isInUseLock, isLockHeld, lockState, pidAlive } from './lock.ts';
import { distfilesDir, logsDir, stagesDir, stateDir, workDir } from './paths.ts';
import { BUILTIN_RECIPES } from './recipes/load.ts';
import { staleTempDirs } from './tmpdirs.ts';

export const GRACE_MS = 60 * 60_000;
export const DEFAULT_MAX_AGE_MS = 30 * 86_400_000;

export type GcKind = 'stage' | 'stage-temp' | 'work' | 'temp' | 'vm-kernel' | 'distfile' | 'partial' | 'lock' | 'log';

export interface GcItem {
  kind: GcKind;
  path: string;
  bytes: number;
  reason: string;
}

export interface GcOptions {
  /** remove stage entries (and logs, kernels) not used for this long */
  maxAgeMs?: number;
  /** then remove least recently used stage entries until stages/ is at most this big */
  maxBytes?: number;
  dryRun?: boolean;
  /** extra recipe directories whose pinned files are kept in distfiles/ */
  recipes?: string[];
  distdir?: string;
  now?: number;
}

export interface GcReport {
  dryRun: boolean;
  removed: GcItem[];
  freed: number;
  /** held by a live process or used within the grace period: left alone */
  skipped: { path: string; reason: string }[];
  before: StateUsage;
  after: StateUsage;
}

export interface StateUsage {
  dir: string;
  total: number;
  parts: Record<string, number>;
}

/** Bytes on disk below a path (does not follow symlinks). */
export function diskUsage(p: string): number {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return 0;
  }
  let n = st.blocks !== undefined ? st.blocks * 512 : st.size;
  if (st.isDirectory()) {
    let names: string[] = [];
    try {
      names = readdirSync(p);
    } catch {
      /* unreadable */
    }
    for (const f of names) n += diskUsage(path.join(p, f));
  }
  return n;
}

/** Sizes of the parts of the state directory (doctor reports this). */
export function stateUsage(distdir?: string): StateUsage {
  const dir = stateDir();
  const parts: Record<string, number> = {};
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) for (const f of readdirSync(dir)) parts[f] = diskUsage(path.join(dir, f));
  const dd = distfilesDir(distdir);
  if (!dd.startsWith(`${dir}${path.sep}`)) parts['distfiles (elsewhere)'] = diskUsage(dd);
  return { dir, total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

/** Every sha256 a recipe directory pins (artifacts, signatures, patch sets, the VM kernel). */
export function pinnedHashes(dirs: string[]): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'sha256' && typeof x === 'string' && /^[0-9a-f]{64}$/.test(x)) out.add(x);
        else walk(x);
      }
    }
  };
  for (const d of dirs) {
    for (const sub of ['components', 'vm']) {
      const dir = path.join(d, sub);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
        try {
          walk(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
        } catch {
          /* a broken recipe pins nothing */
        }
      }
    }
  }
  return out;
}

const ago = (ms: number) => (ms >= 86_400_000 ? `${Math.floor(ms / 86_400_000)} d` : ms >= 3_600_000 ? `${Math.floor(ms / 3_600_000)} h` : `${Math.max(0, Math.floor(ms / 60_000))} min`);

const mtime = (p: string) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
};

export function gc(opts: GcOptions = {}): GcReport {
  const now = opts.now ?? Date.now();
  const maxAge = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const before = stateUsage(opts.distdir);
  const removed: GcItem[] = [];
  const skipped: GcReport['skipped'] = [];
  const remove = (kind: GcKind, p: string, reason: string, bytes = diskUsage(p)) => {
    removed.push({ kind, path: p, bytes, reason });
    if (!opts.dryRun) removeTree(p);
  };

  // --- stage entries
  const stages = stagesDir();
  const cache = new StageCache(stages);
  const entries: { stage: string; key: string; dir: string; used: number; bytes: number }[] = [];
  if (existsSync(stages)) {
    for (const stage of readdirSync(stages)) {
      const sdir = path.join(stages, stage);
      if (!statSync(sdir).isDirectory()) continue;
      const names = readdirSync(sdir);
      for (const name of names) {
        const p = path.join(sdir, name);
        const tmp = /^(.+)\.tmp-(\d+)-\d+$/.exec(name);
        if (tmp) {
          if (!pidAlive(Number(tmp[2]))) remove('stage-temp', p, `temp dir of a producer that is gone (pid ${tmp[2]})`);
          continue;
        }
        if (name.endsWith('.lock') || name.includes('.lock.') || name.endsWith('.lock-target') || name.endsWith('.lock-target.lock')) {
          // a lock whose entry is gone and whose holder is dead, or an old-style lock target
          const entry = path.join(sdir, name.replace(/\.lock(-target)?(\.lock)?$/, ''));
          if (name.endsWith('.lock-target') && !names.includes(`${name}.lock`)) remove('lock', p, 'old-style lock target (no longer used)');
          else if (lockState(p).state === 'stale' || (name.endsWith('.lock-target.lock') && now - mtime(p) > 60_000)) remove('lock', p, 'lock of a process that is gone');
          else if (!existsSync(entry) && !isLockHeld(p)) remove('lock', p, 'lock of a removed entry');
          continue;
        }
        if (!existsSync(path.join(p, 'meta.json'))) {
          if (now - mtime(p) > GRACE_MS) remove('stage', p, 'incomplete entry (no meta.json)');
          continue;
        }
        entries.push({ stage, key: name, dir: p, used: mtime(p), bytes: diskUsage(p) });
      }
    }
  }
  const held = (e: (typeof entries)[number]) => {
    const lock = path.join(path.dirname(e.dir), `${e.key}.lock`);
    if (isLockHeld(lock)) return 'its lock is held by a running build';
    if (now - e.used < GRACE_MS) return `used ${ago(now - e.used)} ago (within the grace period of a running build)`;
    return undefined;
  };
  const kept: typeof entries = [];
  for (const e of entries) {
    // the stage directory name is already safe: entryDir(name, key) is this very directory
    const check = cache.verify(e.stage, e.key);
    const damaged = check.ok ? undefined : check.problem;
    const h = held(e);
    if (h) {
      skipped.push({ path: e.dir, reason: h });
      kept.push(e);
      continue;
    }
    if (damaged) remove('stage', e.dir, `damaged or unverifiable: ${damaged}`, e.bytes);
    else if (now - e.used > maxAge) remove('stage', e.dir, `not used for ${ago(now - e.used)}`, e.bytes);
    else kept.push(e);
  }
  if (opts.maxBytes !== undefined) {
    let total = kept.reduce((n, e) => n + e.bytes, 0);
    for (const e of [...kept].sort((a, b) => a.used - b.used)) {
      if (total <= opts.maxBytes) break;
      if (held(e)) continue;
      remove('stage', e.dir, `least recently used (${ago(now - e.used)} ago); stages/ over --max-size`, e.bytes);
      total -= e.bytes;
    }
  }

  // --- scratch trees of builds whose process is gone
  const work = workDir();
  if (existsSync(work)) {
    for (const f of readdirSync(work)) {
      const pid = Number(/\.(\d+)$/.exec(f)?.[1]);
      if (pid && pidAlive(pid)) skipped.push({ path: path.join(work, f), reason: `its build (pid ${pid}) is running` });
      else remove('work', path.join(work, f), pid ? `scratch tree of a build that is gone (pid ${pid})` : 'scratch tree without an owner');
    }
  }

  // --- temp trees under $TMPDIR of commands that did not live to remove them (kill -9, a crash)
  for (const t of staleTempDirs({ now })) remove('temp', t.path, t.reason);

  // --- unpacked VM kernels
  const kernels = path.join(stateDir(), 'vm', 'kernels');
  if (existsSync(kernels)) {
    const pinned = pinnedHashes([BUILTIN_RECIPES, ...(opts.recipes ?? [])]);
    for (const f of readdirSync(kernels)) {
      const p = path.join(kernels, f);
      const age = now - mtime(p);
      if (f.startsWith('.unpack-')) {
        if (age > GRACE_MS) remove('vm-kernel', p, 'an interrupted unpack');
      } else if (!pinned.has(f)) remove('vm-kernel', p, 'a kernel no recipe pins any more');
      else if (age > maxAge) remove('vm-kernel', p, `not unpacked or used for ${ago(age)} (unpacked again from distfiles when needed)`);
    }
  }

  const initramfs = path.join(stateDir(), 'vm', 'initramfs');
  if (existsSync(initramfs)) {
    for (const f of readdirSync(initramfs)) {
      const p = path.join(initramfs, f);
      const age = now - mtime(p);
      if (f.startsWith('.staging-') ? age > GRACE_MS : age > maxAge) remove('vm-kernel', p, f.startsWith('.staging-') ? 'an interrupted initramfs build' : `initramfs built ${ago(age)} ago (rebuilt in seconds when needed)`);
    }
  }

  // --- distfiles
  const dd = distfilesDir(opts.distdir);
  if (existsSync(dd)) {
    const pinned = pinnedHashes([BUILTIN_RECIPES, ...(opts.recipes ?? [])]);
    for (const f of readdirSync(dd)) {
      const p = path.join(dd, f);
      if (/^[0-9a-f]{64}$/.test(f)) {
        if (!pinned.has(f)) remove('distfile', p, 'no recipe pins this file');
      } else if (f === '.partial') {
        for (const part of readdirSync(p)) {
          const pp = path.join(p, part);
          const sha = part.replace(/\.part$/, '');
          const lock = path.join(dd, '.locks', `${sha}.lock`);
          if (isLockHeld(lock)) continue;
          if (!pinned.has(sha)) remove('partial', pp, 'partial download of a file no recipe pins');
          else if (now - mtime(pp) > maxAge) remove('partial', pp, `partial download untouched for ${ago(now - mtime(pp))}`);
        }
      } else if (f === '.locks') {
        for (const l of readdirSync(p)) {
          const lp = path.join(p, l);
          if (/\.(stale|new)-/.test(l) ? now - mtime(lp) > 60_000 : lockState(lp).state === 'stale') remove('lock', lp, 'lock of a download that is gone');
        }
      }
    }
  }

  // --- logs
  const logs = logsDir();
  if (existsSync(logs)) {
    for (const f of readdirSync(logs)) {
      const p = path.join(logs, f);
      if (isInUseLock(f)) {
        if (lockState(p).state === 'stale') remove('lock', p, 'in-use mark of a build that is gone');
        continue;
      }
      // a running build appends to its log files without touching the directory's mtime
      const users = inUseBy(p);
      if (users.length) skipped.push({ path: p, reason: `in use by a running build (pid ${users.map((u) => u.pid).join(', ')})` });
      else if (now - mtime(p) > maxAge) remove('log', p, `logs not written for ${ago(now - mtime(p))}`);
    }
  }

  const freed = removed.reduce((n, r) => n + r.bytes, 0);
  const after = opts.dryRun ? { ...before, total: before.total - freed } : stateUsage(opts.distdir);
  return { dryRun: Boolean(opts.dryRun), removed, freed, skipped, before, after };
}
