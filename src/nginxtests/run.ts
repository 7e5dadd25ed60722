// Run nginx's own test suite (nginx-tests, pinned in recipes/testsuites/nginx-tests.json) against
// any nginx binary. `runNginxTests(binary, opts)` is the whole job and has no UI: the `test`
// command prints its report, a pipeline stage can call it the same way.
//
// A run directory (mkdtemp under the system temp dir, removed at the end) holds:
//   suite/      the pinned suite, fetched (store → --mirror → upstream), unpacked and verified by
//               its tree hash, for this run only
//   bin/nginx   a copy of the binary (the caller's path may not be reachable by the test user)
//   tmp/<f>/    TMPDIR of test file <f>: Test::Nginx makes its nginx-test-XXXX dir (config,
//               error.log) there, kept with TEST_NGINX_LEAVE=1 so every file's logs can be read
//   exec.sh     prove's --exec wrapper that gives each file its own TMPDIR
// Started as root, the suite runs as `nobody` (setpriv: uid/gid of nobody, no supplementary
// groups): nginx workers drop to nobody and could not enter root's 0700 temp dirs (false 403s),
// and tests must not run with root's powers. Nothing is installed: the Perl modules and daemons
// some files want come from the system (ci/setup.sh, `nginx-forge doctor`); a file missing one
// is reported as skipped with that reason.
// Kept in the logs directory (<state>/logs/test-<time>-<pid>/ unless given): prove's output
// (prove.log), the TAP archive (tap.tar.gz, `prove -a`), the error logs of every file that
// failed or logged alert/crit/emerg/sanitizer lines (error-logs/<file>/...), and report.json.
import { chmod, chown, copyFile, cp, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { execa } from 'execa';
import picomatch from 'picomatch';
import * as tar from 'tar';
import YAML from 'yaml';
import { ExitCode, ForgeError, MissingToolError, UsageError } from '../errors.ts';

export { loadTestSuite } from './suite.ts';
import { fetchSourceTree } from '../fetch/source.ts';
import type { FetchOptions } from '../fetch/index.ts';
import { loadTestSuite } from './suite.ts';
import { logsDir as stateLogsDir } from '../paths.ts';
import { markInUse } from '../lock.ts';
import { which } from '../which.ts';
import { parseFileTap, parseProveSummary, scanErrorLog, summarize, type FileResult, type LogLine, type SuiteReport } from './report.ts';

export interface NginxTestsOptions {
  /** globs matched against the test file names (e.g. "ssl*.t"); default every *.t */
  files?: string[];
  /** prove -j (default 2) */
  jobs?: number;
  /** run the files nginx-tests calls unsafe (TEST_NGINX_UNSAFE=1) */
  unsafe?: boolean;
  /** profile name, recorded in the report */
  profile?: string;
  /** modules the profile builds (as nginx-tests names them: http_v2, ssl, ...): a file skipped for one fails the run */
  profileModules?: string[];
  /** extra environment for the suite (e.g. ASAN_OPTIONS for a sanitizer build) */
  env?: Record<string, string>;
  /** where to keep logs (default <state>/logs/test-<time>-<pid>) */
  logsDir?: string;
  /** recipe directory holding testsuites/nginx-tests.json (default: the built-in recipes) */
  recipesDir?: string;
  /** how the suite is fetched (distdir, mirrors, offline, ...) */
  fetch: FetchOptions;
  /** dynamic modules directory (default: the binary's --modules-path when it exists, else its directory) */
  modulesDir?: string;
  /** the user to run as when started as root (default "nobody") */
  user?: string;
  /** hard limit for the whole prove run (default 60 min) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** progress lines (prove's per-file lines, fetch events) */
  onLog?: (line: string) => void;
}

/** uid/gid of a user from /etc/passwd (no lookup tool needed). */
function userIds(user: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new UsageError(`user "${user}" does not exist (needed to run nginx's test suite without root)`, 'create it, or pass another unprivileged user');
}

async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  await chown(p, uid, gid);
  const st = await stat(p);
  if (!st.isDirectory()) return;
  for (const e of await readdir(p, { withFileTypes: true })) {
    const c = path.join(p, e.name);
    if (e.isSymbolicLink()) continue;
    await chownTree(c, uid, gid);
  }
}

