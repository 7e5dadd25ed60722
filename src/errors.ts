// Typed errors. Every module throws one of these; the single handler in cli.ts maps them
// to a message and an exit code. A message always says what, where, expected vs actual
// when that applies, and what to do next.
import { terminalSafe } from './terminal.ts';

export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2, // bad input: recipe/profile/flags
  fetch: 3,
  build: 4,
  verify: 5,
  smoke: 6,
  missingTool: 7,
  securityFixPending: 8, // audit: a reachable security fix is not applied by the profile
  test: 9, // nginx's test suite ran and a file failed (or a module the profile builds was missing)
  io: 10, // a file could not be written or read: disk full, quota, read-only file system, permissions, I/O error
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code means, for `--help` (README's list says the same). */
export const EXIT_MEANING: Record<keyof typeof ExitCode, string> = {
  ok: 'ok',
  failure: 'internal error',
  usage: 'bad input (recipes, profile, flags)',
  fetch: 'fetch',
  build: 'build',
  verify: 'verify',
  smoke: 'smoke',
  missingTool: 'missing tool',
  securityFixPending: 'audit found a reachable security fix that is not applied',
  test: "nginx's test suite failed",
  io: 'a file could not be written or read (disk full, quota, read-only, permissions, I/O error)',
  interrupted: 'interrupted',
};

/** The exit codes as help text: one line each, generated from ExitCode. */
export const exitCodesHelp = (): string =>
  ['Exit codes:', ...(Object.keys(ExitCode) as (keyof typeof ExitCode)[]).map((k) => `  ${String(ExitCode[k]).padStart(3)}  ${EXIT_MEANING[k]}`)].join('\n');

export class ForgeError extends Error {
  readonly exitCode: ExitCodeValue;
  /** What the user should do next, printed after the message. */
  readonly hint?: string;
  constructor(message: string, opts: { exitCode?: ExitCodeValue; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? ExitCode.failure;
    this.hint = opts.hint;
  }
}

/** One line per problem: `<file>: <field.path>: <problem>`. */
export interface RecipeProblem {
  file: string;
  path: string;
  message: string;
}

export class RecipeError extends ForgeError {
  readonly problems: RecipeProblem[];
  constructor(problems: RecipeProblem[], hint?: string) {
    super(problems.map(formatProblem).join('\n'), { exitCode: ExitCode.usage, hint });
    this.problems = problems;
  }
}

export function formatProblem(p: RecipeProblem): string {
  return `${p.file}: ${p.path || '(root)'}: ${p.message}`;
}

export class UsageError extends ForgeError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

export class FetchError extends ForgeError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.fetch, ...opts });
  }
}

/** Sha256 of downloaded or stored bytes differs from the pinned one. */
export class HashMismatchError extends FetchError {
  constructor(
    readonly source: string,
    readonly expected: string,
    readonly actual: string,
    readonly file?: string,
  ) {
    super(`sha256 mismatch for ${file ?? source}\n  from:     ${source}\n  expected: ${expected}\n  actual:   ${actual}`, {
      hint: 'the bytes are not the pinned ones; nothing was stored. Check the mirror, or the recipe if you changed the version on purpose.',
    });
  }
}

export class ExtractError extends ForgeError {
  constructor(
    readonly archive: string,
    readonly member: string,
    reason: string,
    /** A write error (disk full, name too long) is not the archive's fault: say so. */
    opts: { hint?: string; verb?: string } = {},
  ) {
    // member names and link targets come from the archive: no control character reaches the terminal
    super(`${opts.verb ?? 'refusing to extract'} ${archive}: member "${terminalSafe(member)}": ${terminalSafe(reason)}`, {
      exitCode: ExitCode.build,
      hint: opts.hint ?? 'the archive is not what the recipe pins; nothing was written outside the target directory.',
    });
  }
}

/** A stage failed: names component, stage, and where the full log is. */
export class StageError extends ForgeError {
  constructor(
    readonly component: string,
    readonly stage: string,
    detail: string,
    opts: { hint?: string; cause?: unknown; log?: string } = {},
  ) {
    super(`${component}: ${stage} failed: ${detail}${opts.log ? `\n  full log: ${opts.log}` : ''}`, {
      exitCode: ExitCode.build,
      hint: opts.hint,
      cause: opts.cause,
    });
  }
}

/**
 * A command run by exec.ts's run() failed: the StageError, plus how it ended, so a caller can tell
 * a command that ran and said no (patch: exit 1, a hunk failed) from one that was stopped.
 */
export class CommandError extends StageError {
  constructor(
    component: string,
    stage: string,
    detail: string,
    readonly ended: { exitCode?: number; signal?: string; cancelled: boolean; timedOut: boolean },
    opts: { hint?: string; log?: string } = {},
  ) {
    super(component, stage, detail, opts);
  }
}

/**
 * The file system refused a read or write: disk full (ENOSPC), quota (EDQUOT), read-only (EROFS),
 * permissions (EACCES, EPERM), a failing device (EIO), a file too large (EFBIG), a file where a
 * directory should be (ENOTDIR). Not the input's
 * fault and not the network's: never retried. Built by src/ioerror.ts's ioError(), which names the
 * path, the file system and its free space, and the setting that moves the writes elsewhere.
 */
export class IoError extends ForgeError {
  constructor(
    readonly code: string,
    readonly path: string | undefined,
    message: string,
    hint: string,
    cause?: unknown,
  ) {
    super(message, { exitCode: ExitCode.io, hint, cause });
  }
}

export class MissingToolError extends ForgeError {
  constructor(tool: string, neededFor: string, hint?: string) {
    super(`required tool "${tool}" not found (needed for ${neededFor})`, {
      exitCode: ExitCode.missingTool,
      hint: hint ?? 'run `nginx-forge doctor` for the install command for your system',
    });
  }
}

export class VerifyError extends ForgeError {
  constructor(
    readonly mismatches: { check: string; expected: string; actual: string }[],
    binary: string,
    opts: { listed?: boolean; foreign?: boolean; profile?: string } = {},
  ) {
    const profile = opts.profile ? ` --profile ${opts.profile}` : '';
    super(
      opts.listed
        ? `verification of ${binary} failed: ${mismatches.length} check${mismatches.length === 1 ? '' : 's'} (listed above)`
        : `verification of ${binary} failed:\n` + mismatches.map((m) => `  ${m.check}: expected ${m.expected}, got ${m.actual}`).join('\n'),
      {
        exitCode: ExitCode.verify,
        hint: opts.foreign
          ? `this binary was not built by nginx-forge (its nginx -V has none of its build paths): the checks show how it differs from the profile; \`nginx-forge build${profile}\` builds one that matches`
          : `the binary does not match the plan: check that --profile (and --set, --prefix) are the ones it was built with; if they are, rebuild it with \`nginx-forge build${profile} --force\``,
      },
    );
  }
}

export function isForgeError(e: unknown): e is ForgeError {
  return e instanceof ForgeError;
}
