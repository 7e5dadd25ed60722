// `bench serve --quick` once, through the CLI, on tiny sizes: checks that it works end to end
// (both binaries measured, N samples each, consistent statistics, JSON + SVG + markdown written,
// nothing left running). Asserts no timing. The candidate is the project's own ktls build, the
// baseline Debian's nginx; ci/setup.sh installs it, wrk, curl and openssl (missing ones fail).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtNginx } from './helpers/builtNginx.ts';
import { isExecutable, which } from '../src/which.ts';
import type { ServeResult } from '../src/bench/serve.ts';
import { QUICK } from '../src/bench/serve.ts';

const exe = isExecutable;
const have = (tool: string) => which(tool) !== undefined;

const baseline = '/usr/sbin/nginx';
let candidate: string;

/** nginx masters still running with a scratch dir of a bench run (their title keeps their argv). */
function mastersUnder(tmp: string, except: Set<string>): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const dir = /nginx-forge-bench-[A-Za-z0-9]+/.exec(cmd)?.[0];
      if (dir && cmd.includes(path.join(tmp, dir)) && !except.has(dir)) hits.push(`${pid}: ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return hits;
}

const root = path.resolve(import.meta.dirname, '..');
const results = mkdtempSync(path.join(os.tmpdir(), 'bench-serve-test-'));
afterAll(() => rmSync(results, { recursive: true, force: true }));

describe('bench serve --quick (end to end)', () => {
  beforeAll(async () => {
    candidate = await builtNginx('ktls');
  }, 45 * 60_000);

  it('has its prerequisites (installed by ci/setup.sh)', () => {
    expect(exe(baseline), `${baseline} (apt-get install nginx)`).toBe(true);
    for (const t of ['wrk', 'curl', 'openssl']) expect(have(t), `${t} is installed`).toBe(true);
  });

  it('measures both binaries, interleaved, and writes JSON, SVG and markdown', () => {
    const before = new Set(readdirSync(os.tmpdir()).filter((f) => f.startsWith('nginx-forge-bench-')));
    const out = execFileSync(
      process.execPath,
      [path.join(root, 'bin/nginx-forge.mjs'), 'bench', 'serve', candidate!, '--vs', baseline!, '--quick', '--json', '--results', results],
      { cwd: root, encoding: 'utf8', timeout: 55_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = JSON.parse(out) as ServeResult & { files: string[] };

    expect(r.schema).toBe('nginx-forge/bench-serve@1');
    expect(r.quick).toBe(true);
    expect(r.binaries.candidate.path).toBe(candidate);
    expect(r.binaries.baseline?.path).toBe(baseline);
    expect(r.binaries.candidate.V).toMatch(/nginx version: nginx\//);
    expect(r.machine.cores).toBeGreaterThan(0);
    expect(r.machine.memBytes).toBeGreaterThan(0);
    expect(r.load.before.loadavg).toHaveLength(3);

    expect(r.workloads.map((w) => w.id)).toEqual(['download', 'gzip', 'handshake', 'small']);
    for (const w of r.workloads) {
      const n = w.id === 'download' ? QUICK.downloads : QUICK.rounds;
      for (const side of [w.baseline!, w.candidate]) {
        expect(side.samples).toHaveLength(n);
        expect(side.summary.n).toBe(n);
        expect(side.samples.every((x) => x > 0)).toBe(true);
        const s = side.summary;
        expect(s.min).toBeLessThanOrEqual(s.median);
        expect(s.median).toBeLessThanOrEqual(s.max);
        expect(s.min).toBeLessThanOrEqual(s.avg);
        expect(s.avg).toBeLessThanOrEqual(s.max);
        expect(s.stddev).toBeGreaterThanOrEqual(0);
        expect(s.min).toBe(Math.min(...side.samples));
        expect(s.max).toBe(Math.max(...side.samples));
      }
      expect(Number.isFinite(w.ratio) && w.ratio! > 0).toBe(true);
      expect(w.pct).toBeDefined();
      if (w.id !== 'download') for (const run of w.candidate.runs!) expect(run.errors.status).toBe(0);
    }
    // server CPU per request: both binaries' workers read from /proc around every run
    for (const w of r.workloads) {
      const n = w.id === 'download' ? QUICK.downloads : QUICK.rounds;
      for (const side of [w.serverCpu!.baseline!, w.serverCpu!.candidate]) {
        expect(side.samples, `${w.id}: server CPU samples`).toHaveLength(n);
        expect(side.samples.every((x) => x >= 0 && Number.isFinite(x))).toBe(true);
      }
      expect(w.judgedOn).toBe(w.id === 'handshake' ? 'server-cpu' : 'rate');
    }
    // a full handshake costs the worker real CPU (hundreds of µs): never zero over a run
    const hsCpu = r.workloads.find((w) => w.id === 'handshake')!.serverCpu!;
    expect(hsCpu.candidate.summary.median).toBeGreaterThan(0);
    expect(hsCpu.baseline!.summary.median).toBeGreaterThan(0);
    const gz = r.workloads.find((w) => w.id === 'gzip')!;
    expect(gz.candidate.checks?.compressedBytes).toBeGreaterThan(0);
    const hs = r.workloads.find((w) => w.id === 'handshake')!;
    expect(String(hs.candidate.checks?.tls)).toMatch(/^TLSv1\.[23] /);

    // kTLS: measured natively, or said why not
    if (!r.ktls.measured) expect(r.ktls.reason).toBeTruthy();

    for (const f of ['serve-quick.json', 'serve-quick.svg', 'serve-quick.md']) expect(existsSync(path.join(results, f))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(results, 'serve-quick.json'), 'utf8')).workloads).toHaveLength(4);
    const svg = readFileSync(path.join(results, 'serve-quick.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const label of ['HTTPS download', 'gzip', 'TLS handshakes', 'small static']) expect(svg).toContain(label);
    const md = readFileSync(path.join(results, 'serve-quick.md'), 'utf8');
    expect(md).toContain('| workload | unit | baseline | candidate | ratio |');
    expect(md).toContain('Reproduce: `nginx-forge bench serve');

    // its scratch dir is gone, and with it every nginx it started (their pid files lived there)
    const fresh = readdirSync(os.tmpdir()).filter((f) => f.startsWith('nginx-forge-bench-') && !before.has(f));
    expect(fresh).toEqual([]);
    expect(mastersUnder(os.tmpdir(), before)).toEqual([]);
  });
});
