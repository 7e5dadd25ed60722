// Reading what nginx's test suite said: pure functions over recorded output, tested on fixtures.
//   - each file's TAP (from the `prove -a` archive) → passed / failed / skipped (with the reason);
//   - prove's own summary ("Test Summary Report") → files that died or exited non-zero although
//     their TAP looked fine;
//   - each file's error logs → [alert]/[crit]/[emerg] lines and sanitizer reports
//     (AddressSanitizer, UndefinedBehaviorSanitizer "runtime error:", LeakSanitizer, ...).
// nginx-tests itself fails a file on [alert] lines ("no alerts") and on "Sanitizer" lines ("no
// sanitizer errors"); [crit]/[emerg] and UBSan's "runtime error:" lines are reported, not judged.
import { Parser, type FinalResults } from 'tap-parser';

/** Why a file was skipped, in classes a user can act on. */
export type SkipClass = 'module' | 'version' | 'unsupported' | 'unsafe' | 'perl-module' | 'daemon' | 'environment';

export const SKIP_CLASSES: Record<SkipClass, string> = {
  module: 'module not built into this nginx',
  version: 'needs a newer nginx',
  unsupported: 'directive/feature unknown to this nginx or its OpenSSL',
  unsafe: 'unsafe, runs only with --unsafe (TEST_NGINX_UNSAFE)',
  'perl-module': 'Perl module missing',
  daemon: 'helper daemon missing',
  environment: 'environment (OS, addresses, privileges)',
};

/** Perl modules the suite asks for by name in skip messages that do not contain "::". */
const PERL_MODULES = new Set(['FCGI', 'SCGI', 'GD', 'Socket', 'CryptX']);
/** Skip reasons of files that run only with TEST_NGINX_UNSAFE (grep TEST_NGINX_UNSAFE *.t). */
const UNSAFE_REASONS = [/^long (configuration parsing|test)$/, /^listen on wildcard address$/, /^can leave orphaned process group$/, /^may not work, /];

/** Classify a `1..0 # SKIP <reason>` reason. */
export function classifySkip(reason: string): { class: SkipClass; module?: string } {
  const r = reason.trim();
  let m = /^no (\S+) available$/.exec(r);
  if (m) {
    // Test::Nginx::has(): a module (http_v2, stream, mail, ...) or a feature of the test host
    if (m[1] === 'cryptx') return { class: 'perl-module' };
    // has('openssl:3.5') and the like: a version of the TLS library, not a module
    if (m[1]!.includes(':')) return { class: 'unsupported' };
    if (/^(unix|udp|symlink|socket_ssl\w*)$/.test(m[1]!)) return { class: 'environment' };
    return { class: 'module', module: m[1]! };
  }
  if (/^not yet$/.test(r)) return { class: 'version' };
  if (UNSAFE_REASONS.some((re) => re.test(r))) return { class: 'unsafe' };
  m = /^(\S+) (not installed|not found|too old)\b/.exec(r);
  if (m) {
    const name = m[1]!;
    if (name.includes('::') || PERL_MODULES.has(name)) return { class: 'perl-module', module: name };
    if (m[2] === 'not found' && /^[a-z][a-z0-9_-]*$/.test(name)) return { class: 'daemon', module: name };
    return { class: 'environment' };
  }
  if (/^no \S/.test(r) || /^wants /.test(r)) return { class: 'unsupported' };
  return { class: 'environment' };
}

export interface FileResult {
  file: string;
  status: 'passed' | 'failed' | 'skipped';
  /** tests run (the plan's count, including the suite's own "no alerts"/"no sanitizer errors") */
  tests: number;
  passed: number;
  /** failed tests (not TODO), or a problem with the file as a whole (plan, exit status) */
  failures: { id?: number; name: string }[];
  /** tests marked TODO (expected to fail: the suite knows about them) */
  todo: number;
  skipReason?: string;
  skipClass?: SkipClass;
  /** the module named in "no <module> available" */
  skipModule?: string;
  seconds?: number;
}

function finalResults(tap: string): FinalResults {
  let out: FinalResults | undefined;
  const p = new Parser((r) => {
    out = r;
  });
  p.end(tap);
  return out!;
}

