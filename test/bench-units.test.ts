// Pure pieces of the benchmarks: parsers, the nginx configuration, content, ordering, charts,
// the nginx-only recipe variant. No servers, no timing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildChart, buildMarkdown, buildText } from '../src/bench/build-report.ts';
import { benchBuild, variantRecipes, VARIANT_MODULES, type BuildBenchResult } from '../src/bench/build.ts';
import { parseCurlWriteOut, parseWrk, WRK_MARK, WRK_SCRIPT } from '../src/bench/clients.ts';
import { compressibleText, xorshift32 } from '../src/bench/content.ts';
import { renderConf, type ServerSpec } from '../src/bench/server.ts';
import { humanBytes, interleave } from '../src/bench/serve.ts';
import { barChart, escapeXml, niceStep } from '../src/bench/svg.ts';
import type { BuildPlan } from '../src/plan.ts';
import type { BuildOptions, BuildSummary } from '../src/pipeline/types.ts';
import { StageCache } from '../src/cache/index.ts';
import { stagesDir } from '../src/paths.ts';
import { writeFileSync as writeFile, mkdirSync as mkdir } from 'node:fs';

/** What a real build leaves in the bench's state dir that the cache-check measurement reads: the TLS library entry. */
async function seedTls(plan: BuildPlan, bytes = 3 << 20): Promise<void> {
  const st = plan.stages.find((s) => s.id === 'library:openssl')!;
  await new StageCache(stagesDir()).produce(st.id, st.key, async (tmp) => {
    mkdir(path.join(tmp, '.openssl/lib'), { recursive: true });
    writeFile(path.join(tmp, '.openssl/lib/libssl.a'), Buffer.alloc(bytes, 1));
    writeFile(path.join(tmp, '.openssl/lib/libcrypto.a'), Buffer.alloc(bytes, 2));
  });
}
import { planFromFlags } from '../src/flags/plan.ts';
import { BUILTIN_RECIPES } from '../src/recipes/load.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-units-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('wrk and curl output', () => {
  it('parses the done() hook line', () => {
    const out = `Running 1s test @ http://127.0.0.1:1/\n${WRK_MARK}{"requests":5000,"duration_us":2000000,"bytes":123,"connect":0,"read":1,"write":0,"status":2,"timeout":0,"p50_us":1500,"p99_us":9000}\n`;
    const r = parseWrk(out);
    expect(r).toMatchObject({ requests: 5000, seconds: 2, bytes: 123, rps: 2500, p50Ms: 1.5, p99Ms: 9 });
    expect(r.errors).toEqual({ connect: 0, read: 1, write: 0, status: 2, timeout: 0 });
  });

  it('says so when the summary line is missing', () => {
    expect(() => parseWrk('Running 1s test\n')).toThrow(/no summary line/);
  });

  it('the wrk hook prints the marker it is parsed by', () => {
    expect(WRK_SCRIPT).toContain(WRK_MARK.trim());
    expect(WRK_SCRIPT).toMatch(/^done = function\(summary, latency, requests\)/m);
  });

  it('parses curl -w', () => {
    expect(parseCurlWriteOut('200 1073741824 734003200.000 1.463\n')).toEqual({ httpCode: 200, bytes: 1073741824, bytesPerSec: 734003200, seconds: 1.463 });
    expect(() => parseCurlWriteOut('garbage')).toThrow(/unexpected curl -w output/);
  });
});

describe('which zlib a binary runs', () => {
  it('zlib-ng headers with the shared libz linked is system zlib', async () => {
    const { zlibVerdict } = await import('../src/bench/machine.ts');
    expect(zlibVerdict('1.3.1.zlib-ng', false)).toBe('zlib-ng (1.3.1.zlib-ng, static)');
    expect(zlibVerdict('1.3.1.zlib-ng', true)).toMatch(/^zlib \(shared libz; zlib-ng 1\.3\.1\.zlib-ng headers compiled in, but its library not linked\)$/);
    expect(zlibVerdict(undefined, true)).toBe('zlib (shared libz)');
    expect(zlibVerdict(undefined, false)).toBe('unknown');
  });
});

