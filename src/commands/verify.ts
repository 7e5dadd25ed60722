import { existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { assertChecks, verifyBinary } from '../stages/verify.ts';
import { planFromFlags, printJson, type PlanFlags } from './common.ts';

export async function run(nginx: string, flags: PlanFlags & { json?: boolean }): Promise<number> {
  const binary = path.resolve(nginx);
  if (!existsSync(binary)) throw new UsageError(`${nginx}: no such file`, 'give the path of an nginx binary, e.g. the "binary" of `nginx-forge build --json`');
  const plan = planFromFlags(flags);
  const checks = await verifyBinary(binary, plan);
  if (flags.json) printJson({ binary, profile: plan.profile, ok: checks.every((c) => c.ok), checks });
  else {
    for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.check}${c.ok ? '' : `\n      expected: ${c.expected}\n      actual:   ${c.actual}`}\n`);
  }
  assertChecks(binary, checks);
  return 0;
}
