// nginx binaries for the smoke tests.
//
// TODO(integrator): switch to the binaries of the project's e2e build:
//   smokeNginx()      → builtNginx('ktls')       (test/helpers/builtNginx.ts)
//   userspaceNginx()  → builtNginx('userspace')  and make the userspace scenario mandatory
// Until then: $NGINX_FORGE_TEST_NGINX, else the hand-built /tmp/handbuild/inst/sbin/nginx
// (nginx 1.26.3, OpenSSL 3.5.7 enable-ktls, --with-debug). A missing binary FAILS the tests.
import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';

export const HANDBUILT_NGINX = '/tmp/handbuild/inst/sbin/nginx';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The kTLS-capable nginx (--with-debug). Throws (→ the test fails) when it is not there. */
export function smokeNginx(): string {
  const p = process.env.NGINX_FORGE_TEST_NGINX || HANDBUILT_NGINX;
  if (!executable(p)) {
    throw new Error(
      `smoke tests need a kTLS-capable nginx built --with-debug: ${p} is missing or not executable ` +
        '(set NGINX_FORGE_TEST_NGINX, or build one; see test/helpers/smokeNginx.ts)',
    );
  }
  return p;
}

/** Optional: an nginx whose OpenSSL has no kTLS ($NGINX_FORGE_TEST_NGINX_USERSPACE). */
export function userspaceNginx(): string | undefined {
  const p = process.env.NGINX_FORGE_TEST_NGINX_USERSPACE;
  if (!p) return undefined;
  if (!executable(p)) throw new Error(`NGINX_FORGE_TEST_NGINX_USERSPACE=${p} is not an executable`);
  return p;
}

export function smokeTmp(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `nginx-forge-test-${label}-`));
}