describe('nginx configuration', () => {
  const spec: ServerSpec = {
    bin: '/usr/sbin/nginx',
    dir: '/tmp/x/candidate',
    docroot: '/tmp/x/www',
    cert: '/tmp/x/cert.pem',
    key: '/tmp/x/key.pem',
    tlsPort: 40001,
    plainPort: 40002,
    ktls: 'on',
    gzipLevel: 6,
    workers: 1,
    earlyErrorLog: true,
  };
  const conf = renderConf(spec);

  it('sets every writable path inside the scratch dir', () => {
    for (const d of ['pid', 'lock_file', 'error_log', 'client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path']) {
      expect(conf).toMatch(new RegExp(`^\\s*${d} /tmp/x/candidate/`, 'm'));
    }
    expect(conf).toMatch(/^\s*access_log off;/m);
    expect(conf).not.toMatch(/\/var\/|\/run\/|\/etc\/nginx/);
  });

  it('listens on loopback only, and the TLS server does full handshakes', () => {
    const listens = [...conf.matchAll(/^\s*listen ([^\s;]+)/gm)].map((m) => m[1]);
    expect(listens).toEqual(['127.0.0.1:40001', '127.0.0.1:40002']);
    expect(conf).toContain('ssl_session_cache off;');
    expect(conf).toContain('ssl_session_tickets off;');
    expect(conf).toContain('gzip_comp_level 6;');
  });

  it('kTLS directive follows the spec', () => {
    expect(conf).toContain('ssl_conf_command Options KTLS;');
    expect(renderConf({ ...spec, ktls: 'off' })).toContain('ssl_conf_command Options -KTLS;');
    expect(renderConf({ ...spec, ktls: 'unset' })).not.toContain('ssl_conf_command');
  });
});

describe('content', () => {
  it('xorshift32 is deterministic', () => {
    const a = xorshift32(1);
    const b = xorshift32(1);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    // x=1: x^=x<<13 -> 8193; x^=x>>>17 -> 8193; x^=x<<5 -> 8193^262176 = 270369
    expect(xs[0]).toBe(270369);
  });

  it('compressible text has the asked size, is the same every time, and compresses', async () => {
    const t = compressibleText(100_000);
    expect(t.length).toBe(100_000);
    expect(compressibleText(100_000).equals(t)).toBe(true);
    const { gzipSync } = await import('node:zlib');
    const ratio = t.length / gzipSync(t, { level: 6 }).length;
    expect(ratio).toBeGreaterThan(2);
    expect(ratio).toBeLessThan(10);
  });

  it('humanBytes', () => {
    expect(humanBytes(1 << 30)).toBe('1 GiB');
    expect(humanBytes(1 << 20)).toBe('1 MiB');
    expect(humanBytes(64 << 10)).toBe('64 KiB');
    expect(humanBytes(615)).toBe('615 bytes');
  });
});

describe('paired ratios', () => {
  it('candidate[i] / baseline[i], summarized', async () => {
    const { pairedRatios } = await import('../src/bench/serve.ts');
    // 15/10 = 1.5, 20/20 = 1, 27/30 = 0.9 -> median 1, min 0.9, max 1.5
    const p = pairedRatios([10, 20, 30], [15, 20, 27])!;
    expect(p.ratios).toMatchObject({ n: 3, median: 1, min: 0.9, max: 1.5 });
    // geometric mean of 1.5, 1, 0.9 = (1.35)^(1/3)
    expect(p.ci!.geomean).toBeCloseTo(Math.cbrt(1.35), 12);
    expect(pairedRatios([1, 2], [1])).toBeUndefined();
    expect(pairedRatios([0, 2], [1, 1])).toBeUndefined();
  });
});

describe('interleave', () => {
  it('alternates which side goes first (ABBA)', async () => {
    const order: string[] = [];
    await interleave(['a', 'b'], 4, async (s, r) => {
      order.push(`${s}${r}`);
    });
    expect(order).toEqual(['a0', 'b0', 'b1', 'a1', 'a2', 'b2', 'b3', 'a3']);
  });
});

