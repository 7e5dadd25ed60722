// Render a bench build result: text (terminal), markdown (docs), and a bar chart (SVG).
import { REGISTRY_TARGET, type BuildBenchResult, type Scenario } from './build.ts';
import { loadLine, machineLine } from './report.ts';
import { alignTable } from './stats.ts';
import { barChart } from './svg.ts';

const SHORT: Record<Scenario['id'], string> = {
  cold: 'cold build',
  warm: 'warm no-op',
  registry: 'fresh runner, warm registry',
  'nginx-only': 'nginx-only',
  naive: 'naive make',
  cross: 'cross build',
};

/** 473.4, 65.6, 0.042: one decimal, or three below a second */
export function fmtSecs(x: number): string {
  return x >= 1 ? x.toFixed(1) : x.toFixed(3);
}

function speedup(r: BuildBenchResult, s: Scenario, which: 'speedup' | 'cpuSpeedup' = 'speedup'): string {
  // a cross comparison (bench build --target): the cross build over the native one instead
  if (r.cross) {
    const v = s.id === 'cold' ? 1 : s.id === 'cross' ? (which === 'speedup' ? r.cross.overNative : r.cross.cpuOverNative) : undefined;
    return v === undefined ? '-' : `${v.toFixed(2)}x`;
  }
  if (s.id === 'naive') return r.scenarios.some((x) => x.id === 'naive') ? '1.00x' : '-';
  const v = (r[which] ?? {})[s.id];
  if (v === undefined) return '-';
  // a no-op rebuild takes about a millisecond: its ratio is only "a great many times"
  return v >= 1000 ? '>1000x' : `${v >= 100 ? v.toFixed(0) : v.toFixed(2)}x`;
}

