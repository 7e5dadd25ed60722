// bench serve's workload table and its one loop (runWorkloads), driven with fake clients: a fake
// curl answers like the servers would (probe, the big file, gzip and brotli bodies), a fake wrk
// returns a run per call; both record how they were invoked. No nginx, no timing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { CurlOptions, WrkOptions, WrkRun } from '../src/bench/clients.ts';
import { writeDocroot } from '../src/bench/content.ts';
import { textReport } from '../src/bench/report.ts';
import { QUICK, runWorkloads, WORKLOADS, type ServeResult, type ServeSettings, type Side, type WorkloadRun } from '../src/bench/serve.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-table-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const settings: ServeSettings = { ...QUICK, bigBytes: 4096, textBytes: 8192, downloads: 3, rounds: 2, wrkSeconds: 1, conns: { gzip: 3, handshake: 7, small: 11 } };
const doc = writeDocroot(path.join(tmp, 'www'), settings.bigBytes, settings.textBytes);
const text = readFileSync(doc.text.path);
// the candidate serves on port 1, the baseline on port 2; the candidate is twice as fast
const PORT: Record<Side, number> = { candidate: 1, baseline: 2 };
const sideOf = (url: string): Side => (new URL(url).port === '1' ? 'candidate' : 'baseline');
const speed = (url: string) => (sideOf(url) === 'candidate' ? 2 : 1);

interface Fake {
  ctx: WorkloadRun;
  curls: CurlOptions[];
  wrks: WrkOptions[];
  said: string[];
}

function fake(o: { sides: Side[]; brotli: boolean; encode?: boolean; shortBy?: number; abortAfter?: number }): Fake {
  const curls: CurlOptions[] = [];
  const wrks: WrkOptions[] = [];
  const said: string[] = [];
  let measured = 0;
  const curl = async (c: CurlOptions) => {
    curls.push(c);
    const u = new URL(c.url);
    const enc = (c.headers ?? []).find((h) => h.startsWith('Accept-Encoding: '))?.slice(17);
    let body: Buffer = Buffer.alloc(0);
    let headers = 'HTTP/1.1 200 OK\r\n';
    if (u.pathname === '/probe') body = Buffer.from(`TLSv1.3 ${c.tls13Ciphers ?? 'TLS_AES_128_GCM_SHA256'}\n`);
    else if (u.pathname === doc.text.url || u.pathname === '/br/text.txt') {
      if (o.encode === false || !enc) body = text;
      else {
        body = enc === 'br' ? brotliCompressSync(text) : gzipSync(text);
        headers += `Content-Encoding: ${enc}\r\n`;
      }
    }
    if (c.output) writeFileSync(c.output, body);
    const bytes = u.pathname === doc.big.url ? doc.big.bytes - (o.shortBy ?? 0) : body.length;
    return { httpCode: 200, bytes, bytesPerSec: speed(c.url) * 100 * MiB, seconds: 1, headers };
  };
  const wrk = async (w: WrkOptions): Promise<WrkRun> => {
    wrks.push(w);
    const rps = speed(w.url) * (w.headers?.includes('Accept-Encoding: br') ? 1500 : 1000);
    return { requests: rps, seconds: 1, bytes: 1, rps, errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 }, p50Ms: 1, p99Ms: 2 };
  };
  const ctx: WorkloadRun = {
    settings,
    sides: o.sides,
    doc,
    scratch: tmp,
    script: path.join(tmp, 'report.lua'),
    brotli: o.brotli,
    tlsUrl: (s, p) => `https://127.0.0.1:${PORT[s]}${p}`,
    plainUrl: (s, p) => `http://127.0.0.1:${PORT[s]}${p}`,
    clients: { curl, wrk } as unknown as WorkloadRun['clients'],
    say: (l) => said.push(l),
    checkAbort: () => {
      if (o.abortAfter !== undefined && measured++ >= o.abortAfter) throw new Error('interrupted');
    },
  };
  return { ctx, curls, wrks, said };
}