async function perlHas(module: string): Promise<boolean> {
  const r = await execa('perl', [`-M${module}`, '-e1'], { reject: false, timeout: 20_000 }).catch(() => ({ exitCode: 1 }));
  return r.exitCode === 0;
}

const EXEC_WRAPPER = `#!/bin/sh
# prove --exec: each test file gets its own TMPDIR, so its nginx-test-* dir (and error log) is found
# again after the run by the file's name. Written by nginx-forge test.
d="$NGINX_FORGE_TEST_TMP/$(basename "$1" .t)"
mkdir -p "$d" && TMPDIR="$d" exec perl "$@"
`;

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

/** Run the pinned nginx-tests against `binary`; resolves with the report (failures are in it, not thrown). */
export async function runNginxTests(binary: string, opts: NginxTestsOptions): Promise<SuiteReport> {
  const started = Date.now();
  const log = opts.onLog ?? (() => undefined);
  const bin = path.resolve(binary);
  try {
    const st = await stat(bin);
    if (!st.isFile() || !(st.mode & 0o111)) throw new Error('not an executable file');
  } catch (e) {
    throw new UsageError(`${binary}: ${(e as Error).message.replace(/^ENOENT.*/, 'no such file')}`, 'pass the path of an nginx binary, e.g. the one `nginx-forge build` printed');
  }
  const jobs = opts.jobs ?? 2;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs ${opts.jobs}: must be a whole number from 1 to 64`);
  if (!which('prove')) throw new MissingToolError('prove', "running nginx's test suite", 'install perl (Debian/Ubuntu: apt-get install perl); `nginx-forge doctor` lists everything the suite uses');
  if (!(await perlHas('TAP::Harness::Archive'))) {
    throw new MissingToolError('TAP::Harness::Archive (Perl module)', "keeping the suite's TAP (prove -a)", 'Debian/Ubuntu: apt-get install libtap-harness-archive-perl (ci/setup.sh installs it); `nginx-forge doctor` lists everything the suite uses');
  }
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? (opts.user ?? 'nobody') : '';
  const ids = asRoot ? userIds(user) : undefined;
  if (asRoot && !which('setpriv')) throw new MissingToolError('setpriv', "running nginx's test suite as an unprivileged user", 'Debian/Ubuntu: apt-get install util-linux');

  const versionOut = await execa(bin, ['-V'], { reject: false, all: true, timeout: 20_000 });
  const nginxVersion = /nginx version: (\S+)/.exec(String(versionOut.all ?? ''))?.[1];
  // dynamic modules: nginx-tests loads them from TEST_NGINX_MODULES (default: the binary's
  // directory, which is the copy's here): the binary's --modules-path, else its own directory
  const modulesPath = /--modules-path=(\S+)/.exec(String(versionOut.all ?? ''))?.[1];
  const modulesDir = opts.modulesDir ?? (modulesPath && existsSync(modulesPath) ? modulesPath : path.dirname(bin));
  if (!nginxVersion) throw new UsageError(`${binary}: \`-v\` does not print an nginx version (${String(versionOut.all ?? versionOut.exitCode).trim().split('\n')[0]})`, 'pass the path of an nginx binary');

  const { recipe } = loadTestSuite(opts.recipesDir);
  const runDir = tempDir('test');
  const keep = path.resolve(opts.logsDir ?? path.join(stateLogsDir(), `test-${stamp()}-${process.pid}`));
  markInUse(keep, 'nginx-forge test'); // gc keeps it while this process runs
  try {
    await chmod(runDir, 0o755);
    log(`fetching ${recipe.artifact.file} (nginx-tests ${recipe.commit.slice(0, 12)})`);
    const tree = await fetchSourceTree(recipe.artifact, runDir, { ...opts.fetch, signal: opts.signal, onLog: opts.fetch.onLog ?? log });
    const suiteDir = tree.dir;
    const all = (await readdir(suiteDir)).filter((f) => f.endsWith('.t')).sort();
    const globs = opts.files?.length ? opts.files : ['*.t'];
    const isMatch = picomatch(globs.map((g) => g.replace(/^\.\//, '')));
    const selected = all.filter((f) => isMatch(f));
    if (selected.length === 0) {
      throw new UsageError(`--files ${globs.join(' ')}: matches none of the suite's ${all.length} files`, `use shell-style globs on file names, e.g. --files 'ssl*.t' 'h2*.t' (files: ${all.slice(0, 6).join(', ')}, ...)`);
    }
    await mkdir(path.join(runDir, 'bin'));
    await copyFile(bin, path.join(runDir, 'bin', 'nginx'));
    await chmod(path.join(runDir, 'bin', 'nginx'), 0o755);
    await mkdir(path.join(runDir, 'tmp'));
    await mkdir(path.join(runDir, 'out'));
    await writeFile(path.join(runDir, 'exec.sh'), EXEC_WRAPPER, { mode: 0o755 });
    if (ids) await chownTree(runDir, ids.uid, ids.gid);

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: runDir,
      LANG: 'C.UTF-8',
      TMPDIR: path.join(runDir, 'tmp'),
      TEST_NGINX_BINARY: path.join(runDir, 'bin', 'nginx'),
      TEST_NGINX_MODULES: modulesDir,
      TEST_NGINX_LEAVE: '1',
      NGINX_FORGE_TEST_TMP: path.join(runDir, 'tmp'),
      ...(opts.unsafe ? { TEST_NGINX_UNSAFE: '1' } : {}),
      ...opts.env,
    };
    const tapArchive = path.join(runDir, 'out', 'tap.tar.gz');
    const proveArgs = ['-j', String(jobs), '-a', tapArchive, '--exec', path.join(runDir, 'exec.sh'), ...selected];
    const [cmd, args] = ids
      ? ['setpriv', [`--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--', 'prove', ...proveArgs]]
      : ['prove', proveArgs];
    log(`running ${selected.length} of ${all.length} files with prove -j ${jobs}${user ? ` as ${user}` : ''}`);
    const child = execa(cmd, args as string[], {
      cwd: suiteDir,
      env,
      extendEnv: false,
      reject: false,
      all: true,
      stdin: 'ignore',
      detached: true, // its own process group: an interrupt or the timeout ends prove, perl and the daemons they started
    });
    const killGroup = () => {
      if (child.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    };
    opts.signal?.addEventListener('abort', killGroup, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs ?? 60 * 60_000);
    let proveOut = '';
    child.all?.on('data', (d: Buffer) => {
      const s = d.toString();
      proveOut += s;
      for (const l of s.split('\n')) if (/\.t \.+ |^Files=|^Result:/.test(l)) log(l.trim());
    });
    const res = await child;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', killGroup);
    opts.signal?.throwIfAborted();
    await mkdir(keep, { recursive: true });
    await writeFile(path.join(keep, 'prove.log'), `$ ${[cmd, ...(args as string[])].join(' ')}\n${proveOut}`);
    if (!existsSync(tapArchive)) {
      throw new ForgeError(`prove did not finish (${timedOut ? `timed out after ${Math.round((opts.timeoutMs ?? 3_600_000) / 60_000)} min` : `exit ${res.exitCode ?? res.signal}`}) and wrote no TAP archive; its output is in ${path.join(keep, 'prove.log')}`, {
        exitCode: ExitCode.test,
        hint: /Can't locate/.test(proveOut) ? 'a Perl module is missing: run `nginx-forge doctor`' : 'read the prove log',
      });
    }
    await copyFile(tapArchive, path.join(keep, 'tap.tar.gz'));

    // each file's TAP, from the archive prove wrote
    const results = await resultsFromTapArchive(tapArchive, path.join(runDir, 'out', 'tap'), selected);
    const proveBad = parseProveSummary(proveOut);

    // each file's error logs: lines to report, and the logs of files that failed or logged them
    const logLines: LogLine[] = [];
    const keptLogs = new Map<string, string[]>();
    for (const r of results) {
      // a skipped file's log holds only why it skipped (try_run: the config this nginx rejects)
      if (r.status === 'skipped' && !proveBad.has(r.file)) continue;
      const base = r.file.replace(/\.t$/, '');
      const fileTmp = path.join(runDir, 'tmp', base);
      if (!existsSync(fileTmp)) continue;
      const logs: string[] = [];
      for (const td of (await readdir(fileTmp)).sort()) {
        const dir = path.join(fileTmp, td);
        if (!(await stat(dir)).isDirectory()) continue;
        for (const name of (await readdir(dir)).sort()) {
          if (!/\.log$/.test(name) || /^access/.test(name)) continue;
          const p = path.join(dir, name);
          if (!(await stat(p)).isFile()) continue;
          logs.push(path.join(td, name));
          for (const l of scanErrorLog(await readFile(p, 'utf8'))) logLines.push({ file: r.file, log: path.join(td, name), ...l });
        }
      }
      const failedHere = r.status === 'failed' || proveBad.has(r.file);
      if (failedHere || logLines.some((l) => l.file === r.file)) {
        const kept: string[] = [];
        for (const l of logs) {
          const dest = path.join(keep, 'error-logs', base, l);
          await mkdir(path.dirname(dest), { recursive: true });
          await cp(path.join(fileTmp, l), dest);
          kept.push(dest);
        }
        keptLogs.set(r.file, kept);
      }
    }
    const report = summarize(
      {
        suite: { name: recipe.name, commit: recipe.commit, date: recipe.date, ...(tree.treeSha256 ? { treeSha256: tree.treeSha256 } : {}) },
        binary: bin,
        nginxVersion,
        ...(opts.profile ? { profile: opts.profile } : {}),
        jobs,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        user,
        logsDir: keep,
      },
      { results, proveBad, logLines, keptLogs, profileModules: opts.profileModules ? new Set(opts.profileModules) : undefined },
    );
    await writeFile(path.join(keep, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await stopLeftoverNginx(runDir);
    await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * nginx daemonizes (its own session, out of prove's process group): after an interrupted or timed
 * out run, end the nginx processes this run started, found by the pid files in its test dirs and
 * only when /proc says the process runs this run's copy of the binary.
 */
async function stopLeftoverNginx(runDir: string): Promise<void> {
  const ours = path.join(runDir, 'bin', 'nginx');
  const pids: number[] = [];
  const tmp = path.join(runDir, 'tmp');
  for (const f of existsSync(tmp) ? await readdir(tmp) : []) {
    for (const td of await readdir(path.join(tmp, f)).catch(() => [] as string[])) {
      const pidText = await readFile(path.join(tmp, f, td, 'nginx.pid'), 'utf8').catch(() => '');
      const pid = Number(pidText.trim());
      if (!Number.isInteger(pid) || pid <= 1) continue;
      const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
      if (exe === ours) pids.push(pid);
    }
  }
  const kill = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  const alive = pids.filter((p) => kill(p, 'SIGTERM'));
  for (let i = 0; i < 20 && alive.some((p) => kill(p, 0 as unknown as NodeJS.Signals)); i++) await new Promise((r) => setTimeout(r, 100));
  for (const p of alive) kill(p, 'SIGKILL');
}

/**
 * Each file's result from a `prove -a` archive (its meta.yml gives the files' times). `files`:
 * the files that were selected (a file missing from the archive counts as failed); default: every
 * file in the archive.
 */
export async function resultsFromTapArchive(tapArchive: string, scratch: string, files?: string[]): Promise<FileResult[]> {
  await mkdir(scratch, { recursive: true });
  await tar.x({ file: tapArchive, cwd: scratch, strict: true });
  const meta = YAML.parse(await readFile(path.join(scratch, 'meta.yml'), 'utf8')) as { file_order?: string[]; file_attributes?: { description: string; start_time: number; end_time: number }[] };
  const times = new Map((meta.file_attributes ?? []).map((a) => [a.description.replace(/^\.\//, ''), a.end_time - a.start_time]));
  const names = files ?? (meta.file_order ?? []).map((f) => f.replace(/^\.\//, '')).sort();
  const results: FileResult[] = [];
  for (const f of names) {
    const tapFile = path.join(scratch, f);
    const tapText = existsSync(tapFile) ? await readFile(tapFile, 'utf8') : '';
    const r = parseFileTap(f, tapText);
    const secs = times.get(f);
    results.push(secs !== undefined ? { ...r, seconds: Math.round(secs * 100) / 100 } : r);
  }
  return results;
}

/**
 * The names nginx-tests' `has()` uses for the modules a set of configure flags builds, e.g.
 * --with-http_v2_module → http_v2, --with-http_ssl_module → http_ssl. Only --with-* modules
 * (the default ones are always there).
 */
export function modulesOfFlags(flags: string[]): string[] {
  const out: string[] = [];
  for (const f of flags) {
    const m = /^--with-(\w+?)_module$/.exec(f);
    if (m) out.push(m[1]!, m[1]!.replace(/^http_/, ''));
  }
  return [...new Set(out)];
}
