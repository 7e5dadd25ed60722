// nginx-forge smoke <nginx>: prove kernel TLS + SSL_sendfile with a real TLS download.
// Exit 0 only on PASS (with every required proof); ExitCode.smoke otherwise.
import { ExitCode, UsageError } from '../errors.ts';
import { interruptible } from './common.ts';
import { plainOutput } from '../paths.ts';
import { formatHuman, toJson } from '../smoke/report.ts';
import type { VmMode } from '../smoke/types.ts';

export interface SmokeFlags {
  vm?: VmMode;
  kernel?: string;
  modules?: string;
  ciphers?: string;
  size?: string;
  json?: boolean;
  distdir?: string;
}

/** "4194304", "4M", "4MiB", "512k", "1G" → bytes. */
export function parseSize(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^\s*(\d+)\s*([kmg]?)(i?b)?\s*$/i.exec(s);
  if (!m) throw new UsageError(`--size ${s}: not a size (bytes, or with K/M/G, e.g. 4M)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

export async function run(nginx: string, flags: SmokeFlags): Promise<number> {
  const { runSmoke } = await import('../smoke/index.ts');
  const plain = plainOutput();
  const size = parseSize(flags.size);
  return interruptible('smoke test', async (signal) => {
    const result = await runSmoke(nginx, {
      vm: flags.vm ?? 'auto',
      kernel: flags.kernel,
      modules: flags.modules,
      ciphers: flags.ciphers ? [flags.ciphers] : undefined,
      size,
      distdir: flags.distdir,
      signal,
      onLog: (l) => process.stderr.write(`${plain ? `[${new Date().toISOString().slice(11, 19)}] ` : ''}smoke: ${l}\n`),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(toJson(result), null, 2)}\n`);
    else process.stdout.write(formatHuman(result));
    return result.passed ? ExitCode.ok : ExitCode.smoke;
  });
}
