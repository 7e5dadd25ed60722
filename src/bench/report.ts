// Render a bench serve result: a ministat-style text report (terminal), a markdown section (docs),
// and a chart of candidate/baseline ratios (SVG).
import type { MachineInfo, LoadSample } from './machine.ts';
import type { ServeResult, WorkloadResult } from './serve.ts';
import { alignTable, describeDifference, fmt, fmtPct, ministatTable } from './stats.ts';
import { barChart } from './svg.ts';

const GiB = 1024 ** 3;

export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, ${(m.memBytes / GiB).toFixed(1)} GiB RAM, ${m.kernel}, ${m.os}, kTLS ULP: ${m.ktlsUlp ? 'yes' : 'no'}`;
}

export function loadLine(before: LoadSample, after: LoadSample): string {
  return `load average ${before.loadavg.join(' ')} before, ${after.loadavg.join(' ')} after`;
}

const SHORT: Record<string, string> = {
  download: 'HTTPS download',
  gzip: 'gzip',
  brotli: 'brotli / gzip, same binary',
  handshake: 'TLS handshakes',
  small: 'small static',
  'ktls-download': 'kTLS / userspace',
};

/** what a rate row and a CPU row share: the comparison's statistics */
type Compared = Pick<WorkloadResult, 'ratio' | 'difference' | 'paired'>;

function ratioText(w: Compared): string {
  return w.ratio === undefined || !Number.isFinite(w.ratio) ? 'n/a' : `${w.ratio.toFixed(2)}x`;
}

function ciText(w: Compared): string {
  const d = w.difference;
  if (!d) return 'n/a';
  const s = `${fmtPct(d.pct)} ± ${Math.abs(Math.round(d.pctPlusMinus * 10) / 10).toFixed(1)}%`;
  return d.significant ? s : `${s} (not significant)`;
}

function workloadText(w: WorkloadResult): string {
  const lines: string[] = [];
  lines.push(`== ${w.title} (${w.unit}) ==`);
  lines.push(w.method);
  const rows = [];
  if (w.baseline) rows.push({ label: 'x baseline', summary: w.baseline.summary });
  rows.push({ label: `${w.baseline ? '+' : 'x'} candidate`, summary: w.candidate.summary });
  lines.push(ministatTable(rows));
  if (w.baseline && w.pct) {
    lines.push(describeDifference(w.difference ?? null, w.unit));
    lines.push(
      alignTable([
        ['', 'Min', 'Max', 'Median', 'Avg'],
        ['+ vs x', fmtPct(w.pct.min), fmtPct(w.pct.max), fmtPct(w.pct.median), fmtPct(w.pct.avg)],
      ]),
    );
  }
  const cpu = w.serverCpu;
  if (cpu) {
    lines.push(`server CPU per request (µs, the workers' utime+stime from /proc over each run / its requests; lower is better)${w.judgedOn === 'server-cpu' ? ': this workload is judged on it' : ''}`);
    const crow = [];
    if (cpu.baseline) crow.push({ label: 'x baseline', summary: cpu.baseline.summary });
    crow.push({ label: `${cpu.baseline ? '+' : 'x'} candidate`, summary: cpu.candidate.summary });
    lines.push(ministatTable(crow));
    if (cpu.baseline) lines.push(`${describeDifference(cpu.difference ?? null, 'µs/request')}; paired ratio ${pairedText(cpu)}`);
  }
  for (const side of ['baseline', 'candidate'] as const) {
    const c = w[side]?.checks;
    if (c) lines.push(`${side}: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  for (const n of w.notes) lines.push(n);
  return lines.join('\n');
}

export function textReport(r: ServeResult, written: string[] = []): string {
  const out: string[] = [];
  out.push(`nginx-forge bench serve${r.quick ? ' --quick (tiny sizes: numbers are meaningless)' : ''}: ${r.startedAt}, ${r.seconds} s`);
  out.push(`machine: ${machineLine(r.machine)}`);
  out.push(`         ${loadLine(r.load.before, r.load.after)}`);
  if (r.binaries.baseline) out.push(`x baseline:  ${r.binaries.baseline.path} (${r.binaries.baseline.label})`);
  out.push(`${r.binaries.baseline ? '+' : 'x'} candidate: ${r.binaries.candidate.path} (${r.binaries.candidate.label})`);
  for (const w of r.workloads) out.push('', workloadText(w));
  out.push('', '== kTLS vs userspace TLS ==');
  if (r.ktls.workload) out.push(workloadText(r.ktls.workload));
  if (r.ktls.reason || !r.ktls.measured) out.push(r.ktls.reason ?? 'not measured');
  if (r.binaries.baseline) {
    out.push('', '== Summary: candidate vs baseline, medians ==');
    out.push(alignTable(summaryRows(r)));
  }
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (written.length) out.push('', `written: ${written.join(', ')}`);
  return `${out.join('\n')}\n`;
}

function pairedText(w: Compared): string {
  const c = w.paired?.ci;
  if (!c) return 'n/a';
  return `${c.geomean.toFixed(2)}x [${c.lo.toFixed(2)}, ${c.hi.toFixed(2)}]${c.significant ? '' : ' (not significant)'}`;
}

function summaryRows(r: ServeResult): string[][] {
  const rows = [['workload', 'unit', 'baseline', 'candidate', 'ratio', 'paired ratio, 95% CI', 'avg diff, 95% CI']];
  const all = [...r.workloads, ...(r.ktls.workload ? [r.ktls.workload] : [])];
  for (const w of all) {
    const name = w.id === 'ktls-download' ? `kTLS / userspace, same binary${r.ktls.mode === 'emulated' ? ', EMULATED (QEMU TCG)' : ''}` : (SHORT[w.id] ?? w.id);
    const judged = (on: 'rate' | 'server-cpu') => (w.judgedOn === 'server-cpu' ? (on === 'server-cpu' ? ' (verdict)' : ' (client-bound)') : '');
    rows.push([`${name}${judged('rate')}`, w.unit, w.baseline ? fmt(w.baseline.summary.median, 5) : '-', fmt(w.candidate.summary.median, 5), ratioText(w), pairedText(w), ciText(w)]);
    const c = w.serverCpu;
    if (c) rows.push([`${name}: server CPU${judged('server-cpu')}`, 'µs/request', c.baseline ? fmt(c.baseline.summary.median, 5) : '-', fmt(c.candidate.summary.median, 5), ratioText(c), pairedText(c), ciText(c)]);
  }
  return rows;
}

function mdTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [`| ${head!.join(' | ')} |`, `|${head!.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The markdown section docs/benchmarks.md quotes (written next to the JSON as serve.md). */
export function markdownReport(r: ServeResult, chartFile?: string): string {
  const out: string[] = [];
  out.push(`Measured ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC${r.quick ? ' with --quick (tiny sizes: numbers are meaningless)' : ''}, ${r.seconds} s.`);
  out.push('');
  out.push(`- machine: ${machineLine(r.machine)}`);
  out.push(`- ${loadLine(r.load.before, r.load.after)} (other jobs share the machine; both binaries run interleaved, so load hits both alike)`);
  if (r.binaries.baseline) out.push(`- baseline (x): \`${r.binaries.baseline.path}\`: ${r.binaries.baseline.label}`);
  out.push(`- candidate (+): \`${r.binaries.candidate.path}\`: ${r.binaries.candidate.label}`);
  out.push(`- one nginx worker each, loopback only; tools: ${Object.values(r.machine.tools).map((t) => t.split(' Copyright')[0]!.split(' (')[0]).join('; ')}`);
  out.push('');
  if (r.binaries.baseline) {
    out.push(mdTable(summaryRows(r)));
    out.push('');
    out.push('"ratio" is median(candidate) / median(baseline); "paired ratio" is the geometric mean of candidate/baseline over runs made back to back (A B, B A, ...), with its 95% confidence interval (Student\'s t on the log ratios): it cancels the load that changes between rounds; "avg diff" is the difference of the averages with its 95% confidence interval (Student\'s t, pooled s, as ministat). "server CPU" rows: the nginx workers\' utime+stime (/proc/<pid>/stat) over each run divided by the requests it served, same statistics, lower is better; a workload marked "(verdict)" is judged on that row, not on its client-bound rate.');
    out.push('');
  }
  if (chartFile) out.push(`![candidate / baseline](${chartFile})`, '');
  for (const w of r.workloads) {
    out.push(`#### ${w.title}`, '', w.method, '', '```', workloadText(w).split('\n').slice(2).join('\n'), '```', '');
  }
  out.push('#### kTLS vs userspace TLS', '');
  if (r.ktls.workload) out.push('```', workloadText(r.ktls.workload), '```', '');
  out.push(r.ktls.measured && !r.ktls.reason ? `Measured (${r.ktls.mode}).` : `**${r.ktls.reason ?? 'not measured'}**`, '');
  if (r.warnings.length) out.push(...r.warnings.map((w) => `- warning: ${w}`), '');
  out.push(`Reproduce: \`${r.command}\``);
  return `${out.join('\n')}\n`;
}

export function serveChart(r: ServeResult): string {
  // an emulated kTLS result is not comparable to native numbers: table only, not the chart
  const native = r.ktls.workload && r.ktls.mode === 'native' ? [r.ktls.workload] : [];
  const ws = [...r.workloads, ...native].filter((w) => w.baseline && w.ratio !== undefined);
  const b = r.binaries.baseline;
  return barChart({
    title: `nginx-forge bench serve: candidate / baseline${r.quick ? ' [--quick: meaningless]' : ''}`,
    subtitle: [
      `${machineLine(r.machine)}`,
      `${loadLine(r.load.before, r.load.after)}; ${r.startedAt.slice(0, 10)}`,
      'bars: geometric mean of paired (back-to-back) runs; whiskers: its 95% CI; n.s.: CI includes 1; under the labels: medians',
    ],
    yLabel: 'relative to baseline (higher is better)',
    series: [
      { name: `baseline: ${b ? b.label : '-'}`, color: '#9e9e9e' },
      { name: `candidate: ${r.binaries.candidate.label}`, color: '#2e86c1' },
    ],
    refLine: { value: 1, label: 'baseline = 1.0' },
    groups: ws.map((w) => {
      const c = w.paired?.ci;
      const value = c ? c.geomean : w.ratio!;
      return {
        label: SHORT[w.id] ?? w.id,
        sublabel: `${fmt(w.baseline!.summary.median, 4)} → ${fmt(w.candidate.summary.median, 4)} ${w.unit === 'handshakes/s' ? '/s' : w.unit}`,
        bars: [
          { series: `baseline: ${b ? b.label : '-'}`, value: 1, text: '1.00' },
          {
            series: `candidate: ${r.binaries.candidate.label}`,
            value,
            text: `${value.toFixed(2)}x${c && !c.significant ? ' (n.s.)' : ''}`,
            ...(c ? { lo: c.lo, hi: c.hi } : {}),
          },
        ],
      };
    }),
  });
}