/** One file's TAP → its result. */
export function parseFileTap(file: string, tap: string): FileResult {
  if (!/^\s*1\.\.\d+/m.test(tap)) {
    // no plan line at all: the file died before it started (tap-parser would call it "no tests found")
    const n = (tap.match(/^(not )?ok\b/gm) ?? []).length;
    return { file, status: 'failed', tests: n, passed: 0, failures: [{ name: n ? `no plan (died after ${n} tests)` : 'no TAP output (the test died before its plan)' }], todo: 0 };
  }
  const r = finalResults(tap);
  if (r.plan.skipAll) {
    const reason = (r.plan.skipReason || r.plan.comment || '').replace(/^SKIP\s*/i, '').trim() || '(no reason given)';
    const c = classifySkip(reason);
    return { file, status: 'skipped', tests: 0, passed: 0, failures: [], todo: 0, skipReason: reason, skipClass: c.class, ...(c.module ? { skipModule: c.module } : {}) };
  }
  const failures: FileResult['failures'] = [];
  for (const f of r.failures) {
    if (f.todo) continue;
    if (f.tapError) failures.push({ name: f.tapError === 'incorrect number of tests' ? `planned ${r.plan.end ?? '?'} tests, ran ${r.count}` : String(f.tapError) });
    else failures.push({ ...(typeof f.id === 'number' ? { id: f.id } : {}), name: f.name || '(unnamed test)' });
  }
  if (!r.ok && failures.length === 0) {
    failures.push({ name: r.count === 0 ? 'no TAP output (the test died before its plan)' : `the TAP stream is not complete (plan ${r.plan.start ?? '?'}..${r.plan.end ?? '?'}, ${r.count} tests seen)` });
  }
  return { file, status: failures.length ? 'failed' : 'passed', tests: r.count, passed: r.pass, failures, todo: r.todo };
}

/** prove's "Test Summary Report": files with failed tests, a bad plan or a non-zero exit. */
export function parseProveSummary(out: string): Map<string, string> {
  const bad = new Map<string, string>();
  const lines = out.split('\n');
  const start = lines.findIndex((l) => /^Test Summary Report\s*$/.test(l));
  if (start < 0) return bad;
  let current: string | undefined;
  for (const line of lines.slice(start + 2)) {
    const m = /^(\S+\.t)\s+\(Wstat: (\d+)(?: \(([^)]*)\))? Tests: (\d+) Failed: (\d+)\)\s*$/.exec(line);
    if (m) {
      current = m[1]!.replace(/^\.\//, '');
      // a file listed with exit 0 and no failure is only there for its details: "TODO passed"
      // (a test the suite expects to fail now passes) is not a failure, a parse error is
      const why = Number(m[2]) !== 0 ? `exit status ${m[3] ?? `wstat ${m[2]}`}` : Number(m[5]) > 0 ? `${m[5]} failed` : undefined;
      if (why) bad.set(current, why);
      continue;
    }
    if (/^Files=\d+/.test(line)) break;
    const d = current && /^\s+(Parse errors: .*)$/.exec(line);
    if (d && current) bad.set(current, bad.has(current) ? `${bad.get(current)}; ${d[1]}` : d[1]!);
  }
  return bad;
}

export type LogLevel = 'alert' | 'crit' | 'emerg' | 'sanitizer';

export interface LogLine {
  file: string;
  /** the log it was found in, relative to the file's temp dir */
  log: string;
  level: LogLevel;
  line: string;
}

const SANITIZER = /(AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer|runtime error:)/;

/** The lines of an error log worth reporting. */
export function scanErrorLog(text: string): { level: LogLevel; line: string }[] {
  const out: { level: LogLevel; line: string }[] = [];
  for (const line of text.split('\n')) {
    if (SANITIZER.test(line)) out.push({ level: 'sanitizer', line });
    else {
      const m = /\[(alert|crit|emerg)\]/.exec(line);
      if (m) out.push({ level: m[1] as LogLevel, line });
    }
  }
  return out;
}

export interface SuiteReport {
  suite: { name: string; commit: string; date: string; treeSha256?: string };
  binary: string;
  /** `nginx -v` of the binary */
  nginxVersion: string;
  profile?: string;
  jobs: number;
  seconds: number;
  /** the unprivileged user the suite ran as ("" when not started as root) */
  user: string;
  files: { selected: number; ran: number; passed: number; failed: number; skipped: number };
  tests: { run: number; failed: number; todo: number };
  /** skipped files by class: file and reason */
  skipped: Partial<Record<SkipClass, { file: string; reason: string }[]>>;
  /** files the profile's modules say should run, skipped as "module not available" */
  missingModules: { file: string; module: string }[];
  failed: (FileResult & { reason: string; errorLogs: string[] })[];
  logLines: LogLine[];
  /** where the TAP archive, prove's output, the kept error logs and report.json are */
  logsDir: string;
  results: FileResult[];
  /** every selected file was skipped: nothing was tested, so the run fails (the reasons are in `skipped`) */
  allSkipped: boolean;
  /** no failed file, no module missing that the profile builds, and at least one file ran */
  ok: boolean;
}

export interface SummaryInput {
  results: FileResult[];
  /** from parseProveSummary */
  proveBad: Map<string, string>;
  logLines: LogLine[];
  /** kept error logs per file */
  keptLogs: Map<string, string[]>;
  /** modules the profile builds (names as in "no <name> available"), when --profile was given */
  profileModules?: Set<string>;
}

