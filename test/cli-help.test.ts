// The exit codes are written once (src/errors.ts): --help lists them, the commands' help names
// theirs from the same table, and README's list says the same.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { EXIT_MEANING, ExitCode } from '../src/errors.ts';
import { PROJECT_ROOT } from '../src/recipes/load.ts';

const cli = (args: string[]) => execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), ...args], { reject: false });

describe('exit codes: one table', () => {
  it('--help lists every exit code with its meaning', async () => {
    const r = await cli(['--help']);
    expect(r.exitCode).toBe(0);
    for (const k of Object.keys(ExitCode) as (keyof typeof ExitCode)[]) expect(r.stdout).toMatch(new RegExp(`^ +${ExitCode[k]}  ${EXIT_MEANING[k].replace(/[()]/g, '\\$&')}$`, 'm'));
  });

  it("test's and audit's help name the codes they really exit with", async () => {
    expect((await cli(['test', '--help'])).stdout.replace(/\s+/g, ' ')).toContain(`exit ${ExitCode.test} when a file fails`);
    expect((await cli(['audit', '--help'])).stdout.replace(/\s+/g, ' ')).toContain(`exit ${ExitCode.securityFixPending} when a reachable security fix`);
  });

  it("README's exit-code list has every code", () => {
    const text = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const para = text.slice(text.indexOf('Exit codes:'), text.indexOf('\n\n', text.indexOf('Exit codes:')));
    for (const code of Object.values(ExitCode)) expect(para).toMatch(new RegExp(`\\b${code} `));
  });
});
