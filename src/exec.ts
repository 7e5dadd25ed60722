// The one way nginx-forge runs external commands. Output goes to a log file (appended), never
// lost; on failure the error names component, stage, the command, what the exit status means,
// the last error-looking lines, and the log path.
import { execa, type Options } from 'execa';
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CommandError, MissingToolError } from './errors.ts';
import { findIoError, ioCodeInOutput, ioError, writing } from './ioerror.ts';

export interface RunContext {
  component: string;
  stage: string;
  /** Log file that receives the command line and all of its output. */
  log: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Abort all running commands of a build (Ctrl-C, a sibling failure). */
  signal?: AbortSignal;
  timeoutMs?: number;
  /** join the build's GNU make jobserver: MAKEFLAGS names the FIFO inherited as fd 3 */
  jobserver?: { fd: number; makeflags: string };
}

/** Turn an exit status into words (conventions of sh, make, and signals). */
export function exitMeaning(exitCode: number | undefined, signal: string | undefined): string {
  if (signal) {
    const why: Record<string, string> = {
      SIGKILL: 'killed (out of memory, a timeout, or by hand)',
      SIGTERM: 'terminated',
      SIGINT: 'interrupted (Ctrl-C)',
      SIGSEGV: 'crashed (segmentation fault)',
      SIGABRT: 'aborted',
    };
    return `${signal}: ${why[signal] ?? 'killed by a signal'}`;
  }
  switch (exitCode) {
    case 1: return 'exit 1: general failure';
    case 2: return 'exit 2: failure (for make: a recipe failed; for patch: trouble applying)';
    case 126: return 'exit 126: command found but not executable';
    case 127: return 'exit 127: command not found';
    default:
      if (exitCode !== undefined && exitCode > 128) return `exit ${exitCode}: killed by signal ${exitCode - 128}`;
      return `exit ${exitCode}`;
  }
}

const ERRORISH = /(error|fatal|undefined reference|cannot|can't|not found|no such|failed|hunk|reject|\*\*\*)/i;

/** The last error-looking lines of a text (falls back to the last lines). */
export function errorLines(text: string, max = 12): string[] {
  const lines = text.split('\n').map((l) => l.trimEnd()).filter(Boolean);
  const hits = lines.filter((l) => ERRORISH.test(l));
  return (hits.length ? hits : lines).slice(-max);
}

export function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Process groups of running commands that can be stopped (run() with a signal): killed if nginx-forge exits first. */
const groups = new Set<number>();
let exitHook = false;

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* the group is gone */
  }
}

/**
 * Run a command; its output is appended to ctx.log. With ctx.signal the command runs in a process
 * group of its own and an abort (Ctrl-C, a sibling failure) or the timeout stops the whole group:
 * the processes a command forks (dpkg-deb's compressor, make's compilers) do not outlive it, and
 * the one interrupt path (commands/common.ts interruptible()) decides what the user reads.
 */
export async function run(ctx: RunContext, cmd: string, args: string[] = [], extra: Options = {}): Promise<string> {
  const line = [cmd, ...args].map(quoteArg).join(' ');
  const start = writing(ctx.log, () => {
    mkdirSync(path.dirname(ctx.log), { recursive: true });
    appendFileSync(ctx.log, `\n$ ${ctx.cwd ? `(cd ${ctx.cwd} && ` : ''}${line}${ctx.cwd ? ')' : ''}\n`);
    return statSync(ctx.log).size;
  });
  const js = ctx.jobserver;
  const out = ['pipe', { file: ctx.log, append: true }];
  const stoppable = Boolean(ctx.signal);
  const sub = execa(cmd, args, {
    cwd: ctx.cwd,
    env: js ? { ...ctx.env, MAKEFLAGS: js.makeflags } : ctx.env,
    extendEnv: true,
    all: true,
    reject: false,
    cancelSignal: ctx.signal,
    timeout: ctx.timeoutMs,
    // without a signal (nothing would stop it) the command stays in our group: a terminal's Ctrl-C reaches it
    detached: stoppable,
    stdio: ['ignore', out, out, ...(js ? [js.fd] : [])],
    ...extra,
  } as Options);
  const pid = stoppable ? sub.pid : undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (pid) killGroup(pid, 'SIGTERM');
  };
  const timer = pid && ctx.timeoutMs ? setTimeout(stop, ctx.timeoutMs) : undefined;
  if (pid) {
    ctx.signal!.addEventListener('abort', stop, { once: true });
    groups.add(pid);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const g of groups) killGroup(g, 'SIGKILL');
      });
    }
  }
  let r: Awaited<typeof sub>;
  try {
    r = await sub;
  } finally {
    if (timer) clearTimeout(timer);
    if (pid) {
      ctx.signal!.removeEventListener('abort', stop);
      groups.delete(pid);
      // what ignored SIGTERM, now that its leader is gone
      if (stopped) killGroup(pid, 'SIGKILL');
    }
  }
  if (r.failed) {
    if ((r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(r.message)) && r.exitCode === undefined) {
      throw new MissingToolError(cmd, `${ctx.component} ${ctx.stage}`);
    }
    // the command's output could not be written to its log (the log's disk is full)
    const logWrite = findIoError((r as { cause?: unknown }).cause);
    if (logWrite && !r.isCanceled) {
      throw ioError(logWrite, { path: ctx.log, detail: `  (the log of ${ctx.component} ${ctx.stage}: $ ${line})` });
    }
    const logged = readFileSync(ctx.log, 'utf8').slice(start);
    const meaning = r.isCanceled || (stopped && ctx.signal?.aborted) ? 'cancelled' : r.timedOut || stopped ? `timed out after ${ctx.timeoutMs} ms` : exitMeaning(r.exitCode, r.signal);
    const lines = errorLines(logged);
    const detail = `command failed (${meaning}):\n  $ ${line}${ctx.cwd ? `\n  in ${ctx.cwd}` : ''}\n  last error lines:\n${lines.map((l) => `    ${l}`).join('\n')}`;
    // the command says the disk is full (dpkg-deb writing to a full --out, make in a full state dir)
    const code = meaning === 'cancelled' ? undefined : ioCodeInOutput(lines);
    if (code) throw ioError({ code }, { action: `${cmd} ran (${ctx.component} ${ctx.stage})`, detail: `  ${detail.replace(/\n/g, '\n  ')}\n  full log: ${ctx.log}` });
    throw new CommandError(ctx.component, ctx.stage, detail, { exitCode: r.exitCode, signal: r.signal, cancelled: meaning === 'cancelled', timedOut: Boolean(r.timedOut) }, { log: ctx.log });
  }
  return String(r.stdout ?? '');
}
