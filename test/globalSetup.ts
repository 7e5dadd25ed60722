// Once per test run: start the shared real build from an empty stage cache (CI does this on a
// fresh clone anyway). Downloads in the distfiles store are kept: they are verified by hash.
import { rmSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { TEST_HOME } from './helpers/builtNginx.ts';

export default function setup(): void {
  if (process.env.NGINX_FORGE_TEST_KEEP === '1' || !existsSync(TEST_HOME)) return;
  for (const f of readdirSync(TEST_HOME)) {
    if (f !== 'distfiles') rmSync(path.join(TEST_HOME, f), { recursive: true, force: true });
  }
}
