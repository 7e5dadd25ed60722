// Smoke stage of a build: runs the kTLS smoke test on the installed binary and judges the
// verdict against what the profile promises: a kTLS profile must PASS; a userspace profile must
// serve correct bytes without kTLS (BINARY_NO_KTLS), never PASS.
import { ForgeError, ExitCode } from '../errors.ts';
import type { BuildPlan } from '../plan.ts';
import type { SmokeOptions, SmokeResult } from '../smoke/index.ts';

export async function smokeStage(binary: string, plan: BuildPlan, opts: SmokeOptions): Promise<{ verdict: string; result: SmokeResult }> {
  const { runSmoke } = await import('../smoke/index.ts');
  const result = await runSmoke(binary, opts);
  const expected = plan.ktls ? 'PASS' : 'BINARY_NO_KTLS';
  if (result.verdict !== expected) {
    throw new ForgeError(
      `smoke: profile ${plan.profile} expects ${expected}, the smoke test says ${result.verdict}: ${result.reason}`,
      { exitCode: ExitCode.smoke, hint: `${result.next ?? 'see the smoke logs'} (logs: ${result.logs.dir})` },
    );
  }
  return { verdict: result.verdict, result };
}
