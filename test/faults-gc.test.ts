// `nginx-forge gc`: removes unused stage entries (age, then size budget), damaged entries, temp and
// work dirs of dead processes, unpinned VM kernels and distfiles, dead locks; never an entry a
// live process holds or used within the grace period; says what it freed.
import { existsSync, mkdirSync, mkdtempSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageCache } from '../src/cache/index.ts';
import { gc, pinnedHashes } from '../src/gc.ts';
import { markInUse, tryLock } from '../src/lock.ts';
import { tempDir } from '../src/tmpdirs.ts';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';

const DAY = 86_400_000;
let home: string;
let deadPid: number;
const saved = process.env.NGINX_FORGE_HOME;

const age = (p: string, ms: number) => {
  const t = new Date(Date.now() - ms);
  utimesSync(p, t, t);
};

async function fixture() {
  home = mkdtempSync(path.join(tmpdir(), 'nf-faults-gc-'));
  process.env.NGINX_FORGE_HOME = home;
  deadPid = Number((await execa('sh', ['-c', 'echo $$'])).stdout);
  const c = new StageCache(path.join(home, 'stages'));
  const entry = async (key: string, bytes: number, usedAgo: number) => {
    const { dir } = await c.produce('build:x', key, async (tmp) => void writeFileSync(path.join(tmp, 'out'), Buffer.alloc(bytes, 1)));
    age(dir, usedAgo);
    return dir;
  };
  const e = {
    old: await entry('old', 100_000, 40 * DAY),
    recent: await entry('recent', 100_000, 2 * 3_600_000),
    held: await entry('held', 100_000, 40 * DAY),
    damaged: await entry('damaged', 100_000, 2 * 3_600_000),
    lru1: await entry('lru1', 300_000, 5 * DAY),
    lru2: await entry('lru2', 300_000, 3 * DAY),
    fresh: await entry('fresh', 300_000, 60_000),
  };
  unlinkSync(path.join(e.damaged, 'out'));
  age(e.damaged, 2 * 3_600_000);
  expect(tryLock(path.join(home, 'stages', 'build_x', 'held.lock'))).toBe(true);
  const tmpDead = path.join(home, 'stages', 'build_x', `k.tmp-${deadPid}-1`);
  mkdirSync(tmpDead);
  const workDead = path.join(home, 'work', `abc.${deadPid}`);
  const workLive = path.join(home, 'work', `def.${process.pid}`);
  mkdirSync(path.join(workDead, 'nginx-1.26.3'), { recursive: true });
  writeFileSync(path.join(workDead, 'nginx-1.26.3', 'big'), Buffer.alloc(50_000));
  mkdirSync(workLive, { recursive: true });
  const pinned = [...pinnedHashes([BUILTIN_RECIPES])];
  const kernelSha = JSON.parse((await import('node:fs')).readFileSync(path.join(BUILTIN_RECIPES, 'vm', 'kernel.json'), 'utf8')).sha256;
  const oldKernel = path.join(home, 'vm', 'kernels', 'f'.repeat(64));
  const curKernel = path.join(home, 'vm', 'kernels', kernelSha);
  mkdirSync(oldKernel, { recursive: true });
  mkdirSync(curKernel, { recursive: true });
  const dd = path.join(home, 'distfiles');
  const unpinned = path.join(dd, 'e'.repeat(64));
  const pinnedFile = path.join(dd, pinned[0]!);
  mkdirSync(unpinned, { recursive: true });
  writeFileSync(path.join(unpinned, 'old-1.0.tar.gz'), Buffer.alloc(20_000));
  mkdirSync(pinnedFile, { recursive: true });
  writeFileSync(path.join(pinnedFile, 'x.tar.gz'), 'x');
  mkdirSync(path.join(dd, '.locks'), { recursive: true });
  const deadLock = path.join(dd, '.locks', `${'d'.repeat(64)}.lock`);
  writeFileSync(deadLock, JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), nonce: 'n', since: '' }));
  return { ...e, tmpDead, workDead, workLive, oldKernel, curKernel, unpinned, pinnedFile, deadLock };
}

let f: Awaited<ReturnType<typeof fixture>>;
beforeAll(async () => {
  f = await fixture();
});
afterAll(() => {
  process.env.NGINX_FORGE_HOME = saved;
});

