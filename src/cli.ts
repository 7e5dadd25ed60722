// Command table. Each command lives in commands/<name>.ts, imported only when it runs.
// The one error handler below turns typed errors into messages and exit codes.
import { Command, CommanderError, Option } from 'commander';
import { addCacheOptions as cacheOptions, addFetchOptions as fetchOptions, addPlanOptions, addProvenanceOption as provenanceOption, addTestOptions, DEFAULT_PROFILE } from './commands/options.ts';
import { checkPaths, parsePrefix, parseSet, MAX_BUILD_JOBS, MAX_FETCH_JOBS, parseArchive, parseByteSize, parseCiphers, parseDuration, parseTestGlob, positiveInt, positiveSeconds } from './commands/validate.ts';
import { ExitCode, exitCodesHelp, isForgeError, RecipeError } from './errors.ts';
import { asIoError } from './ioerror.ts';
import { terminalSafe } from './terminal.ts';

type Runner = (...args: any[]) => Promise<number>;

/** Commands are .ts under tsx and .js in the compiled CLI (lib/). */
const EXT = import.meta.url.endsWith('.ts') ? 'ts' : 'js';

/** Lazily import commands/<name>.ts and call its run(). */
function lazy(name: string, fn: string = 'run'): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const mod = (await import(`./commands/${name}.${EXT}`)) as Record<string, Runner>;
    // commander passes (...positional, opts, command); drop the command object
    const code = await mod[fn]!(...args.slice(0, -1));
    if (code !== 0) process.exitCode = code;
  };
}