describe('bench serve workload table', () => {
  it('reports every row of the table, in order, with both binaries measured the same number of times', async () => {
    const f = fake({ sides: ['candidate', 'baseline'], brotli: true });
    let after = 0;
    const ws = await runWorkloads(f.ctx, WORKLOADS, () => after++);
    expect(ws.map((w) => w.id)).toEqual(WORKLOADS.map((w) => w.id));
    expect(ws.map((w) => w.id)).toEqual(['download', 'gzip', 'brotli', 'handshake', 'small']);
    expect(after).toBe(ws.length);
    for (const w of ws) {
      const n = w.id === 'download' ? settings.downloads : settings.rounds;
      expect(w.candidate.samples, w.id).toHaveLength(n);
      expect(w.baseline!.samples, w.id).toHaveLength(n);
      expect(w.title.length, w.id).toBeGreaterThan(10);
      expect(w.method, w.id).toMatch(/interleaved/);
      expect(w.ratio, w.id).toBeCloseTo(w.id === 'brotli' ? 1.5 : 2, 9);
      expect(w.paired!.ratios.n, w.id).toBe(n);
    }
    const byId = Object.fromEntries(ws.map((w) => [w.id, w]));
    expect(byId.download!.unit).toBe('MiB/s');
    expect(byId.download!.candidate.summary.median).toBe(200);
    expect(byId.download!.candidate.checks).toEqual({ tls: `TLSv1.3 ${settings.tls13Cipher}` });
    expect(byId.download!.candidate.runs).toBeUndefined();
    expect(byId.handshake!.unit).toBe('handshakes/s');
    expect(byId.handshake!.baseline!.checks).toEqual({ tls: 'TLSv1.3 TLS_AES_128_GCM_SHA256' });
    expect(byId.gzip!.candidate.checks).toEqual({ compressedBytes: gzipSync(text).length, compressionRatio: Math.round((text.length / gzipSync(text).length) * 100) / 100 });
    expect(byId.gzip!.notes.join('\n')).toMatch(/^compressed size at level 6: candidate \d+ bytes, baseline \d+ bytes \(\+?-?[\d.]+%\)/);
    expect(byId.brotli!.baseline!.checks).toMatchObject({ encoding: 'gzip', level: settings.gzipLevel });
    expect(byId.brotli!.candidate.checks).toMatchObject({ encoding: 'br', level: settings.brotliLevel, compressedBytes: brotliCompressSync(text).length });
    expect(byId.small!.candidate.checks).toBeUndefined();
    expect(byId.small!.candidate.runs).toHaveLength(settings.rounds);

    // the text report has a section per row
    const r = {
      quick: true, startedAt: 'now', seconds: 1, command: 'x',
      machine: { cpuModel: 'cpu', cores: 2, memBytes: 1, kernel: 'k', os: 'o', ktlsUlp: false, tools: {} },
      load: { before: { at: '', loadavg: [0, 0, 0] }, after: { at: '', loadavg: [0, 0, 0] }, samples: [] },
      binaries: { candidate: { path: '/c', label: 'C' }, baseline: { path: '/b', label: 'B' } },
      workloads: ws, ktls: { measured: false, reason: 'no' }, warnings: [],
    } as unknown as ServeResult;
    const report = textReport(r);
    for (const w of ws) expect(report).toContain(`== ${w.title} (${w.unit}) ==\n${w.method}\n`);
  });

  it('each row invokes its client as its method says, the two binaries interleaved A B B A', async () => {
    const f = fake({ sides: ['candidate', 'baseline'], brotli: true });
    await runWorkloads(f.ctx);
    const base = { seconds: 1, threads: 1, script: f.ctx.script };
    const wrk = (url: string, connections: number, headers?: string[]) => ({ ...base, url, connections, ...(headers ? { headers } : {}) });
    expect(f.wrks).toEqual([
      // gzip: plain HTTP, Accept-Encoding: gzip
      wrk('http://127.0.0.1:1/gz/text.txt', 3, ['Accept-Encoding: gzip']),
      wrk('http://127.0.0.1:2/gz/text.txt', 3, ['Accept-Encoding: gzip']),
      wrk('http://127.0.0.1:2/gz/text.txt', 3, ['Accept-Encoding: gzip']),
      wrk('http://127.0.0.1:1/gz/text.txt', 3, ['Accept-Encoding: gzip']),
      // brotli: both data sets on the candidate, gzip (baseline) first
      wrk('http://127.0.0.1:1/gz/text.txt', 3, ['Accept-Encoding: gzip']),
      wrk('http://127.0.0.1:1/br/text.txt', 3, ['Accept-Encoding: br']),
      wrk('http://127.0.0.1:1/br/text.txt', 3, ['Accept-Encoding: br']),
      wrk('http://127.0.0.1:1/gz/text.txt', 3, ['Accept-Encoding: gzip']),
      // handshake: TLS, a new connection per request
      wrk('https://127.0.0.1:1/small.html', 7, ['Connection: close']),
      wrk('https://127.0.0.1:2/small.html', 7, ['Connection: close']),
      wrk('https://127.0.0.1:2/small.html', 7, ['Connection: close']),
      wrk('https://127.0.0.1:1/small.html', 7, ['Connection: close']),
      // small: plain HTTP keep-alive
      wrk('http://127.0.0.1:1/small.html', 11),
      wrk('http://127.0.0.1:2/small.html', 11),
      wrk('http://127.0.0.1:2/small.html', 11),
      wrk('http://127.0.0.1:1/small.html', 11),
    ]);
    // download: a TLS probe and one unmeasured download per binary, then 3 measured each, with the article's cipher
    const downloads = f.curls.filter((c) => c.url.endsWith('/big.bin'));
    expect(downloads.map((c) => sideOf(c.url))).toEqual(['candidate', 'baseline', 'candidate', 'baseline', 'baseline', 'candidate', 'candidate', 'baseline']);
    expect(downloads.every((c) => c.tls13Ciphers === settings.tls13Cipher && c.url.startsWith('https://') && c.maxSeconds === settings.downloadMaxSeconds)).toBe(true);
    expect(f.said).toContain('download round 1/3 candidate: 200.0 MiB/s');
    expect(f.said).toContain('brotli round 2/2 br: 3000 req/s');
  });

  it('without --vs: no baseline data set, except brotli whose baseline is gzip on the candidate; no brotli module: no brotli row', async () => {
    const one = await runWorkloads(fake({ sides: ['candidate'], brotli: true }).ctx);
    expect(one.map((w) => [w.id, Boolean(w.baseline)])).toEqual([['download', false], ['gzip', false], ['brotli', true], ['handshake', false], ['small', false]]);
    expect(one.find((w) => w.id === 'gzip')!.notes).toEqual([]);
    expect(one.find((w) => w.id === 'small')!.ratio).toBeUndefined();
    const f = fake({ sides: ['candidate'], brotli: false });
    const none = await runWorkloads(f.ctx);
    expect(none.map((w) => w.id)).toEqual(['download', 'gzip', 'handshake', 'small']);
    expect(f.said).toContain('candidate has no brotli module: no brotli workload');
  });

  it('checks before measuring: a response not encoded as asked, or a short download, stops the run', async () => {
    const plain = fake({ sides: ['candidate'], brotli: false, encode: false });
    await expect(runWorkloads(plain.ctx)).rejects.toThrow(/^candidate: \/gz\/text\.txt was not gzip-encoded/);
    expect(plain.wrks).toEqual([]);
    await expect(runWorkloads(fake({ sides: ['candidate'], brotli: false, shortBy: 1 }).ctx)).rejects.toThrow('candidate: downloaded 4095 bytes of 4096');
  });

  it('an interrupt is seen before each measured run', async () => {
    const f = fake({ sides: ['candidate', 'baseline'], brotli: false, abortAfter: settings.downloads * 2 + 1 });
    await expect(runWorkloads(f.ctx)).rejects.toThrow('interrupted');
    // all downloads, then one gzip run
    expect(f.wrks).toHaveLength(1);
  });
});
