// What the commands share: JSON output and the one interrupt path. The plan from the plan flags
// is ../flags/plan.ts (below the commands: bench takes it too).
import { setMaxListeners } from 'node:events';
import { ExitCode, ForgeError } from '../errors.ts';
import { terminalSafeJson } from '../terminal.ts';
import { releaseAllLocksSync } from '../lock.ts';

export function printJson(v: unknown): void {
  process.stdout.write(`${terminalSafeJson(JSON.stringify(v, null, 2))}\n`);
}

/** How long cleanup may take after Ctrl-C / SIGTERM before the process exits anyway. */
export const INTERRUPT_GRACE_MS = 20_000;

function interruptedError(what: string, sig: string, cause?: unknown): ForgeError {
  return new ForgeError(`${what} interrupted (${sig})`, {
    exitCode: ExitCode.interrupted,
    cause,
    hint: 'finished stages and verified downloads are kept (partial downloads are resumed); run the same command again to continue',
  });
}

/**
 * THE interrupt path of every long command (build, fetch, package, smoke, bench): Ctrl-C (SIGINT)
 * and SIGTERM abort the signal passed to `fn`; everything below listens to it, stops its child
 * processes, removes its temp files and releases its locks while unwinding. The command then ends
 * with one message and exit 130. A second signal, or cleanup taking longer than
 * INTERRUPT_GRACE_MS, exits 130 at once (locks still held are removed by src/lock.ts's exit hook).
 * listr2 must not install its own SIGINT handler (it calls process.exit(127)): every Listr is
 * constructed with `registerSignalListeners: false`.
 */
export async function interruptible<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  // every child process and download of a build listens on it
  setMaxListeners(0, controller.signal);
  let interrupted: NodeJS.Signals | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) {
      process.stderr.write(`nginx-forge: ${sig} again: exiting now\n`);
      releaseAllLocksSync();
      process.exit(ExitCode.interrupted);
    }
    interrupted = sig;
    process.stderr.write(`nginx-forge: ${sig === 'SIGINT' ? 'Ctrl-C' : sig}: stopping ${what}, cleaning up...\n`);
    controller.abort(interruptedError(what, sig));
    watchdog = setTimeout(() => {
      process.stderr.write(`nginx-forge: cleanup after ${sig} took more than ${INTERRUPT_GRACE_MS / 1000} s; exiting\n`);
      releaseAllLocksSync();
      process.exit(ExitCode.interrupted);
    }, INTERRUPT_GRACE_MS);
    watchdog.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await fn(controller.signal);
    if (interrupted) throw interruptedError(what, interrupted);
    return r;
  } catch (e) {
    if (interrupted) throw interruptedError(what, interrupted, e);
    throw e;
  } finally {
    if (watchdog) clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
