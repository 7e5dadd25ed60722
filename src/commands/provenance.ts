// `nginx-forge verify-provenance <file.intoto.jsonl> --key PUB [--artifacts DIR]`: every envelope
// of the file signed by one of the keys, a SLSA provenance v1 statement, and every subject's
// sha256 equal to the file of that name in DIR (src/provenance.ts). Exit 5 (verify) otherwise.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, ForgeError, UsageError } from '../errors.ts';
import { checkKeyFile } from '../flags/cache.ts';
import { verifyProvenance } from '../provenance.ts';
import { terminalSafe } from '../terminal.ts';
import { printJson } from './common.ts';

export async function verify(file: string, flags: { key: string[]; artifacts?: string; json?: boolean }): Promise<number> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`${file}: no such file`, 'give the <name>.intoto.jsonl that `nginx-forge build` or `package` wrote into --out with --provenance-key');
  const dir = path.resolve(flags.artifacts ?? path.dirname(file));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--artifacts ${flags.artifacts}: no such directory`, 'give the --out directory the artifacts were written to');
  const trusted = flags.key.map((k) => checkKeyFile('--key', k, 'public'));
  const checks = verifyProvenance(readFileSync(file, 'utf8'), trusted, dir);
  const ok = checks.every((c) => c.ok);
  if (flags.json) {
    printJson({ file: path.resolve(file), artifacts: dir, ok, envelopes: checks });
  } else {
    for (const c of checks) {
      const who = c.builder ? `, builder ${c.builder.id}${c.builder.version['git-commit'] ? ` at ${c.builder.version['git-commit']}` : ` ${Object.values(c.builder.version)[0] ?? ''}`}` : '';
      const what = c.profile ? `, profile ${c.profile}${c.planHash ? ` plan ${c.planHash.slice(0, 12)}` : ''}` : '';
      process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  line ${c.line}: ${c.subjects.length} subject(s)${c.keyHint ? `, signed by key ${c.keyHint}` : ''}${terminalSafe(who + what)}\n`);
      for (const s of c.subjects) process.stdout.write(`        ${s.ok ? 'ok  ' : 'FAIL'}  ${terminalSafe(s.name)}\n`);
      if (!c.ok) process.stdout.write(`        ${terminalSafe(c.problem ?? '')}\n`);
    }
  }
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) {
    throw new ForgeError(`${file}: ${bad.length} of ${checks.length} provenance envelope(s) did not verify; line ${bad[0]!.line}: ${bad[0]!.problem}`, {
      exitCode: ExitCode.verify,
      hint: 'do not use these artifacts: they, or their provenance, are not what the key holder built (or --key / --artifacts name the wrong key or directory)',
    });
  }
  return 0;
}
