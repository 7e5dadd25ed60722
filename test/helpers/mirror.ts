// Where the tests get what the distro archive does not carry (the nginx-tests snapshot): one
// decision for every test file, made here and nowhere else.
//   1. NGINX_FORGE_TEST_MIRROR, when set: a directory or an http(s)/file URL (passed to --mirror)
//   2. else ../shared/distfiles beside the checkout, when it exists (this project's CI puts the
//      snapshot there: its machines have no internet)
//   3. else none: the recipes' upstream URLs, as a user's clone with network fetches them (the
//      suite is pinned by its unpacked tree, so the forge's own archive verifies too)
// Tests always fetch through the tool (`--mirror <this>` or nothing); none copies a file out of
// the mirror, so a clone without ../shared fails only where the network is missing.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/recipes/load.ts';

/** The CI folder of distfiles beside the checkout (may not exist). */
export const CI_DISTFILES = path.resolve(PROJECT_ROOT, '..', 'shared', 'distfiles');

/** The mirror the tests use, or undefined: the recipes' upstream URLs. */
export function testMirror(env: NodeJS.ProcessEnv = process.env, ciDistfiles = CI_DISTFILES): string | undefined {
  const set = env.NGINX_FORGE_TEST_MIRROR;
  if (set) return /^[a-z][a-z0-9+.-]*:/i.test(set) ? set : path.resolve(set);
  return existsSync(ciDistfiles) ? ciDistfiles : undefined;
}

export const TEST_MIRROR = testMirror();

/** `--mirror <dir|url>` for a CLI call, or nothing (upstream). */
export const mirrorFlags = (): string[] => (TEST_MIRROR ? ['--mirror', TEST_MIRROR] : []);

/** For messages: where the tests' distfiles come from. */
export const mirrorDescription = (): string => TEST_MIRROR ?? "the recipes' upstream URLs (no NGINX_FORGE_TEST_MIRROR, no ../shared/distfiles: needs the network)";
