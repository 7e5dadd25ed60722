// Facts about the build host that change what a compiler produces; they feed the stage keys.
import { execaSync } from 'execa';
import os from 'node:os';

function firstLine(cmd: string, args: string[]): string {
  try {
    const r = execaSync(cmd, args, { reject: false, timeout: 10_000 });
    return r.exitCode === 0 ? String(r.stdout).split('\n')[0]!.trim() : 'missing';
  } catch {
    return 'missing';
  }
}

export function toolchainFacts(): Record<string, string> {
  return {
    cc: firstLine(process.env.CC ?? 'cc', ['--version']),
    make: firstLine('make', ['--version']),
    cmake: firstLine('cmake', ['--version']),
    arch: os.arch(),
    platform: os.platform(),
  };
}
