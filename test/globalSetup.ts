// Once per test run: a fresh, empty state dir for the shared real build (a cold build, as CI
// does on a fresh clone), private to this run so that two concurrent runs cannot disturb each
// other. Downloads go to one shared distfiles store: content-addressed and locked.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TEST_ROOT } from './helpers/builtNginx.ts';

export default function setup(): () => void {
  if (process.env.NGINX_FORGE_TEST_KEEP === '1') return () => undefined;
  const runs = path.join(TEST_ROOT, 'runs');
  mkdirSync(runs, { recursive: true });
  const home = mkdtempSync(path.join(runs, 'run-'));
  // read by test/helpers/builtNginx.ts in the test workers
  process.env.NGINX_FORGE_TEST_HOME = home;
  return () => {
    rmSync(home, { recursive: true, force: true });
    rmSync(path.join(TEST_ROOT, 'dist', path.basename(home)), { recursive: true, force: true });
  };
}
