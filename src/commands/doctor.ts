// `nginx-forge doctor [--json]`: exit 0 when everything a build needs is present; missing
// smoke-test or packaging tools are warnings, kernel facts are notes. Also reports how much the
// state directory holds (and that `nginx-forge gc` frees what is unused).
import { doctor, renderDoctor } from '../doctor.ts';
import { ExitCode } from '../errors.ts';
import { fmtBytes } from '../fetch/download.ts';
import { stateUsage, type StateUsage } from '../gc.ts';
import { displayPath } from '../recipes/load.ts';
import { printJson } from './common.ts';
import { stateDirProblem } from './validate.ts';
import { stateDir } from '../paths.ts';

export function renderState(s: StateUsage): string {
  const parts = Object.entries(s.parts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${fmtBytes(n)}`);
  return `State: ${displayPath(s.dir)} holds ${fmtBytes(s.total)}${parts.length ? ` (${parts.join(', ')})` : ''}; \`nginx-forge gc\` removes what is unused (--dry-run shows what).\n`;
}

export async function run(flags: { json?: boolean }): Promise<number> {
  const report = await doctor();
  // a state directory that is a file: builds cannot start (exit 2 with the fix), doctor says so
  const problem = stateDirProblem();
  const hint = 'set NGINX_FORGE_HOME to a directory (builds, package and gc refuse to start until then)';
  const state = problem ? { dir: stateDir(), problem, hint } : stateUsage();
  if (flags.json) printJson({ ...report, state });
  else process.stdout.write(`${renderDoctor(report)}\n${problem ? `State: ${problem}: ${hint}\n` : renderState(state as StateUsage)}`);
  if (problem) return ExitCode.usage;
  return report.ok ? ExitCode.ok : ExitCode.missingTool;
}