/** Merge the sources into the report's counts (the fields that come from the run are passed through). */
export function summarize(meta: Omit<SuiteReport, 'files' | 'tests' | 'skipped' | 'missingModules' | 'failed' | 'logLines' | 'results' | 'allSkipped' | 'ok'>, input: SummaryInput): SuiteReport {
  const results = input.results.map((r) => {
    const why = input.proveBad.get(r.file);
    return why ? { ...r, status: 'failed' as const, failures: [...r.failures, { name: `prove: ${why}` }] } : r;
  });
  const skipped: SuiteReport['skipped'] = {};
  const missingModules: SuiteReport['missingModules'] = [];
  for (const r of results.filter((x) => x.status === 'skipped')) {
    (skipped[r.skipClass ?? 'environment'] ??= []).push({ file: r.file, reason: r.skipReason ?? '' });
    if (r.skipClass === 'module' && r.skipModule && input.profileModules?.has(r.skipModule)) missingModules.push({ file: r.file, module: r.skipModule });
  }
  const failed = results
    .filter((r) => r.status === 'failed')
    .map((r) => ({
      ...r,
      reason: r.failures.map((f) => (f.id !== undefined ? `#${f.id} ${f.name}` : f.name)).join('; '),
      errorLogs: input.keptLogs.get(r.file) ?? [],
    }));
  const ran = results.filter((r) => r.status !== 'skipped');
  // a selection that is entirely skipped tested nothing: a pass would hide a missing Perl module
  // or a module the binary lacks (e.g. --files 'h3*.t' without CryptX)
  const allSkipped = results.length > 0 && ran.length === 0;
  return {
    ...meta,
    files: {
      selected: results.length,
      ran: ran.length,
      passed: results.filter((r) => r.status === 'passed').length,
      failed: failed.length,
      skipped: results.length - ran.length,
    },
    tests: {
      run: ran.reduce((n, r) => n + r.tests, 0),
      failed: ran.reduce((n, r) => n + r.failures.filter((f) => f.id !== undefined).length, 0),
      todo: ran.reduce((n, r) => n + r.todo, 0),
    },
    skipped,
    missingModules,
    failed,
    logLines: input.logLines,
    results,
    allSkipped,
    ok: failed.length === 0 && missingModules.length === 0 && !allSkipped,
  };
}

/** The table for stderr. */
export function renderReport(r: SuiteReport): string {
  const out: string[] = [];
  const verdict = r.ok ? 'PASS' : 'FAIL';
  out.push(`nginx-tests ${r.suite.commit.slice(0, 12)} (${r.suite.date}) against ${r.binary} (${r.nginxVersion}): ${verdict}`);
  out.push(
    `  files: ${r.files.selected} selected, ${r.files.ran} ran, ${r.files.passed} passed, ${r.files.failed} failed, ${r.files.skipped} skipped;` +
      ` tests: ${r.tests.run} run, ${r.tests.failed} failed${r.tests.todo ? `, ${r.tests.todo} TODO` : ''}; ${r.seconds.toFixed(1)} s with --jobs ${r.jobs}${r.user ? ` as ${r.user}` : ''}`,
  );
  const classes = (Object.keys(SKIP_CLASSES) as SkipClass[]).filter((c) => r.skipped[c]?.length);
  if (classes.length) {
    out.push('  skipped by reason:');
    const w = Math.max(...classes.map((c) => SKIP_CLASSES[c].length));
    for (const c of classes) {
      const list = r.skipped[c]!;
      const counts = new Map<string, number>();
      for (const s of list) {
        const key = c === 'module' ? s.reason.replace(/^no (\S+) available$/, '$1') : s.reason;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const detail = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, n]) => (n > 1 ? `${k} ${n}` : k));
      const text = detail.join(', ');
      out.push(`    ${SKIP_CLASSES[c].padEnd(w)}  ${String(list.length).padStart(4)}  ${text.length > 110 ? `${text.slice(0, 107)}...` : text}`);
    }
  }
  if (r.allSkipped) {
    out.push(`  every selected file was skipped (${r.files.skipped} of ${r.files.selected}): nothing was tested, so the run fails; the reasons are above`);
    out.push('    install what they need (`nginx-forge doctor` lists the Perl modules and daemons), build the module they need, or select files that run');
  }
  if (r.missingModules.length) {
    out.push(`  skipped although profile ${r.profile} builds the module (the binary does not match the profile):`);
    for (const m of r.missingModules) out.push(`    ${m.file}: no ${m.module}`);
  }
  if (r.failed.length) {
    out.push('  failed files:');
    for (const f of r.failed) {
      out.push(`    ${f.file}: ${f.reason}`);
      for (const l of f.errorLogs) out.push(`      error log: ${l}`);
    }
  }
  if (r.logLines.length) {
    const by = (lv: LogLevel) => r.logLines.filter((l) => l.level === lv).length;
    out.push(`  error log lines: ${by('emerg')} emerg, ${by('alert')} alert, ${by('crit')} crit, ${by('sanitizer')} sanitizer`);
    for (const l of r.logLines.slice(0, 40)) out.push(`    ${l.file} [${l.level}] ${l.line.length > 160 ? `${l.line.slice(0, 157)}...` : l.line}`);
    if (r.logLines.length > 40) out.push(`    ... ${r.logLines.length - 40} more in report.json`);
  } else {
    out.push('  error log lines: no emerg, alert, crit or sanitizer lines');
  }
  out.push(`  logs: ${r.logsDir}`);
  return `${out.join('\n')}\n`;
}