describe('svg', () => {
  it('niceStep and escaping', () => {
    expect(niceStep(0.37)).toBeCloseTo(0.5, 12);
    expect(niceStep(3)).toBe(5);
    expect(niceStep(12)).toBe(20);
    expect(niceStep(0)).toBe(1);
    expect(escapeXml(`a<b & "c"`)).toBe('a&lt;b &amp; &quot;c&quot;');
  });

  it('one rect per finite bar, labels escaped, well-formed ends', () => {
    const svg = barChart({
      title: 'T <1>',
      yLabel: 'y',
      series: [{ name: 'x', color: '#111111' }, { name: 'y', color: '#222222' }],
      groups: [
        { label: 'g1', bars: [{ series: 'x', value: 1 }, { series: 'y', value: 1.5, lo: 1.2, hi: 1.8 }] },
        { label: 'g2', bars: [{ series: 'x', value: 1 }, { series: 'y', value: Number.NaN }] },
      ],
      refLine: { value: 1, label: 'baseline' },
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('T &lt;1&gt;');
    // background + 2 legend swatches + 3 finite bars
    expect(svg.match(/<rect /g)!.length).toBe(1 + 2 + 3);
    expect(svg).not.toMatch(/NaN/);
  });
});

describe('bench build', () => {
  it('reads children CPU time from /proc/self/stat', async () => {
    const { childCpuSeconds } = await import('../src/bench/build.ts');
    // pid (comm with ") (" inside) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const stat = '4242 (node) (x)) S 1 4242 4242 0 -1 4194560 100 200 0 0 50 7 1234 566 20 0 11 0';
    expect(childCpuSeconds(stat)).toBeCloseTo(18, 9); // (1234 + 566) / 100
    expect(childCpuSeconds('1 (x) S')).toBeUndefined();
    expect(typeof childCpuSeconds()).toBe('number');
  });

  it('the nginx-only variant adds one module and changes only nginx stage keys', () => {
    const plan = planFromFlags({ profile: 'ktls' }, false);
    const v = variantRecipes(BUILTIN_RECIPES, 'ktls', path.join(tmp, 'recipes'));
    const added = VARIANT_MODULES.find((m) => !plan.configureArgs.includes(m))!;
    expect(v.change).toContain(added);
    const vplan = planFromFlags({ profile: 'ktls', recipes: v.dir, patches: plan.patchesDir }, false);
    expect(vplan.configureArgs).toEqual([...plan.configureArgs.slice(0, plan.configureArgs.findIndex((a) => a.startsWith('--with-openssl='))), added, ...plan.configureArgs.slice(plan.configureArgs.findIndex((a) => a.startsWith('--with-openssl=')))]);
    const changed = plan.stages.filter((s) => vplan.stages.find((x) => x.id === s.id)!.key !== s.key).map((s) => s.id);
    expect(changed.filter((id) => !/nginx|verify|smoke|artifacts/.test(id))).toEqual([]);
    expect(changed).toContain('configure:nginx');
    // the built-in recipes are untouched
    expect(readFileSync(path.join(BUILTIN_RECIPES, 'profiles', 'ktls.json'), 'utf8')).not.toContain(added);
  });

  it('runs cold (forced), warm and nginx-only through runBuild in one private state dir, and renders', async () => {
    const calls: { profile: string; force?: boolean; home?: string; hasSub: boolean }[] = [];
    const before = process.env.NGINX_FORGE_HOME;
    const fake = async (plan: BuildPlan, opts: BuildOptions): Promise<BuildSummary> => {
      calls.push({ profile: plan.profile, force: opts.force, home: process.env.NGINX_FORGE_HOME, hasSub: plan.configureArgs.some((a) => VARIANT_MODULES.includes(a)) });
      await seedTls(plan);
      return {
        profile: plan.profile, planHash: plan.planHash, binary: '/x/usr/sbin/nginx', root: '/x', licensesDir: '/x/l', variants: {}, artifacts: [],
        stages: plan.stages.map((s) => ({ id: s.id, status: 'cached', seconds: 0 })), seconds: 0,
      };
    };
    const cli: { args: string[]; home: string }[] = [];
    const runCli = async (args: string[], env: Record<string, string>) => {
      cli.push({ args, home: env.NGINX_FORGE_HOME! });
      return [0.5, 0.4, 0.6][cli.length - 1]!;
    };
    const r: BuildBenchResult = await benchBuild({ flags: { profile: 'ktls' }, runBuild: fake, skipNaive: true, skipRegistry: true, jobs: 2, runCli });
    expect(process.env.NGINX_FORGE_HOME).toBe(before);
    // the all-cached build: the CLI as a process, three times, in the bench's own state dir
    expect(cli).toHaveLength(3);
    expect(cli[0]!.home).toBe(calls[0]!.home);
    expect(cli[0]!.args.slice(0, 5)).toEqual(['build', '--profile', 'ktls', '--until', 'install:nginx']);
    expect(cli[0]!.args).toContain('--offline');
    const cc = r.cacheCheck!;
    expect(cc.cachedBuild).toMatchObject({ samples: [0.5, 0.4, 0.6], median: 0.5 });
    // the TLS library entry, checked for real: every byte read, or trusted by its stamps
    expect(cc.tlsLibrary).toMatchObject({ stage: 'library:openssl', files: 4, bytes: 6 << 20 });
    // what each check did (not how long it took: timings are the benchmark's, never a test's)
    expect(cc.tlsLibrary).toMatchObject({ contentHashed: 6 << 20, stampHashed: 0 });
    expect(cc.tlsLibrary.contentShare).toBeCloseTo(cc.tlsLibrary.contentSeconds / 0.5, 2);
    expect(buildText(r)).toMatch(/all-cached build, as a process .*: 0\.500 s \(median of 0\.500, 0\.400, 0\.600\)/);
    expect(buildText(r)).toMatch(/cache check of library:openssl \(4 files, 6\.3 MB\): every byte hashed [\d.]+ ms = [\d.]+% of the all-cached build; by stamps [\d.]+ ms = [\d.]+%/);
    expect(buildMarkdown(r)).toContain('- cache check of library:openssl');
    expect(r.warnings).toEqual([]);
    expect(calls.map((c) => [c.force, c.hasSub])).toEqual([[true, false], [false, false], [false, true]]);
    expect(new Set(calls.map((c) => c.home)).size).toBe(1);
    expect(calls[0]!.home).not.toBe(before);
    expect(r.scenarios.map((s) => s.id)).toEqual(['cold', 'warm', 'nginx-only']);
    expect(r.speedup).toEqual({});
    expect(buildText(r)).toMatch(/cold build/);
    expect(buildMarkdown(r, 'build.svg')).toContain('![build times](build.svg)');
    expect(buildChart(r)).toContain('</svg>');
  });

  it('fresh runner, warm registry: pushes the warm state dir to a real loopback registry, then builds in an empty state dir from it alone', async () => {
    const calls: { home?: string; remote?: BuildOptions['remote']; out: string; force?: boolean }[] = [];
    const fake = async (plan: BuildPlan, opts: BuildOptions): Promise<BuildSummary> => {
      calls.push({ home: process.env.NGINX_FORGE_HOME, remote: opts.remote, out: opts.out!, force: opts.force });
      await seedTls(plan);
      // the binary lives in the state dir: the fresh runner's is its own copy, same bytes
      const bin = path.join(process.env.NGINX_FORGE_HOME!, 'bin-nginx');
      (await import('node:fs')).writeFileSync(bin, 'the same nginx');
      const fresh = opts.remote?.from.length;
      return {
        profile: plan.profile, planHash: plan.planHash, binary: bin, root: '/x', licensesDir: '/x/l', variants: {}, artifacts: [],
        stages: plan.stages.map((s) => ({ id: s.id, status: calls.length === 1 ? 'built' : 'cached', seconds: 0 })), seconds: 0,
        ...(opts.remote ? { remote: fresh ? { pulled: 2, pulledBytes: 3_000_000, pushed: 0, pushedBytes: 0 } : { pulled: 0, pulledBytes: 0, pushed: 9, pushedBytes: 35_000_000 } } : {}),
      };
    };
    const r = await benchBuild({ flags: { profile: 'ktls' }, runBuild: fake, skipNaive: true, jobs: 2, runCli: async () => 0.5 });
    expect(r.scenarios.map((s) => s.id)).toEqual(['cold', 'warm', 'registry', 'nginx-only']);
    const [cold, , push, fresh, only] = calls;
    // the push: from the warm state dir, signed, to a loopback registry; nothing read
    expect(push!.home).toBe(cold!.home);
    expect(push!.remote).toMatchObject({ from: [], to: expect.stringMatching(/^oci:\/\/127\.0\.0\.1:\d+\//), signKey: expect.stringMatching(/\.key$/) });
    // the fresh runner: another, empty state dir, reading that registry with the run's public key only
    expect(fresh!.home).not.toBe(cold!.home);
    expect(fresh!.remote).toMatchObject({ from: [push!.remote!.to], trust: [expect.stringMatching(/\.pub$/)] });
    expect(fresh!.remote!.to).toBeUndefined();
    expect(fresh!.out).not.toBe(cold!.out);
    // back in the bench's own state dir for the nginx-only rebuild
    expect(only!.home).toBe(cold!.home);
    expect(r.registry).toMatchObject({ pushed: 9, pushedBytes: 35_000_000, pulled: 2, pulledBytes: 3_000_000, sameBinary: true });
    expect(r.registry!.overCold).toBeCloseTo(r.scenarios[0]!.seconds / Math.max(r.scenarios[2]!.seconds, 0.001), 1);
    const text = buildText(r);
    expect(text).toMatch(/fresh runner, warm registry \(oci:\/\/127\.0\.0\.1:\d+\/nginx-forge-bench\/stage-cache\): [\d.]+ s to the installed binary, [\d.]+x faster than the cold build \(target 20x\); binary byte-identical/);
    expect(text).toContain('registry traffic: pushed 9 entries, 35.0 MB');
    expect(text).toContain('pulled 2 entries, 3.0 MB');
    expect(buildMarkdown(r)).toContain('- fresh runner, warm registry');
  });

  it('--target aarch64-linux-gnu: the native cold build, then the cold cross build, in one run and one state dir; the ratio printed', async () => {
    const calls: { target: string; cross: boolean; force?: boolean; home?: string; until?: string }[] = [];
    const before = process.env.NGINX_FORGE_HOME;
    // seconds per stage: the cross build's configure runs its test programs under qemu-user
    const secs = (plan: BuildPlan, id: string) => (plan.cross ? (id === 'configure:nginx' ? 60 : 20) : (id === 'configure:nginx' ? 30 : 10));
    const fake = async (plan: BuildPlan, opts: BuildOptions): Promise<BuildSummary> => {
      calls.push({ target: plan.target.triple, cross: plan.cross, force: opts.force, home: process.env.NGINX_FORGE_HOME, until: opts.until });
      return {
        profile: plan.profile, planHash: plan.planHash, binary: '/x/usr/sbin/nginx', root: '/x', licensesDir: '/x/l', variants: {}, artifacts: [],
        stages: plan.stages.map((s) => ({ id: s.id, status: 'built', seconds: secs(plan, s.id) })), seconds: 0,
      };
    };
    const cli: string[][] = [];
    const r = await benchBuild({ flags: { profile: 'ktls', target: 'aarch64-linux-gnu' }, runBuild: fake, jobs: 2, runCli: async (args) => (cli.push(args), 0.5) });
    expect(process.env.NGINX_FORGE_HOME).toBe(before);
    // native first, then cross; both forced (every stage runs), in the bench's one private state dir
    expect(calls.map((c) => [c.target, c.cross, c.force, c.until])).toEqual([
      ['x86_64-linux-gnu', false, true, 'install:nginx'],
      ['aarch64-linux-gnu', true, true, 'install:nginx'],
    ]);
    expect(new Set(calls.map((c) => c.home)).size).toBe(1);
    expect(calls[0]!.home).not.toBe(before);
    // the cache scenarios are the native bench's: not repeated for the target
    expect(r.scenarios.map((s) => s.id)).toEqual(['cold', 'cross']);
    expect(cli).toEqual([]);
    expect(r.registry).toBeUndefined();
    expect(r.target).toBe('aarch64-linux-gnu');
    expect(r.command).toBe('nginx-forge bench build --profile ktls --target aarch64-linux-gnu');
    const native = planFromFlags({ profile: 'ktls', target: 'x86_64-linux-gnu' }, false);
    expect(r.cross).toMatchObject({ host: 'x86_64-linux-gnu', target: 'aarch64-linux-gnu', nativePlanHash: planFromFlags({ profile: 'ktls', target: 'x86_64-linux-gnu' }).planHash });
    expect(r.cross!.nativePlanHash).not.toBe(r.planHash);
    const [cold, cross] = r.scenarios;
    expect(r.cross!.overNative).toBe(Math.round((cross!.seconds / Math.max(cold!.seconds, 0.001)) * 100) / 100);
    // stage by stage: every stage of the plan, with the seconds runBuild reported
    expect(r.cross!.stages.map((s) => s.id)).toEqual(native.stages.map((s) => s.id));
    expect(r.cross!.stages.find((s) => s.id === 'configure:nginx')).toEqual({ id: 'configure:nginx', native: 30, cross: 60, ratio: 2 });
    expect(r.cross!.stages.find((s) => s.id === 'library:openssl')).toEqual({ id: 'library:openssl', native: 10, cross: 20, ratio: 2 });
    const text = buildText(r);
    expect(text).toMatch(/^cross build for aarch64-linux-gnu: [\d.]+ s against the native x86_64-linux-gnu build's [\d.]+ s: [\d.]+x the wall time/m);
    expect(text).toMatch(/^configure:nginx +30\.0 +60\.0 +2\.00x$/m);
    expect(text).not.toContain('variant for the nginx-only rebuild');
    const md = buildMarkdown(r, 'build-cross.svg');
    expect(md).toContain('| stage | x86_64-linux-gnu s | aarch64-linux-gnu s | cross / native |');
    expect(md).toContain('| configure:nginx | 30.0 | 60.0 | 2.00x |');
    expect(md).toContain('| scenario | wall s | this / native | CPU s | this / native (CPU) | stages run |');
    expect(md).not.toContain('naive');
    expect(text).toMatch(/^cold build +[\d.]+ +1\.00x /m);
    expect(md).toContain('Reproduce: `nginx-forge bench build --profile ktls --target aarch64-linux-gnu`');
    expect(buildChart(r)).toContain('cross build: for aarch64-linux-gnu');
  });

  it('crossComparison: only stages that ran in both builds, ratios to the hundredth', async () => {
    const { crossComparison } = await import('../src/bench/build.ts');
    const load = { loadavg: [0, 0, 0] } as never;
    const native = { id: 'cold' as const, title: '', seconds: 100, cpuSeconds: 180, load, notes: [], stages: <import('../src/pipeline/types.ts').StageResult[]>[{ id: 'a', status: 'built' as const, seconds: 3 }, { id: 'b', status: 'cached' as const, seconds: 0 }] };
    native.stages.push({ id: 'c', status: 'built', seconds: 0.2 });
    const cross = { id: 'cross' as const, title: '', seconds: 250, cpuSeconds: 400, load, notes: [], stages: [{ id: 'a', status: 'built' as const, seconds: 10 }, { id: 'b', status: 'built' as const, seconds: 5 }, { id: 'c', status: 'built' as const, seconds: 0.3 }] };
    // c: a 0.2 s stage's ratio would be noise (under CROSS_RATIO_MIN): none given
    expect(crossComparison(native, cross, 'x86_64-linux-gnu', 'aarch64-linux-gnu', 'h')).toEqual({
      host: 'x86_64-linux-gnu', target: 'aarch64-linux-gnu', nativePlanHash: 'h', overNative: 2.5, cpuOverNative: 2.22, stages: [{ id: 'a', native: 3, cross: 10, ratio: 3.33 }, { id: 'c', native: 0.2, cross: 0.3, ratio: null }],
    });
    expect(crossComparison({ ...native, cpuSeconds: undefined }, cross, 'h', 't', 'x').cpuOverNative).toBeUndefined();
  });

  it('warns when the warm rebuild or the nginx-only rebuild ran library stages', async () => {
    let n = 0;
    const fake = async (plan: BuildPlan): Promise<BuildSummary> => {
      n++;
      await seedTls(plan, 1024);
      // warm: OpenSSL rebuilt (it should have been restored); nginx-only: PCRE2 rebuilt too
      const built = n === 1 ? () => true : n === 2 ? (id: string) => id === 'library:openssl' : (id: string) => /nginx|pcre2/.test(id);
      return {
        profile: plan.profile, planHash: plan.planHash, binary: '/x/usr/sbin/nginx', root: '/x', licensesDir: '/x/l', variants: {}, artifacts: [],
        stages: plan.stages.map((s) => ({ id: s.id, status: built(s.id) ? 'built' : 'cached', seconds: 0 })), seconds: 0,
      };
    };
    const r = await benchBuild({ flags: { profile: 'ktls' }, runBuild: fake, skipNaive: true, skipRegistry: true, jobs: 2, runCli: async () => 1.7 });
    expect(r.warnings).toContain('warm rebuild ran stages it should have restored: library:openssl');
    expect(r.warnings.some((w) => w.startsWith('the all-cached build took 1.7 s (median of 3), over its 1 s budget'))).toBe(true);
    expect(r.warnings.some((w) => /nginx-only rebuild rebuilt dependency stages: .*library:pcre2/.test(w))).toBe(true);
  });
});

describe('kTLS in the QEMU guest (pure parts)', () => {
  it('the guest script is valid sh and bakes in the experiment', async () => {
    const { renderGuestBench } = await import('../src/bench/ktls-vm.ts');
    const script = renderGuestBench({ nginx: "/opt/it's/nginx", work: '/run/nginx-forge/work', io: '/run/nginx-forge/io', bytes: 1024, downloads: 3, cipher: 'TLS_AES_256_GCM_SHA384', maxSeconds: 60, earlyErrorLog: true });
    const file = path.join(tmp, 'guest.sh');
    (await import('node:fs')).writeFileSync(file, script);
    const { spawnSync } = await import('node:child_process');
    expect(spawnSync('sh', ['-n', file]).status).toBe(0);
    expect(script).toContain(`'/opt/it'\\''s/nginx'`);
    expect(script).toContain('head -c 1024 /dev/urandom');
    expect(script).toContain('--tls13-ciphers TLS_AES_256_GCM_SHA384');
    expect(script).toContain('while [ $n -lt 3 ]');
  });

  it('parses guest results and reads the tls_stat evidence', async () => {
    const { parseGuestResults, ktlsFromGuest, EMULATED_LABEL } = await import('../src/bench/ktls-vm.ts');
    const lines = [
      'warmup-ktls 200 100 50.0 2.0 0 1',
      'ktls 200 100 40.0 2.5 1 2',
      'userspace 200 100 20.0 5.0 2 2',
      'userspace 200 100 30.0 3.3 2 2',
      'ktls 200 100 60.0 1.7 2 3',
      'garbage line',
    ].join('\n');
    const d = parseGuestResults(lines);
    expect(d).toHaveLength(5);
    expect(d[1]).toEqual({ side: 'ktls', httpCode: 200, bytes: 100, bytesPerSec: 40, seconds: 2.5, txBefore: 1, txAfter: 2 });
    const k = ktlsFromGuest(d, 100, 'note');
    expect(k.measured).toBe(true);
    expect(k.mode).toBe('emulated');
    expect(k.evidence).toMatchObject({ ktlsDownloadsWithTlsTxSwIncrement: 2, userspaceDownloadsWithTlsTxSwIncrement: 0 });
    // samples in MiB/s: ktls 40 and 60 bytes/s; userspace 20 and 30 bytes/s
    expect(k.workload!.candidate.summary.avg * 1024 * 1024).toBeCloseTo(50, 9);
    expect(k.workload!.baseline!.summary.avg * 1024 * 1024).toBeCloseTo(25, 9);
    expect(k.workload!.notes).toContain(EMULATED_LABEL);
    // medians 50 vs 25 bytes/s: ratio 2, +100%
    expect(k.workload!.ratio).toBeCloseTo(2, 12);
    expect(k.workload!.pct!.avg).toBeCloseTo(100, 9);
    expect(k.workload!.title).toContain('emulated');

    // no kernel TLS in the guest: the section says so
    const none = ktlsFromGuest(parseGuestResults('ktls 200 100 40.0 2.5 - -\nuserspace 200 100 20.0 5.0 - -\n'), 100, '');
    expect(none.reason).toMatch(/did not engage/);
    expect(ktlsFromGuest([], 100, '').measured).toBe(false);
  });
});
