// `nginx-forge doctor [--json]`: exit 0 when everything a build needs is present; missing
// smoke-test or packaging tools are warnings, kernel facts are notes.
import { doctor, renderDoctor } from '../doctor.ts';
import { ExitCode } from '../errors.ts';
import { printJson } from './common.ts';

export async function run(flags: { json?: boolean }): Promise<number> {
  const report = await doctor();
  if (flags.json) printJson(report);
  else process.stdout.write(renderDoctor(report));
  return report.ok ? ExitCode.ok : ExitCode.missingTool;
}
