// Cache entries are checked against their manifest on every use (issue 21, defect 1): bytes
// changed in place (also with the mtime put back), a file added, a file removed, a mode changed,
// a link retargeted, an entry lying under another key, a changed result: each is refused with
// one line (stage, path, what differed, "rebuilding") through the runner's reporter, and the
// stage is rebuilt. (Before: four bytes written into an install tree went into the .deb.)
import { chmodSync, closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync, writeSync, lstatSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { STAMPS, StageCache } from '../src/cache/index.ts';
import { runGraph } from '../src/pipeline/runner.ts';
import { fakeStages, type Body } from './helpers/fakeStages.ts';

const LIB = 'ELF static archive: OpenSSL libssl, many objects';

/** Overwrite bytes in place and put the file's mtime back (touch -r), as a careful tamperer would. */
function overwriteKeepingMtime(file: string, offset: number, text: string): void {
  const ref = `${file}.ref`;
  writeFileSync(ref, '');
  execFileSync('touch', ['-r', file, ref]);
  overwrite(file, offset, text);
  execFileSync('touch', ['-r', ref, file]);
  rmSync(ref);
}

/** a (library-like entry) and b feed c (a JSON result); a and c are targets, as installs are. */
function setup(dir = mkdtempSync(path.join(tmpdir(), 'nf-cache-integrity-'))) {
  const runs: Record<string, number> = { a: 0, b: 0, c: 0 };
  const bodies: Partial<Record<'a' | 'b' | 'c', Body>> = {
    a: async (ctx) => {
      runs.a!++;
      mkdirSync(path.join(ctx.out, 'root/lib'), { recursive: true });
      mkdirSync(path.join(ctx.out, 'root/etc'), { recursive: true });
      writeFileSync(path.join(ctx.out, 'root/lib/libssl.a'), LIB);
      chmodSync(path.join(ctx.out, 'root/lib/libssl.a'), 0o644);
      writeFileSync(path.join(ctx.out, 'root/etc/nginx.conf'), 'worker_processes 1;\n');
      symlinkSync('libssl.a', path.join(ctx.out, 'root/lib/libssl.so'));
      return { note: 'a' };
    },
    b: async () => {
      runs.b!++;
    },
    c: async (ctx) => {
      runs.c!++;
      return { lib: readFileSync(path.join(ctx.input('a').dir!, 'root/lib/libssl.a'), 'utf8') };
    },
  };
  const refused: string[] = [];
  const run = (keys: Partial<Record<'a' | 'b' | 'c', string>> = {}) => {
    const f = fakeStages(bodies, keys);
    return runGraph(f.stages, f.modeOf, f.implOf, new StageCache(path.join(dir, 'stages')), { targets: ['a', 'c'], slots: 1, logFor: (id) => path.join(dir, `${id}.log`) }, {
      refused: (_id, line) => refused.push(line),
    });
  };
  const entry = (id: string, key = `key-${id}`) => path.join(dir, 'stages', id, key);
  return { dir, runs, refused, run, entry };
}

/** Build once, damage entry a, build again: a is refused in one line and rebuilt, c is not rerun. */
async function refusedAfter(damage: (entry: string, t: ReturnType<typeof setup>) => void | Promise<void>) {
  const t = setup();
  await t.run();
  expect(t.runs).toEqual({ a: 1, b: 1, c: 1 });
  await damage(t.entry('a'), t);
  const before = { ...t.runs };
  const r = await t.run();
  expect(t.refused).toHaveLength(1);
  expect(r.results.get('a')!.status).toBe('built');
  expect(t.runs).toEqual({ ...before, a: before.a! + 1 });
  // rebuilt as produced: the damage is gone, and the entry is accepted again
  expect(readFileSync(path.join(t.entry('a'), 'root/lib/libssl.a'), 'utf8')).toBe(LIB);
  const again = await t.run();
  expect(again.results.get('a')!.status).toBe('cached');
  expect(t.refused).toHaveLength(1);
  return t.refused[0]!;
}

const overwrite = (file: string, at: number, bytes: string) => {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, at);
  closeSync(fd);
};

