// Test stage of a build (opt-in: build --test): nginx's own test suite (nginx-tests, pinned) against
// the installed binary, with the environment the plan computed (sanitizer options for a sanitizer
// build). A failed file fails the build with ExitCode.test, naming the files and the log folder.
import { ExitCode, ForgeError } from '../errors.ts';
import type { FetchOptions } from '../fetch/index.ts';
import { modulesOfFlags, runNginxTests } from '../nginxtests/run.ts';
import type { SuiteReport } from '../nginxtests/report.ts';
import type { BuildPlan } from '../plan.ts';

/** What the plan puts into the test stage's key (and the stage runs with). */
export interface TestStageInputs {
  suite: { name: string; commit: string; treeSha256?: string; sha256?: string };
  files: string[];
  unsafe: boolean;
  env: Record<string, string>;
}

export async function testStage(
  binary: string,
  plan: BuildPlan,
  inputs: TestStageInputs,
  opts: { fetch: FetchOptions; jobs: number; logsDir: string; signal: AbortSignal; onLog: (l: string) => void },
): Promise<{ report: Omit<SuiteReport, 'results'> }> {
  const report = await runNginxTests(binary, {
    files: inputs.files.length ? inputs.files : undefined,
    unsafe: inputs.unsafe,
    env: inputs.env,
    jobs: opts.jobs,
    profile: plan.profile,
    profileModules: modulesOfFlags(plan.nginxFlags),
    recipesDir: plan.recipesDir,
    logsDir: opts.logsDir,
    fetch: opts.fetch,
    signal: opts.signal,
    onLog: opts.onLog,
  });
  // a sanitizer build: any sanitizer line is a finding, even in a file the suite passed
  const sanitizerLines = report.logLines.filter((l) => l.level === 'sanitizer');
  if (!report.ok || sanitizerLines.length) {
    const failed = report.failed.map((f) => f.file);
    const missing = report.missingModules.map((m) => `${m.file} (no ${m.module})`);
    const san = sanitizerLines;
    const what = [
      ...(failed.length ? [`${failed.length} file(s) failed: ${failed.join(', ')}`] : []),
      ...(report.allSkipped ? [`every selected file (${report.files.skipped}) was skipped, nothing was tested: ${Object.values(report.skipped).flat().slice(0, 5).map((s) => `${s.file} (${s.reason})`).join(', ')}`] : []),
      ...(missing.length ? [`skipped for a module the profile builds: ${missing.join(', ')}`] : []),
      ...(san.length ? [`${san.length} sanitizer line(s), first in ${san[0]!.file}: ${san[0]!.line.trim()}`] : []),
    ];
    throw new ForgeError(
      `test: nginx's test suite failed against the ${plan.profile} binary: ${what.join('; ') || 'see the report'}`,
      { exitCode: ExitCode.test, hint: `logs, TAP and error logs: ${report.logsDir} (report.json, prove.log, error-logs/<file>/)` },
    );
  }
  // the per-file results stay in the logs folder (report.json); the cached result keeps the summary
  const { results: _results, ...summary } = report;
  return { report: summary };
}
