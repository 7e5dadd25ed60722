// Makefile words for the port: assignments in the ports tree's layout, and the checks and quoting
// that keep recipe and profile text from being expanded by make or the shell.
import { UsageError } from '../../errors.ts';
import { makefileWordProblem } from '../../recipes/safe.ts';

const TAB_COL = 16; // values of Makefile assignments start at this column (tabs of width 8)

/** `NAME=<tabs>value`, several values continued one per line. */
export function assign(name: string, values: string[]): string {
  const head = `${name}=`;
  const tabs = '\t'.repeat(Math.max(1, Math.ceil((TAB_COL - head.length) / 8)));
  if (values.length <= 1) return `${head}${tabs}${values[0] ?? ''}`;
  return `${head}${tabs}${values.join(' \\\n\t\t')}`;
}

/** Characters that would need escaping inside a Makefile value and a shell word, and control characters: refuse them. */
export function checkArg(a: string): string {
  const p = makefileWordProblem(a);
  if (p) throw new UsageError(`cannot put an argument into a port Makefile: ${p}`, 'drop "$", quotes, backslashes, "#" and control characters from the profile or recipe');
  return a;
}

/** A checked argument as one shell word: double quotes around it (or around its value after `--opt=`) when it holds a special character. */
export function quoteArg(a: string): string {
  checkArg(a);
  const special = /[\s'*?[\]{}()&;|<>~]/;
  const m = /^(-{0,2}[A-Za-z0-9_-]+=)(.*)$/.exec(a);
  if (m && special.test(m[2]!)) return `${m[1]}"${m[2]}"`;
  return special.test(a) ? `"${a}"` : a;
}

/** The MASTER_SITES group (`<file>:<group>`) of a component or patch set. */
export const groupOf = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');
