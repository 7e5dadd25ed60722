// The one error of the remote stage cache. A remote cache is an optimisation: the caller turns
// this into one warning line, `registry <host/repo>: <stage>: <reason>`, and builds the stage
// itself; `reason` is short and fixed ('unreachable', 'timeout', 'http 500', 'unauthorized',
// 'denied', 'digest mismatch', 'not found', 'too large', 'bad response', 'connection lost'),
// the message adds what happened in detail.
import { ExitCode, ForgeError } from '../errors.ts';

export class RemoteCacheError extends ForgeError {
  constructor(
    /** host/repo */
    readonly target: string,
    readonly reason: string,
    detail?: string,
    opts: { hint?: string; cause?: unknown } = {},
  ) {
    super(`registry ${target}: ${reason}${detail ? ` (${detail})` : ''}`, { exitCode: ExitCode.fetch, ...opts });
  }

  /** The warning line for a stage whose remote entry could not be used. */
  line(stage: string): string {
    return `registry ${this.target}: ${stage}: ${this.reason}`;
  }

  get notFound(): boolean {
    return this.reason === 'not found';
  }
}