describe('a cached entry is checked against its manifest on every use', () => {
  it('four bytes flipped in place (same size)', async () => {
    const line = await refusedAfter((e) => overwrite(path.join(e, 'root/lib/libssl.a'), 8, 'XXXX'));
    expect(line).toMatch(/^cache: a: \S+\/stages\/a\/key-a\/root\/lib\/libssl\.a has other bytes than when the entry was made \(sha256 [0-9a-f]{64}, the manifest records [0-9a-f]{64}\); rebuilding$/);
  });

  it('the same, with size and mtime put back (touch -r)', async () => {
    const line = await refusedAfter((e) => {
      const f = path.join(e, 'root/lib/libssl.a');
      const st = statSync(f, { bigint: true });
      overwriteKeepingMtime(f, 8, 'XXXX');
      expect(statSync(f, { bigint: true }).mtimeNs).toBe(st.mtimeNs);
      expect(statSync(f, { bigint: true }).size).toBe(st.size);
    });
    expect(line).toMatch(/root\/lib\/libssl\.a has other bytes than when the entry was made .*; rebuilding$/);
  });

  it('a file added (root/etc/cron.d/x would have been shipped)', async () => {
    const line = await refusedAfter((e) => writeFileSync(path.join(e, 'root/etc/x'), '* * * * * root sh\n'));
    expect(line).toMatch(/^cache: a: \S+\/key-a\/root\/etc\/x is not in the manifest \(a regular file added after the entry was made\); rebuilding$/);
    // a new directory is refused as well
    const line2 = await refusedAfter((e) => mkdirSync(path.join(e, 'root/etc/cron.d')));
    expect(line2).toMatch(/root\/etc\/cron\.d is not in the manifest \(a directory added/);
  });

  it('a file removed', async () => {
    const line = await refusedAfter((e) => unlinkSync(path.join(e, 'root/etc/nginx.conf')));
    expect(line).toMatch(/root\/etc\/nginx\.conf is missing \(the manifest records a regular file\); rebuilding$/);
  });

  it('a mode changed (file and directory)', async () => {
    const line = await refusedAfter((e) => chmodSync(path.join(e, 'root/lib/libssl.a'), 0o4755));
    expect(line).toMatch(/root\/lib\/libssl\.a has mode 04755, the manifest records 0644; rebuilding$/);
    const line2 = await refusedAfter((e) => chmodSync(path.join(e, 'root/etc'), 0o777));
    expect(line2).toMatch(/root\/etc has mode 0777, the manifest records 07\d\d; rebuilding$/);
  });

  it('a symbolic link retargeted, or replaced by a file', async () => {
    const line = await refusedAfter((e) => {
      unlinkSync(path.join(e, 'root/lib/libssl.so'));
      symlinkSync('/etc/passwd', path.join(e, 'root/lib/libssl.so'));
    });
    expect(line).toMatch(/root\/lib\/libssl\.so links to \/etc\/passwd, the manifest records libssl\.a; rebuilding$/);
    const line2 = await refusedAfter((e) => {
      unlinkSync(path.join(e, 'root/lib/libssl.so'));
      writeFileSync(path.join(e, 'root/lib/libssl.so'), 'x');
    });
    expect(line2).toMatch(/root\/lib\/libssl\.so is a regular file, the manifest records a symbolic link/);
  });

  it('an entry that lies under another key (meta.json names another key)', async () => {
    const line = await refusedAfter(async (e, t) => {
      // the entry of another key (another version of the stage), moved to this key's place
      await t.run({ a: 'key-other' });
      rmSync(e, { recursive: true });
      renameSync(t.entry('a', 'key-other'), e);
    });
    expect(line).toMatch(/^cache: a: \S+\/key-a\/meta\.json names stage a key key-other, but the entry lies at stage a key key-a; rebuilding$/);
  });

  it('meta.json edited (a field the stage returned)', async () => {
    const line = await refusedAfter((e) => {
      const m = JSON.parse(readFileSync(path.join(e, 'meta.json'), 'utf8'));
      m.note = 'other';
      writeFileSync(path.join(e, 'meta.json'), JSON.stringify(m));
    });
    expect(line).toMatch(/meta\.json was changed \(its fields differ from those recorded in the manifest\); rebuilding$/);
  });

  it('a result entry: its result.json changed, or copied from another key', async () => {
    const t = setup();
    await t.run();
    const result = path.join(t.entry('c'), 'result.json');
    const value = readFileSync(result, 'utf8');
    writeFileSync(result, value.replace('OpenSSL', 'OpenSSX'));
    const r = await t.run();
    expect(t.refused).toEqual([expect.stringMatching(/^cache: c: \S+\/key-c\/result\.json has other bytes than when the entry was made .*; rebuilding$/)]);
    expect(r.results.get('c')!.status).toBe('built');
    expect(readFileSync(result, 'utf8')).toBe(value);
    await t.run({ c: 'key-c2' });
    rmSync(t.entry('c'), { recursive: true });
    cpSync(t.entry('c', 'key-c2'), t.entry('c'), { recursive: true });
    await t.run();
    expect(t.refused[1]).toMatch(/^cache: c: \S+\/key-c\/meta\.json names stage c key key-c2, but the entry lies at stage c key key-c; rebuilding$/);
  });

  it('an entry of the older format (no modes in its manifest) is rebuilt, with the line', async () => {
    const line = await refusedAfter((e) => {
      const m = JSON.parse(readFileSync(path.join(e, 'meta.json'), 'utf8'));
      delete m.integrity.version;
      writeFileSync(path.join(e, 'meta.json'), JSON.stringify(m));
    });
    expect(line).toMatch(/\.manifest\.json written by an older nginx-forge .*; rebuilding$/);
  });
});

describe('the cost: stamps spare re-hashing unchanged files, never a changed one', () => {
  const stage = async () => {
    const c = new StageCache(mkdtempSync(path.join(tmpdir(), 'nf-cache-stamps-')));
    const { dir } = await c.produce('library:openssl', 'k', async (tmp) => {
      mkdirSync(path.join(tmp, 'lib'));
      writeFileSync(path.join(tmp, 'lib/libssl.a'), LIB);
    });
    return { c, dir, file: path.join(dir, 'lib/libssl.a') };
  };

  it('an unchanged entry is not read again; `deep` reads every byte', async () => {
    const { c } = await stage();
    expect(c.verify('library:openssl', 'k')).toEqual({ ok: true, hashed: 0 });
    expect(c.verify('library:openssl', 'k', { deep: true })).toEqual({ ok: true, hashed: LIB.length });
  });

  it('a copied state dir (new inodes) is re-hashed once, then stamped again', async () => {
    const { c } = await stage();
    const copy = mkdtempSync(path.join(tmpdir(), 'nf-cache-stamps-copy-'));
    cpSync(c.root, copy, { recursive: true, preserveTimestamps: true });
    const c2 = new StageCache(copy);
    expect(c2.verify('library:openssl', 'k')).toEqual({ ok: true, hashed: LIB.length });
    expect(c2.verify('library:openssl', 'k')).toEqual({ ok: true, hashed: 0 });
  });

  it('damage the stamps cannot see (below the file system: here a forged stamp) is found by `deep`', async () => {
    const { c, dir, file } = await stage();
    overwrite(file, 0, 'XXXX');
    // what a disk error would look like: other bytes, and a stamp that still matches
    const st = lstatSync(file, { bigint: true });
    writeFileSync(path.join(dir, STAMPS), JSON.stringify({ 'lib/libssl.a': `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}` }));
    expect(c.verify('library:openssl', 'k').ok).toBe(true);
    expect(c.verify('library:openssl', 'k', { deep: true })).toMatchObject({ ok: false, what: expect.stringMatching(/^has other bytes/) });
  });

  it('the runner re-hashes every entry a running stage reads (a library a compile links)', async () => {
    const t = setup();
    await t.run();
    const file = path.join(t.entry('a'), 'root/lib/libssl.a');
    overwrite(file, 0, 'XXXX');
    const st = lstatSync(file, { bigint: true });
    const stamps = JSON.parse(readFileSync(path.join(t.entry('a'), STAMPS), 'utf8'));
    stamps['root/lib/libssl.a'] = `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}:${st.dev}`;
    writeFileSync(path.join(t.entry('a'), STAMPS), JSON.stringify(stamps));
    // nothing reads a: trusted by its stamps (the trade-off README states)
    await t.run();
    expect(t.refused).toEqual([]);
    // c's key changed: c runs and reads a, so a's bytes are hashed, refused and rebuilt first
    const r = await t.run({ c: 'key-c-new' });
    expect(t.refused).toEqual([expect.stringMatching(/^cache: a: .*root\/lib\/libssl\.a has other bytes .*; rebuilding$/)]);
    expect(r.results.get('a')!.status).toBe('built');
    expect((r.outputs.get('c')!.value as { lib: string }).lib).toBe(LIB);
    expect(readlinkSync(path.join(t.entry('a'), 'root/lib/libssl.so'))).toBe('libssl.a');
  });
});

describe('`nginx-forge build` reports a refused entry in one line', () => {
  it('four bytes written into the cached nginx binary (mtime put back): the line on stderr, then the rebuild is attempted', async () => {
    const { execa } = await import('execa');
    const { planFromFlags } = await import('../src/flags/plan.ts');
    const home = mkdtempSync(path.join(tmpdir(), 'nf-cache-cli-'));
    const prev = process.env.NGINX_FORGE_HOME;
    process.env.NGINX_FORGE_HOME = home;
    try {
      const plan = planFromFlags({ profile: 'ktls' });
      const st = plan.stages.find((s) => s.id === 'install:nginx')!;
      const cache = new StageCache(path.join(home, 'stages'));
      await cache.produce(st.id, st.key, async (tmp) => {
        mkdirSync(path.join(tmp, 'root/usr/sbin'), { recursive: true });
        writeFileSync(path.join(tmp, 'root/usr/sbin/nginx'), Buffer.alloc(4096, 0x7f));
      });
      const bin = path.join(cache.entryDir(st.id, st.key), 'root/usr/sbin/nginx');
      overwriteKeepingMtime(bin, 100, 'XXXX');
      const r = await execa(process.execPath, ['bin/nginx-forge.mjs', 'build', '--profile', 'ktls', '--until', 'install:nginx', '--offline', '--json', '--out', mkdtempSync(path.join(tmpdir(), 'nf-cache-cli-out-'))], {
        env: { NGINX_FORGE_HOME: home, NGINX_FORGE_TSX: '1' },
        reject: false,
      });
      const lines = String(r.stderr).split('\n').filter((l) => l.startsWith('cache: '));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^cache: install:nginx: ${bin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has other bytes than when the entry was made \\(sha256 [0-9a-f]{64}, the manifest records [0-9a-f]{64}\\); rebuilding$`));
      // the rebuild needs the sources: offline, with an empty store, that is exit 3 (not a silent reuse)
      expect(r.exitCode).toBe(3);
    } finally {
      if (prev === undefined) delete process.env.NGINX_FORGE_HOME;
      else process.env.NGINX_FORGE_HOME = prev;
    }
  }, 120_000);
});
