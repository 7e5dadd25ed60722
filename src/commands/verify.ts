import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { execa } from 'execa';
import { assertChecks, builtByForge, notAnExecutable, verifyBinary } from '../stages/verify.ts';
import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { printJson } from './common.ts';

export async function run(nginx: string, flags: PlanFlags & { json?: boolean }): Promise<number> {
  const binary = path.resolve(nginx);
  if (!existsSync(binary)) throw new UsageError(`${nginx}: no such file`, 'give the path of an nginx binary, e.g. the "binary" of `nginx-forge build --json`');
  const notExe = notAnExecutable(binary);
  if (notExe) throw new UsageError(`${nginx}: ${notExe}`, 'give the path of an nginx binary, e.g. the "binary" of `nginx-forge build --json`');
  const plan = planFromFlags(flags);
  const checks = await verifyBinary(binary, plan);
  const v = await execa(binary, ['-V'], { reject: false, all: true, timeout: 30_000 }).catch(() => undefined);
  const foreign = !builtByForge(String(v?.all ?? ''));
  if (flags.json) printJson({ binary, profile: plan.profile, ok: checks.every((c) => c.ok), builtByNginxForge: !foreign, checks });
  else {
    for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.check}${c.ok ? '' : `\n      expected: ${c.expected}\n      actual:   ${c.actual}`}\n`);
  }
  // each failed check was printed once, above (or is in the JSON): the error only sums up
  assertChecks(binary, checks, { listed: true, foreign, profile: plan.profile });
  return 0;
}
