// bench serve / bench build: parse flags, run, print, write results (JSON + chart + markdown).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PlanFlags } from '../flags/plan.ts';
import { interruptible, printJson } from './common.ts';
import type { FetchFlags } from '../flags/fetch.ts';
import { plainOutput } from '../paths.ts';
import { displayPath } from '../recipes/load.ts';
import { UsageError } from '../errors.ts';

export interface ServeFlags {
  vs?: string;
  quick?: boolean;
  json?: boolean;
  results?: string;
}

export async function serve(nginx: string, flags: ServeFlags = {}): Promise<number> {
  const { benchServe } = await import('../bench/serve.ts');
  const { markdownReport, serveChart, textReport } = await import('../bench/report.ts');
  const resultsDir = path.resolve(flags.results ?? 'docs/bench');
  const base = flags.quick ? 'serve-quick' : 'serve';
  const progress = (l: string) => process.stderr.write(`${plainOutput() ? `[${new Date().toISOString().slice(11, 19)}] ` : ''}bench: ${l}\n`);
  const command = ['nginx-forge bench serve', nginx, ...(flags.vs ? ['--vs', flags.vs] : []), ...(flags.quick ? ['--quick'] : [])].join(' ');
  // Ctrl-C / SIGTERM stop the servers we started (by pid), then exit 130
  const result = await interruptible('bench serve', (signal) =>
    benchServe({ nginx: path.resolve(nginx), vs: flags.vs ? path.resolve(flags.vs) : undefined, quick: flags.quick, progress, command, signal }),
  );
  mkdirSync(resultsDir, { recursive: true });
  const written: string[] = [];
  const json = path.join(resultsDir, `${base}.json`);
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  written.push(json);
  let chart: string | undefined;
  if (result.binaries.baseline) {
    chart = path.join(resultsDir, `${base}.svg`);
    writeFileSync(chart, serveChart(result));
    written.push(chart);
  }
  const md = path.join(resultsDir, `${base}.md`);
  writeFileSync(md, markdownReport(result, chart ? path.basename(chart) : undefined));
  written.push(md);
  if (flags.json) printJson({ ...result, files: written });
  else process.stdout.write(textReport(result, written.map(displayPath)));
  return 0;
}

export interface BenchBuildFlags extends PlanFlags, FetchFlags {
  json?: boolean;
  results?: string;
}

export async function build(flags: BenchBuildFlags): Promise<number> {
  const { benchBuild } = await import('../bench/build.ts');
  const { buildChart, buildMarkdown, buildText } = await import('../bench/build-report.ts');
  const resultsDir = path.resolve(flags.results ?? 'docs/bench');
  const progress = (l: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] bench build: ${l}\n`);
  const result = await interruptible('bench build', (signal) => benchBuild({ flags, progress, signal }));
  mkdirSync(resultsDir, { recursive: true });
  // a cross comparison (--target another machine) keeps the native run's files
  const base = result.cross ? 'build-cross' : 'build';
  const json = path.join(resultsDir, `${base}.json`);
  const svg = path.join(resultsDir, `${base}.svg`);
  const md = path.join(resultsDir, `${base}.md`);
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(svg, buildChart(result));
  writeFileSync(md, buildMarkdown(result, path.basename(svg)));
  const written = [json, svg, md];
  if (flags.json) printJson({ ...result, files: written });
  else process.stdout.write(buildText(result, written.map(displayPath)));
  return 0;
}

export async function cli(flags: { runs?: string; profile?: string; json?: boolean; results?: string }): Promise<number> {
  const { benchCli, cliMarkdown, cliText } = await import('../bench/cli.ts');
  const runs = flags.runs ? Number(flags.runs) : 10;
  if (!Number.isInteger(runs) || runs < 2 || runs > 1000) throw new UsageError(`--runs ${flags.runs}: expected a whole number from 2 to 1000`);
  const progress = (l: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] bench cli: ${l}\n`);
  const result = await benchCli({ runs, profile: flags.profile, progress });
  const resultsDir = path.resolve(flags.results ?? 'docs/bench');
  mkdirSync(resultsDir, { recursive: true });
  const json = path.join(resultsDir, 'cli.json');
  const md = path.join(resultsDir, 'cli.md');
  writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(md, cliMarkdown(result));
  if (flags.json) printJson({ ...result, files: [json, md] });
  else process.stdout.write(`${cliText(result)}results: ${[json, md].map(displayPath).join(', ')}\n`);
  return 0;
}