/** The nginx-only rebuild against nginx's own compile+link alone (measured in the naive tree). */
function compileLinkLine(r: BuildBenchResult): string | undefined {
  const only = r.scenarios.find((s) => s.id === 'nginx-only');
  if (r.nginxCompileLink === undefined || !only) return undefined;
  return `nginx-only rebuild ${fmtSecs(only.seconds)} s against nginx's own compile+link alone ${fmtSecs(r.nginxCompileLink)} s (its objects removed, make in the naive tree): ${r.nginxOnlyOverCompileLink?.toFixed(2)}x`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;

/** The cost of checking cache entries against their manifests: numbers and ratios of one run. */
export function cacheCheckLines(r: BuildBenchResult): string[] {
  const c = r.cacheCheck;
  if (!c) return [];
  const t = c.tlsLibrary;
  return [
    `all-cached build, as a process (\`${c.cachedBuild.command}\`, ${c.cachedBuild.compiledCli ? 'compiled CLI' : 'through tsx'}): ${fmtSecs(c.cachedBuild.median)} s (median of ${c.cachedBuild.samples.map(fmtSecs).join(', ')})${c.cachedBuild.cpuMedian !== undefined ? `, CPU ${fmtSecs(c.cachedBuild.cpuMedian)} s` : ''}`,
    `cache check of ${t.stage} (${t.files} files, ${(t.bytes / 1e6).toFixed(1)} MB): every byte hashed ${ms(t.contentSeconds)} = ${pct(t.contentShare)} of the all-cached build; by stamps ${ms(t.stampSeconds)} = ${pct(t.stampShare)}`,
  ];
}

const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** The fresh runner from a warm registry against the cold build, and what travelled. */
export function registryLines(r: BuildBenchResult): string[] {
  const g = r.registry;
  const s = r.scenarios.find((x) => x.id === 'registry');
  if (!g || !s) return [];
  const same = g.sameBinary === undefined ? 'not compared' : g.sameBinary ? 'byte-identical to the cold build\'s' : 'DIFFERENT from the cold build\'s';
  return [
    `fresh runner, warm registry (${g.ref}): ${fmtSecs(s.seconds)} s to the installed binary, ${g.overCold.toFixed(1)}x faster than the cold build (target ${REGISTRY_TARGET}x); binary ${same}`,
    `registry traffic: pushed ${g.pushed} entries, ${mb(g.pushedBytes)} (${fmtSecs(g.pushSeconds)} s, from the warm state dir); pulled ${g.pulled} entries, ${mb(g.pulledBytes)}`,
  ];
}

/** The cross build against the native one (bench build --target): the ratio, then stage by stage. */
export function crossLines(r: BuildBenchResult): string[] {
  const x = r.cross;
  const native = r.scenarios.find((s) => s.id === 'cold');
  const cross = r.scenarios.find((s) => s.id === 'cross');
  if (!x || !native || !cross) return [];
  const cpu = x.cpuOverNative === undefined ? '' : `; CPU ${fmtSecs(cross.cpuSeconds!)} s against ${fmtSecs(native.cpuSeconds!)} s: ${x.cpuOverNative.toFixed(2)}x`;
  return [`cross build for ${x.target}: ${fmtSecs(cross.seconds)} s against the native ${x.host} build's ${fmtSecs(native.seconds)} s: ${x.overNative.toFixed(2)}x the wall time${cpu}`];
}

/** The stages of both builds side by side: [stage, native s, cross s, cross / native]. */
function crossStageRows(r: BuildBenchResult): string[][] {
  return (r.cross?.stages ?? []).map((s) => [s.id, fmtSecs(s.native), fmtSecs(s.cross), s.ratio === null ? '-' : `${s.ratio.toFixed(2)}x`]);
}

function rows(r: BuildBenchResult, stagesRun = true): string[][] {
  const ratio = r.cross ? 'this / native' : 'naive / this';
  const out = [['scenario', 'wall s', ratio, 'CPU s', `${ratio} (CPU)`, ...(stagesRun ? ['stages run'] : [])]];
  for (const s of r.scenarios) {
    const ran = s.id === 'naive' ? `${s.steps?.length ?? 0} steps` : s.built?.length ? s.built.join(' ') : 'none';
    out.push([
      SHORT[s.id],
      fmtSecs(s.seconds),
      speedup(r, s),
      s.cpuSeconds === undefined ? '-' : fmtSecs(s.cpuSeconds),
      speedup(r, s, 'cpuSpeedup'),
      ...(stagesRun ? [ran] : []),
    ]);
  }
  return out;
}

export function buildText(r: BuildBenchResult, written: string[] = []): string {
  const out: string[] = [];
  out.push(`nginx-forge bench build: profile ${r.profile}, -j${r.jobs}, ${r.startedAt}, ${r.seconds} s in all`);
  out.push(`machine: ${machineLine(r.machine)}`);
  out.push(`         ${loadLine(r.load.before, r.load.after)}`);
  if (r.variantChange) out.push(`variant for the nginx-only rebuild: ${r.variantChange}`);
  out.push('');
  out.push(alignTable(rows(r, false)));
  out.push(...crossLines(r));
  const xs = crossStageRows(r);
  if (xs.length) out.push('', alignTable([['stage', `${r.cross!.host} s`, `${r.cross!.target} s`, 'cross / native'], ...xs]));
  for (const s of r.scenarios) if (s.id !== 'naive') out.push(`${SHORT[s.id]} ran: ${s.built?.length ? s.built.join(' ') : 'nothing (all restored from the cache)'}`);
  const cl = compileLinkLine(r);
  if (cl) out.push(cl);
  out.push(...cacheCheckLines(r));
  out.push(...registryLines(r));
  const naive = r.scenarios.find((s) => s.id === 'naive');
  if (naive?.steps) {
    out.push('', 'naive baseline steps:');
    out.push(alignTable(naive.steps.map((s) => [`  ${s.name}`, `${s.seconds.toFixed(1)} s`])));
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (written.length) out.push('', `written: ${written.join(', ')}`);
  return `${out.join('\n')}\n`;
}

export function buildMarkdown(r: BuildBenchResult, chartFile?: string): string {
  const out: string[] = [];
  out.push(`Measured ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC, profile \`${r.profile}\`, \`-j${r.jobs}\`, ${r.seconds} s in all.`);
  out.push('');
  out.push(`- machine: ${machineLine(r.machine)}`);
  out.push(`- ${loadLine(r.load.before, r.load.after)} (other jobs share the machine)`);
  out.push(`- tools: ${Object.values(r.machine.tools).join('; ')}`);
  if (r.variantChange) out.push(`- nginx-only variant: ${r.variantChange}`);
  out.push('');
  const [head, ...body] = rows(r);
  out.push(`| ${head!.join(' | ')} |`, '|---|---:|---:|---:|---:|---|', ...body.map((x) => `| ${x.map((c, i) => (i === 5 ? `\`${c}\`` : c)).join(' | ')} |`));
  out.push('', `${r.cross ? '"this / native": how many times the native build\'s time the scenario took (per stage below: wall time, which includes waiting for a job token while other stages compile).' : '"naive / this": how many times faster than the naive build.'} CPU seconds are user + system time of every process the scenario ran (and of nginx-forge itself), which other jobs on the machine disturb much less than wall-clock time.`);
  const cl = compileLinkLine(r);
  if (cl) out.push('', cl);
  const xl = crossLines(r);
  if (xl.length) {
    out.push('', ...xl.map((l) => `- ${l}`), '', `| stage | ${r.cross!.host} s | ${r.cross!.target} s | cross / native |`, '|---|---:|---:|---:|');
    out.push(...crossStageRows(r).map((x) => `| ${x.join(' | ')} |`));
  }
  const cc = cacheCheckLines(r);
  if (cc.length) out.push('', ...cc.map((l) => `- ${l}`));
  const rg = registryLines(r);
  if (rg.length) out.push('', ...rg.map((l) => `- ${l}`));
  out.push('');
  if (chartFile) out.push(`![build times](${chartFile})`, '');
  const naive = r.scenarios.find((s) => s.id === 'naive');
  if (naive?.steps) {
    out.push('Naive baseline, step by step:', '', '| step | seconds |', '|---|---:|', ...naive.steps.map((s) => `| ${s.name} | ${s.seconds.toFixed(1)} |`), '');
  }
  if (r.warnings.length) out.push(...r.warnings.map((w) => `- warning: ${w}`), '');
  out.push(`Reproduce: \`${r.command}\``);
  return `${out.join('\n')}\n`;
}

