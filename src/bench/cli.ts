// bench cli: what the compiled CLI saves at start. The same commands run through the compiled
// JavaScript (lib/, the default) and through tsx (NGINX_FORGE_TSX=1, what every call cost
// before), interleaved (tsx, compiled, tsx, compiled, …) so that load on the machine hits both
// alike; the ratio is the geometric mean of the per-round ratios, with its confidence interval.
//   version      `nginx-forge --version`
//   cached-build `nginx-forge build --profile P --no-smoke` with every stage in the cache
// The cached build runs in the user's state dir: a warm-up run first (it builds what is missing).
import { tempDir } from '../tmpdirs.ts';
import { execa } from 'execa';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ForgeError } from '../errors.ts';
import { PROJECT_ROOT } from '../recipes/load.ts';
import { loadSample, machineInfo, type LoadSample, type MachineInfo } from './machine.ts';
import { pairedRatio, summarize, type PairedRatio, type Summary } from './stats.ts';

export const CLI_SCHEMA = 'nginx-forge/bench-cli@1';

export interface CliWorkload {
  id: 'version' | 'cached-build';
  command: string;
  tsx: { samples: number[]; summary: Summary };
  compiled: { samples: number[]; summary: Summary };
  /** tsx / compiled per round: how many times faster the compiled CLI is */
  speedup: PairedRatio | null;
}

export interface CliBenchResult {
  schema: typeof CLI_SCHEMA;
  startedAt: string;
  machine: MachineInfo;
  load: { before: LoadSample; after: LoadSample };
  runs: number;
  workloads: CliWorkload[];
}

const BIN = path.join(PROJECT_ROOT, 'bin', 'nginx-forge.mjs');

/** Runs the CLI as its own process; its wall seconds. `bench` names the benchmark in the error of a failed run. */
export async function timedCli(bench: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await execa(process.execPath, [BIN, ...args], { env, reject: false, stdin: 'ignore' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.exitCode !== 0) throw new ForgeError(`${bench}: nginx-forge ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).slice(-400)}`);
  return s;
}
const timed = (args: string[], env: Record<string, string>) => timedCli('bench cli', args, env);

export async function benchCli(o: { runs?: number; profile?: string; progress?: (l: string) => void } = {}): Promise<CliBenchResult> {
  if (!existsSync(path.join(PROJECT_ROOT, 'lib', 'cli.js'))) {
    throw new ForgeError('bench cli: there is no compiled CLI (lib/cli.js)', { hint: 'run `npm run build` first' });
  }
  const runs = o.runs ?? 10;
  const say = o.progress ?? (() => undefined);
  const before = loadSample();
  const out = tempDir('benchcli');
  const build = ['build', '--profile', o.profile ?? 'ktls', '--no-smoke', '--json', '--out', out];
  const workloads: CliWorkload[] = [];
  try {
    say(`warm-up: ${['nginx-forge', ...build].join(' ')} (builds whatever is not cached yet)`);
    await timed(build, {});
    for (const [id, args] of [['version', ['--version']], ['cached-build', build]] as const) {
      const tsx: number[] = [];
      const compiled: number[] = [];
      for (let i = 0; i < runs; i++) {
        tsx.push(await timed([...args], { NGINX_FORGE_TSX: '1' }));
        compiled.push(await timed([...args], {}));
      }
      say(`${id}: tsx ${summarize(tsx).median.toFixed(3)} s, compiled ${summarize(compiled).median.toFixed(3)} s (medians of ${runs})`);
      workloads.push({
        id,
        command: ['nginx-forge', ...args].join(' '),
        tsx: { samples: tsx, summary: summarize(tsx) },
        compiled: { samples: compiled, summary: summarize(compiled) },
        speedup: pairedRatio(compiled, tsx),
      });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return { schema: CLI_SCHEMA, startedAt: before.at, machine: machineInfo([]), load: { before, after: loadSample() }, runs, workloads };
}

export function cliText(r: CliBenchResult): string {
  const lines = [`bench cli: ${r.runs} interleaved runs each, load ${r.load.before.loadavg.join(' ')} → ${r.load.after.loadavg.join(' ')}`];
  for (const w of r.workloads) {
    const s = w.speedup;
    lines.push(
      `  ${w.command}`,
      `    tsx (before)      median ${w.tsx.summary.median.toFixed(3)} s  min ${w.tsx.summary.min.toFixed(3)} s`,
      `    compiled (now)    median ${w.compiled.summary.median.toFixed(3)} s  min ${w.compiled.summary.min.toFixed(3)} s`,
      `    compiled is ${s ? `${s.geomean.toFixed(2)}x faster [${s.lo.toFixed(2)}, ${s.hi.toFixed(2)}] (95%, paired)` : 'not comparable'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function cliMarkdown(r: CliBenchResult): string {
  const rows = r.workloads.map((w) => `| \`${w.command.replace(/ --out \S+/, ' --out …')}\` | ${w.tsx.summary.median.toFixed(3)} s | ${w.compiled.summary.median.toFixed(3)} s | ${w.speedup ? `${w.speedup.geomean.toFixed(2)}x [${w.speedup.lo.toFixed(2)}, ${w.speedup.hi.toFixed(2)}]` : '–'} |`);
  return [
    `Measured ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${r.machine.cores} cores (${r.machine.cpuModel}), load ${r.load.before.loadavg[0]} → ${r.load.after.loadavg[0]}; ${r.runs} interleaved runs of each.`,
    '',
    '| command | tsx (before) | compiled (now) | speedup (paired, 95%) |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