describe('nginx-forge gc', () => {
  it('--dry-run removes nothing and says what it would', async () => {
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'gc', '--dry-run'], { reject: false, env: { NGINX_FORGE_HOME: home } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/would remove .*stages\/build_x\/old .* not used for 40 d/);
    expect(r.stdout).toMatch(/would free [\d.]+ KiB/);
    for (const p of Object.values(f)) expect(existsSync(p), p).toBe(true);
  });

  it('with an age and a size budget: removes exactly what it should, keeps what is held or fresh', () => {
    const r = gc({ maxAgeMs: 30 * DAY, maxBytes: 900_000 }); // ~1.2 MB in stages: only the least recently used one must go
    const removed = r.removed.map((x) => x.path);
    for (const p of [f.old, f.damaged, f.tmpDead, f.workDead, f.oldKernel, f.unpinned, f.deadLock, f.lru1]) {
      expect(removed, p).toContain(p);
      expect(existsSync(p), p).toBe(false);
    }
    for (const p of [f.recent, f.held, f.fresh, f.workLive, f.curKernel, f.pinnedFile, f.lru2]) expect(existsSync(p), p).toBe(true);
    expect(r.removed.find((x) => x.path === f.damaged)!.reason).toMatch(/damaged or unverifiable: out is missing/);
    expect(r.removed.find((x) => x.path === f.lru1)!.reason).toMatch(/least recently used/);
    expect(r.skipped.find((s) => s.path === f.held)!.reason).toMatch(/lock is held by a running build/);
    expect(r.skipped.find((s) => s.path === f.fresh)!.reason).toMatch(/grace period/);
    expect(r.freed).toBeGreaterThan(500_000);
    expect(r.after.total).toBeLessThan(r.before.total);
  });

  it('--json reports what it freed; doctor reports the state size', async () => {
    const g = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'gc', '--json', '--max-age', '0'], { reject: false, env: { NGINX_FORGE_HOME: home } });
    expect(g.exitCode, g.stderr).toBe(0);
    const j = JSON.parse(g.stdout);
    expect(j).toHaveProperty('freed');
    expect(j.dryRun).toBe(false);
    const d = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'doctor'], { reject: false, env: { NGINX_FORGE_HOME: home } });
    expect(d.stdout).toMatch(new RegExp(`State: ${home} holds [\\d.]+ (KiB|MiB) \\(.*stages [\\d.]+ (KiB|MiB)`));
    expect(d.stdout).toMatch(/`nginx-forge gc` removes what is unused/);
  });

  it('bad budgets are exit 2', async () => {
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'gc', '--max-size', 'lots'], { reject: false, env: { NGINX_FORGE_HOME: home } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/expected a size like 2G/);
  });

  it('--max-age 0 keeps the logs a running build marked in use; a dead one\'s mark and logs go', async () => {
    const logs = path.join(home, 'logs');
    const live = path.join(logs, 'ktls-aaaaaaaaaaaa');
    const dead = path.join(logs, 'ktls-bbbbbbbbbbbb');
    mkdirSync(live, { recursive: true });
    mkdirSync(dead, { recursive: true });
    writeFileSync(path.join(live, 'compile_nginx.log'), 'still being written\n');
    writeFileSync(path.join(dead, 'compile_nginx.log'), 'x\n');
    const release = markInUse(live, 'build ktls-aaaaaaaaaaaa');
    const deadMark = `${dead}.in-use-${deadPid}.lock`;
    writeFileSync(deadMark, JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), nonce: 'n', since: '' }));
    try {
      // the CLI, as a user runs it while a build is running (the mark is this test process's)
      const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'gc', '--max-age', '0'], { reject: false, env: { NGINX_FORGE_HOME: home } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(existsSync(path.join(live, 'compile_nginx.log'))).toBe(true);
      expect(r.stdout).toMatch(new RegExp(`kept .*logs/ktls-aaaaaaaaaaaa .* in use by a running build \\(pid ${process.pid}\\)`));
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(deadMark)).toBe(false);
    } finally {
      release();
    }
    const r2 = gc({ maxAgeMs: 0 });
    expect(r2.removed.map((x) => x.path)).toContain(live);
  });

  it('--dry-run --distdir: a store that does not exist is exit 2 and is not created', async () => {
    const absent = path.join(home, 'no-such-store');
    const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'gc', '--dry-run', '--distdir', absent], { reject: false, env: { NGINX_FORGE_HOME: home } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--distdir ${absent}: no such directory`);
    expect(existsSync(absent)).toBe(false);
    const there = path.join(home, 'other-store');
    mkdirSync(there);
    const ok = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'gc', '--dry-run', '--distdir', there], { reject: false, env: { NGINX_FORGE_HOME: home } });
    expect(ok.exitCode, ok.stderr).toBe(0);
  });

  it('temp trees under $TMPDIR of a process that is gone are removed, a live one\'s kept (issue 21, defect 7)', async () => {
    const tmp = mkdtempSync(path.join(home, 'tmpdir-'));
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const dead = path.join(tmp, `nginx-forge-deb-${deadPid}-1-AbC123`);
      mkdirSync(path.join(dead, 'pkg', 'usr'), { recursive: true });
      writeFileSync(path.join(dead, 'pkg', 'usr', 'big'), Buffer.alloc(30_000));
      const mine = tempDir('patch');
      expect(path.dirname(mine)).toBe(tmp);
      const old = path.join(tmp, 'nginx-forge-moddeb-XyZ789');
      mkdirSync(old);
      age(old, 2 * DAY);
      const other = path.join(tmp, 'nginx-forge-something-else');
      mkdirSync(other);
      age(other, 2 * DAY);
      const dry = gc({ dryRun: true });
      expect(dry.removed.filter((r) => r.kind === 'temp').map((r) => r.path).sort()).toEqual([dead, old].sort());
      expect(existsSync(dead)).toBe(true);
      const r = gc({});
      const temps = r.removed.filter((x) => x.kind === 'temp');
      expect(temps.find((x) => x.path === dead)?.reason).toBe(`temp tree of a process that is gone (pid ${deadPid})`);
      expect(temps.find((x) => x.path === dead)!.bytes).toBeGreaterThanOrEqual(30_000);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(old)).toBe(false);
      // this process's own tree, and names that are not ours, stay
      expect(existsSync(mine)).toBe(true);
      expect(existsSync(other)).toBe(true);
    } finally {
      process.env.TMPDIR = savedTmp;
      if (savedTmp === undefined) delete process.env.TMPDIR;
    }
  });
});