export function program(): Command {
  const prog = new Command('nginx-forge')
    .description('Build production nginx from pinned, verified sources, and prove kernel TLS works')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `\n${exitCodesHelp()}`)
    .exitOverride()
    // paths the command will read or write are checked before it starts (exit 2, the path named)
    .hook('preAction', (_prog, action) => {
      const parent = action.parent;
      checkPaths(parent && parent.parent ? parent.name() : action.name(), action.opts());
    });

  addTestOptions(addPlanOptions(prog.command('plan').description('print the resolved build plan (no network, no writes)')))
    .option('--json', 'print one JSON object')
    .option('--explain-key <stage>', "show what went into one stage's cache key (inputs, code hashes, dependency keys)")
    .option('--graph', 'draw the stage graph (Mermaid flowchart)')
    .action(lazy('plan'));

  fetchOptions(addPlanOptions(prog.command('fetch').description('download and verify every source of a profile into the distfiles store')))
    .option('-j, --jobs <n>', `parallel downloads (1-${MAX_FETCH_JOBS})`, positiveInt(MAX_FETCH_JOBS), 4)
    .action(lazy('fetch'));

  provenanceOption(cacheOptions(addTestOptions(fetchOptions(addPlanOptions(prog.command('build').description('fetch, patch, configure, compile, verify, smoke-test and package nginx; with --test also run nginx\'s test suite'))))))
    .option('-j, --jobs <n>', `parallel compile jobs, 1-${MAX_BUILD_JOBS} (default: number of CPUs)`, positiveInt(MAX_BUILD_JOBS))
    .option('-o, --out <dir>', 'artifact directory', 'dist')
    .option('--force', 'ignore the stage cache and rebuild everything')
    .option('--no-smoke', 'skip the kTLS smoke test stage')
    .addOption(new Option('--smoke-vm <mode>', 'smoke test VM mode').choices(['auto', 'always', 'never']).default('auto'))
    .option('--until <stage>', 'build only what this stage needs, e.g. library:openssl or verify (stage ids: `plan`)')
    .option('--ccache', 'compile through ccache when installed (CCACHE_* variables are passed through)')
    .option('--json', 'print one JSON summary on stdout')
    .action(lazy('build'));

  addPlanOptions(prog.command('verify').description('check an nginx binary against a profile\'s plan (nginx -V, symbols, jemalloc, nginx -t)'))
    .argument('<nginx>', 'path to the nginx binary')
    .option('--json', 'print one JSON object')
    .action(lazy('verify'));

  prog
    .command('smoke')
    .description('prove kernel TLS + SSL_sendfile with a real TLS download (in a QEMU VM when the host kernel lacks kTLS)')
    .argument('<nginx>', 'path to the nginx binary')
    .addOption(new Option('--vm <mode>', 'run inside a VM').choices(['auto', 'always', 'never']).default('auto'))
    .option('--kernel <file>', 'kernel image for the VM (default: the pinned Debian kernel)')
    .option('--modules <dir>', 'kernel modules directory (lib/modules/<version>) for --kernel')
    .option('--ciphers <list>', 'comma-separated cipher suites to test (default: the full matrix)', parseCiphers)
    .option('--size <bytes>', 'size of the served file', String(4 * 1024 * 1024))
    .option('--json', 'print one JSON object')
    .option('--distdir <dir>', 'distfiles store for the pinned kernel package')
    .option('-p, --profile <name>', "the profile the binary was built with: also prove its plan's modules and components, and judge it as the build's smoke stage does")
    .option('--set <component=version...>', 'with --profile: the catalog versions the binary was built with (repeatable, once per component)', parseSet)
    .option('--recipes <dir>', 'use this recipe directory instead of the built-in one')
    .option('--prefix <path>', "with --profile: the install prefix it was built with (overrides the profile's)", parsePrefix)
    .action(lazy('smoke'));

  fetchOptions(prog.command('test').description(`run nginx's own test suite (nginx-tests, pinned) against a binary; exit ${ExitCode.test} when a file fails`))
    .argument('<nginx>', 'path to the nginx binary')
    .option('-p, --profile <name>', 'the profile the binary was built with: a file skipped for a module it builds fails the run')
    .option('--files <glob...>', "test files to run, shell-style globs on file names (e.g. 'ssl*.t' 'h2*.t'; default: all)", parseTestGlob)
    .option('-j, --jobs <n>', 'test files run in parallel (prove -j)', '2')
    .option('--unsafe', 'also run the files nginx-tests calls unsafe (TEST_NGINX_UNSAFE=1)')
    .option('--logs <dir>', 'keep prove.log, tap.tar.gz, failing error logs and report.json here (default: <state>/logs/test-<time>-<pid>)')
    .option('--recipes <dir>', 'use this recipe directory instead of the built-in one')
    .option('--json', 'print the report as one JSON object on stdout')
    .action(lazy('test'));

  prog
    .command('treehash')
    .description("print the tree hash (a recipe's treeSha256) of a directory, or of an archive's unpacked tree")
    .argument('<dir-or-archive>', 'a source tree, or an archive (with --topdir)')
    .option('--topdir <name>', "the archive's single top-level directory")
    .option('--list', 'print the hashed lines first')
    .action(lazy('treehash'));

  prog
    .command('doctor')
    .description('check build and smoke-test prerequisites; print install commands for what is missing')
    .option('--json', 'print one JSON object')
    .action(lazy('doctor'));

  provenanceOption(cacheOptions(fetchOptions(addPlanOptions(prog.command('package').description('build (cached) and package nginx as a .deb, an .rpm or a FreeBSD port skeleton')))))
    .addOption(new Option('--format <format>', 'package format').choices(['deb', 'rpm', 'freebsd-port']).makeOptionMandatory())
    .option('-o, --out <dir>', 'output directory', 'dist')
    .option('--json', 'print one JSON object')
    .action(lazy('package'));

  const ci = prog.command('ci').description('helpers for CI pipelines');
  ci.command('matrix')
    .description('print the CI build matrix (profiles x distros x targets) as JSON, or as the GitLab child pipeline')
    .addOption(new Option('--format <format>', 'json (GitHub Actions fromJSON, any CI) or gitlab (the child pipeline ci/gitlab-ci.yml triggers)').choices(['json', 'gitlab']).default('json'))
    .option('--recipes <dir>', 'use this recipe directory instead of the built-in one')
    .option('--sanitizers', "print the sanitizer job's matrix instead (profiles with \"sanitizers\": true), as JSON")
    .action(lazy('ci', 'matrix'));

  prog
    .command('verify-provenance')
    .description(`check a .intoto.jsonl written by build or package: the DSSE signature by a trusted key, the SLSA provenance statement, every artifact's sha256; exit ${ExitCode.verify} when anything does not check out`)
    .argument('<file>', 'the provenance file, <out>/<name>.intoto.jsonl')
    .requiredOption('--key <pubkey...>', 'public key (PEM, the .pub of `cache keygen`) the provenance must be signed by (repeatable: any one of them)')
    .option('--artifacts <dir>', 'where the artifacts it names are (default: the directory of <file>)')
    .option('--json', 'print one JSON object')
    .action(lazy('provenance', 'verify'));

  const cache = prog.command('cache').description('the stage cache shared through an OCI registry: signing keys');
  cache
    .command('keygen')
    .description('make the ECDSA P-256 key pair that signs pushed cache entries: PREFIX.key (private, mode 0600) and PREFIX.pub (public: what checks the entries, also with cosign verify --key)')
    .requiredOption('--out <prefix>', 'file prefix: writes <prefix>.key and <prefix>.pub, never over an existing file')
    .action(lazy('cache', 'keygen'));

  const bench = prog.command('bench').description('benchmarks: build orchestration speed, and a built nginx against another');
  fetchOptions(addPlanOptions(bench.command('build').description('cold build, warm no-op rebuild, fresh runner from a warm registry, nginx-only rebuild, naive single-make baseline')))
    .option('--json', 'print one JSON object')
    .option('--results <dir>', 'write results JSON here', 'docs/bench')
    .action(lazy('bench', 'build'));
  bench
    .command('serve')
    .description('serve benchmarks on loopback (wrk, curl): large TLS downloads, gzip, handshakes, small files')
    .argument('<nginx>', 'nginx binary under test')
    .option('--vs <nginx>', 'compare against this nginx (e.g. /usr/sbin/nginx from the distro)')
    .option('--quick', 'tiny sizes and short runs (checks that it works; numbers meaningless)')
    .option('--json', 'print one JSON object')
    .option('--results <dir>', 'write results JSON and chart here', 'docs/bench')
    .action(lazy('bench', 'serve'));
  bench
    .command('cli')
    .description('start-up cost of the compiled CLI against tsx: --version and an all-cached build, interleaved runs')
    .option('--runs <n>', 'runs of each command on each side', '10')
    .option('-p, --profile <name>', 'profile of the all-cached build (built first if needed)', DEFAULT_PROFILE)
    .option('--json', 'print one JSON object')
    .option('--results <dir>', 'write results JSON and markdown here', 'docs/bench')
    .action(lazy('bench', 'cli'));

  prog
    .command('audit')
    .description(`newest upstream releases and distro revisions of a profile's pins; exit ${ExitCode.securityFixPending} when a reachable security fix is not applied`)
    .addOption(new Option('-p, --profile <name>', 'build profile (recipes/profiles/<name>.json)').default(DEFAULT_PROFILE))
    .option('--recipes <dir>', 'use this recipe directory instead of the built-in one')
    .option('--distdir <dir>', 'distfiles store for the newer revisions\' debian tarballs (default: <state>/distfiles)')
    .option('--archive <url...>', 'Debian-style archive base(s) (http:// or https://) to read dists/<suite>/ and pool/ from, instead of the apt sources\' ones', parseArchive)
    .option('--timeout <seconds>', 'per-request timeout, above 0 and at most 3600', positiveSeconds(3600), 20)
    .option('--read-patches <archive>', 'instead: read a debian.tar.* file\'s patch series (sha256, CVE ids from headers and changelog), compare it with the pinned patch set and print a draft for the recipe')
    .option('--json', 'print one JSON object')
    .action(lazy('audit'));

  prog
    .command('gc')
    .description('free space in the state directory: unused stage entries, dead work trees, old VM kernels, unpinned distfiles')
    .option('--max-age <duration>', 'remove what was not used for this long: 30d, 12h, 0 (default 30d)', parseDuration)
    .option('--max-size <size>', 'then remove least recently used stage entries until stages/ fits: 2G, 500M', parseByteSize)
    .option('--dry-run', 'only say what would be removed')
    .option('--recipes <dir...>', 'also keep the files these recipe directories pin (the built-in ones are always kept)')
    .option('--distdir <dir>', 'distfiles store (default: <state>/distfiles)')
    .option('--json', 'print one JSON object')
    .action(lazy('gc'));

  prog
    .command('schema')
    .description('print or write the JSON Schema of recipe files (for editors)')
    .option('--out <dir>', 'write component.schema.json and profile.schema.json here')
    .action(lazy('schema'));

  return prog;
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage; // commander already printed the message
  }
  if (e instanceof RecipeError) {
    // one problem per line, `<file>: <field.path>: <problem>`, nothing else on those lines
    process.stderr.write(`${terminalSafe(e.message, { lines: true })}\n`);
    if (e.hint) process.stderr.write(`nginx-forge: ${e.problems.length} recipe problem(s); ${terminalSafe(e.hint, { lines: true })}\n`);
    return e.exitCode;
  }
  // a full disk, a read-only mount, a permission: the user's to fix, named, not an internal error
  const io = asIoError(e);
  if (io) e = io;
  // messages may quote what an archive or a server holds: no control character reaches the terminal
  if (isForgeError(e)) {
    process.stderr.write(`nginx-forge: error: ${terminalSafe(e.message, { lines: true })}\n`);
    if (e.hint) process.stderr.write(`  what to do: ${terminalSafe(e.hint, { lines: true })}\n`);
    return e.exitCode;
  }
  process.stderr.write(`nginx-forge: internal error: ${terminalSafe((e as Error)?.stack ?? String(e), { lines: true })}\n`);
  return ExitCode.failure;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}