export function buildChart(r: BuildBenchResult): string {
  const series = [
    { name: 'wall-clock seconds', color: '#2e86c1' },
    { name: 'CPU seconds (user + system, all processes)', color: '#e67e22' },
  ];
  return barChart({
    title: `nginx-forge bench build: profile ${r.profile}, -j${r.jobs} (lower is better)`,
    subtitle: [
      machineLine(r.machine),
      `${loadLine(r.load.before, r.load.after)}; ${r.startedAt.slice(0, 10)}`,
      r.cross
        ? `cold build: native for ${r.cross.host}; cross build: for ${r.cross.target}, ${r.cross.overNative.toFixed(2)}x its wall time`
        : `naive: nginx's own make with in-tree OpenSSL/PCRE2, no cache; under the labels: naive / this, wall and CPU`,
    ],
    yLabel: 'seconds',
    series,
    groups: r.scenarios.map((s) => ({
      label: SHORT[s.id],
      sublabel: s.id === 'naive' ? 'baseline' : `${speedup(r, s)} / ${speedup(r, s, 'cpuSpeedup')}`,
      bars: [
        { series: series[0]!.name, value: s.seconds, text: `${fmtSecs(s.seconds)}` },
        ...(s.cpuSeconds === undefined ? [] : [{ series: series[1]!.name, value: s.cpuSeconds, text: `${fmtSecs(s.cpuSeconds)}` }]),
      ],
    })),
  });
}
