// nginx binaries for the smoke tests: the ones the project's own build produces
// (test/helpers/builtNginx.ts: the first caller in a test run does the real build).
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { builtNginx } from './builtNginx.ts';

/** The kTLS-capable nginx with debug logging: the ktls profile's nginx-debug twin (its log is one of the proofs). */
export function smokeNginx(): Promise<string> {
  return builtNginx('ktls', 'nginx-debug');
}

/** The ktls profile's production nginx: no --with-debug, proved by the kernel counters and body hashes. */
export function productionNginx(): Promise<string> {
  return builtNginx('ktls');
}

/** The userspace profile's nginx: OpenSSL without kTLS. */
export function userspaceNginx(): Promise<string> {
  return builtNginx('userspace');
}

export function smokeTmp(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `nginx-forge-test-${label}-`));
}
