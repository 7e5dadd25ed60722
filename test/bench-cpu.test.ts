// bench serve's server CPU per request: utime + stime read from the real /proc of processes this
// test spawns, and the per-request arithmetic and comparison over the workload loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WrkRun } from '../src/bench/clients.ts';
import { writeDocroot } from '../src/bench/content.ts';
import { childPids, childrenCpuSeconds, clockTicks, parseProcStat, processCpuSeconds } from '../src/bench/proccpu.ts';
import { textReport } from '../src/bench/report.ts';
import { cpuDelta, QUICK, runWorkloads, WORKLOADS, type ServeResult, type Side, type WorkloadRun } from '../src/bench/serve.ts';

const spawned: ChildProcess[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-cpu-'));
afterAll(() => {
  for (const c of spawned) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// burns `ms` of its own CPU time (however busy the machine is), says "done", then idles until killed
// (arithmetic between the checks: a loop of getrusage calls alone would burn system time)
const BURN = (ms: number) => `const c0 = process.cpuUsage(); let x = 0; const used = () => { const u = process.cpuUsage(c0); return u.user + u.system; }; while (used() < ${ms * 1000}) { for (let i = 0; i < 1e6; i++) x += i % 7; } console.log("done", x > 0); setInterval(() => {}, 1000);`;
const doneOf = (c: ChildProcess) => new Promise<void>((r) => c.stdout!.on('data', (b: Buffer) => b.toString().includes('done') && r()));

describe('reading CPU time from /proc', () => {
  it('parses utime and stime after a command name with spaces and parentheses', () => {
    const line = '4242 (nginx: worker (x) y) S 4241 4241 4241 0 -1 4194624 120 0 0 0 37 11 0 0 20 0 1 0 991 10764288 700 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 4241, utime: 37, stime: 11 });
    expect(() => parseProcStat('garbage')).toThrow(/not a \/proc/);
  });

  it('a spawned process that burns 600 ms of CPU shows it in utime+stime; an idle one does not grow', async () => {
    const busy = spawn(process.execPath, ['-e', BURN(600)], { stdio: ['ignore', 'pipe', 'ignore'] });
    spawned.push(busy);
    const t0 = processCpuSeconds(busy.pid!)!;
    await doneOf(busy);
    const t1 = processCpuSeconds(busy.pid!)!;
    expect(clockTicks()).toBeGreaterThan(0);
    // its 600 ms (two clock ticks of rounding), and no more than that plus node's start-up
    expect(t1 - t0).toBeGreaterThan(0.6 - 2 / clockTicks());
    expect(t1).toBeLessThan(1.6);
    await sleep(500);
    expect(processCpuSeconds(busy.pid!)! - t1).toBeLessThan(0.1);
    busy.kill('SIGKILL');
    await new Promise((r) => busy.once('exit', r));
    expect(processCpuSeconds(busy.pid!)).toBeUndefined();
  });

  it('sums the CPU of a parent\'s children (the workers of a master), not the parent\'s own', async () => {
    const parent = spawn('sh', ['-c', `"${process.execPath}" -e '${BURN(500)}' & "${process.execPath}" -e '${BURN(500)}' & wait`], { stdio: ['ignore', 'pipe', 'ignore'] });
    spawned.push(parent);
    let done = 0;
    const both = new Promise<void>((r) => parent.stdout!.on('data', (b: Buffer) => (done += b.toString().split('done').length - 1) >= 2 && r()));
    let kids: number[] = [];
    for (let i = 0; i < 50 && kids.length < 2; i++) {
      await sleep(100);
      kids = childPids(parent.pid!);
    }
    expect(kids).toHaveLength(2);
    await both;
    const sum = childrenCpuSeconds(parent.pid!);
    expect(sum).toBeGreaterThan(1.0 - 4 / clockTicks());
    expect(sum).toBeLessThan(3);
    expect(processCpuSeconds(parent.pid!)!).toBeLessThan(0.2);
    for (const k of kids) process.kill(k, 'SIGKILL');
    parent.kill('SIGKILL');
  });

  it('cpuDelta: the growth of each worker, a worker that appeared counting from zero', () => {
    expect(cpuDelta(new Map([[1, 1.0], [2, 0.5]]), new Map([[1, 1.5], [2, 0.75], [3, 0.1]]))).toBeCloseTo(0.85);
  });
});

describe('server CPU per request in the workload loop', () => {
  const settings = { ...QUICK, bigBytes: 4096, textBytes: 8192, downloads: 2, rounds: 3, wrkSeconds: 1 };
  const doc = writeDocroot(path.join(tmp, 'www'), settings.bigBytes, settings.textBytes);
  // every wrk run serves 2000 requests; the candidate's worker spends 100 µs on each, the
  // baseline's 200 µs (its CPU counter advances when the client runs against it)
  const cpu: Record<Side, number> = { candidate: 0, baseline: 0 };
  const perReq: Record<Side, number> = { candidate: 100e-6, baseline: 200e-6 };
  const sideOf = (url: string): Side => (new URL(url).port === '1' ? 'candidate' : 'baseline');
  const ctx: WorkloadRun = {
    settings,
    sides: ['candidate', 'baseline'],
    doc,
    scratch: tmp,
    script: path.join(tmp, 'report.lua'),
    brotli: false,
    tlsUrl: (s, p) => `https://127.0.0.1:${s === 'candidate' ? 1 : 2}${p}`,
    plainUrl: (s, p) => `http://127.0.0.1:${s === 'candidate' ? 1 : 2}${p}`,
    clients: {
      curl: async (c: { output?: string }) => {
        if (c.output) writeFileSync(c.output, 'TLSv1.3 TLS_AES_128_GCM_SHA256\n');
        return { httpCode: 200, bytes: 0, bytesPerSec: 1, seconds: 1, headers: '' };
      },
      wrk: async (w: { url: string }): Promise<WrkRun> => {
        cpu[sideOf(w.url)] += 2000 * perReq[sideOf(w.url)];
        return { requests: 2000, seconds: 1, bytes: 1, rps: 2000, errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 }, p50Ms: 1, p99Ms: 2 };
      },
    } as unknown as WorkloadRun['clients'],
    say: () => {},
    checkAbort: () => {},
    serverCpu: (s) => new Map([[s === 'candidate' ? 10 : 20, cpu[s]]]),
  };

  it('divides the workers\' CPU over each run by its requests, and compares it like the rates; handshakes are judged on it', async () => {
    const rows = WORKLOADS.filter((w) => w.id === 'handshake' || w.id === 'small');
    const [hs, small] = await runWorkloads(ctx, rows);
    for (const w of [hs!, small!]) {
      expect(w.candidate.cpu!.samples).toHaveLength(3);
      for (const x of w.candidate.cpu!.samples) expect(x).toBeCloseTo(100, 6);
      for (const x of w.baseline!.cpu!.samples) expect(x).toBeCloseTo(200, 6);
      expect(w.serverCpu!.ratio).toBeCloseTo(0.5, 6);
      expect(w.serverCpu!.paired!.ci!.geomean).toBeCloseTo(0.5, 6);
      expect(w.serverCpu!.difference!.significant).toBe(true);
      // the request rates are equal: the rate alone would say "no difference"
      expect(w.ratio).toBe(1);
    }
    expect(hs!.judgedOn).toBe('server-cpu');
    expect(small!.judgedOn).toBe('rate');
    const r = { schema: 'nginx-forge/bench-serve@1', startedAt: '2026-12-07T00:00:00Z', finishedAt: '', seconds: 1, quick: true, command: 'x', machine: { cpuModel: 'cpu', cores: 2, memBytes: 1, kernel: 'k', os: 'o', ktlsUlp: false, tools: {} }, load: { before: { loadavg: [0, 0, 0] }, after: { loadavg: [0, 0, 0] }, samples: [] }, settings, binaries: { candidate: { path: 'a', label: 'A' }, baseline: { path: 'b', label: 'B' } }, workloads: [hs!, small!], ktls: { measured: false, reason: 'n/a' }, warnings: [] } as unknown as ServeResult;
    const text = textReport(r);
    expect(text).toMatch(/TLS handshakes: server CPU \(verdict\)\s+µs\/request\s+200\s+100\s+0\.50x/);
    expect(text).toMatch(/TLS handshakes \(client-bound\)/);
    expect(text).toMatch(/small static: server CPU\s+µs\/request/);
  });

  it('without a /proc reading (serverCpu unset) there is no CPU figure rather than a zero', async () => {
    const [w] = await runWorkloads({ ...ctx, serverCpu: undefined }, WORKLOADS.filter((x) => x.id === 'small'));
    expect(w!.candidate.cpu).toBeUndefined();
    expect(w!.serverCpu).toBeUndefined();
  });
});
