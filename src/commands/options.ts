// The options every command that works on a plan shares. Light on purpose: the CLI's command
// table imports it at start, so it loads commander and the flag validators and nothing else.
import { Command, Option } from 'commander';
import { parseMirror, parsePrefix, parseSet } from './validate.ts';

/** The profile a command works on without --profile (CI also runs nginx's test suite for it). */
export const DEFAULT_PROFILE = 'ktls';

export function addPlanOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-p, --profile <name>', 'build profile (recipes/profiles/<name>.json)').default(DEFAULT_PROFILE))
    .option('--set <component=version...>', 'use another catalog version of a component (repeatable, once per component)', parseSet)
    .option('--recipes <dir>', 'use this recipe directory instead of the built-in one')
    .option('--patches <dir>', 'use this patches directory (default: patches/ next to the recipes)')
    .option('--prefix <path>', "nginx install prefix (overrides the profile's): absolute, normalised, letters, digits and / . _ + ~ -", parsePrefix)
    .option('--target <triple>', "the machine to build for, a GNU triple (overrides the profile's \"target\"; default: this host's), e.g. aarch64-linux-gnu: a cross build (see doctor)");
}

/** The fetch flags of fetch, build, package, test and bench build; src/flags/fetch.ts maps them (fetchOptionsOf). */
export function addFetchOptions(cmd: Command): Command {
  return cmd
    .option('--distdir <dir>', 'distfiles store (content-addressed; default: <state>/distfiles)')
    .option('--mirror <url...>', 'try this mirror before upstream (repeatable; files looked up by name): http(s)://, file:// or an absolute path', parseMirror)
    .option('--offline', 'open no network connection; use only the distfiles store')
    .option('--no-distro', 'do not look for sources in the host\'s distro archive (apt sources)');
}

/** The remote stage-cache flags of build and package; src/flags/cache.ts maps them (remoteSettingsOf). */
export function addCacheOptions(cmd: Command): Command {
  return cmd
    .option('--cache-from <oci://host/repo...>', 'read stage-cache entries from this OCI registry before building a stage (repeatable, tried in order; needs --cache-trust)')
    .option('--cache-to <oci://host/repo>', 'push the entries this build made or used to this OCI registry, signed with --cache-sign-key')
    .option('--cache-trust <pubkey...>', 'accept a registry entry only when signed by this public key (PEM; repeatable)')
    .option('--cache-sign-key <key>', 'private key (PEM, from `cache keygen`) that signs every pushed entry')
    .option('--cache-kinds <list>', 'stage kinds taken from a registry, comma-separated (default: every cached kind; a release: library)')
    .option('--cache-insecure', 'allow plain HTTP to a registry that is not on loopback');
}

/** The provenance flag of build and package; src/flags/provenance.ts maps it (provenanceKeyOf). */
export function addProvenanceOption(cmd: Command): Command {
  return cmd.option('--provenance-key <key>', 'private key (PEM, from `cache keygen`) that signs <out>/<name>.intoto.jsonl, the SLSA provenance of what is written to --out (default: --cache-sign-key)');
}

export function addTestOptions(cmd: Command): Command {
  return cmd
    .option('--test', "add the stage test: nginx's own test suite (nginx-tests, pinned) against the built binary")
    .option('--test-files <glob...>', "with --test (implies it): only these test files, shell-style globs on file names, e.g. 'ssl*.t' 'h2*.t'");
}
