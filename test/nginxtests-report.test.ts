// Report parsing of nginx's test suite on recorded runs (test/fixtures/nginx-tests/, see its
// README): the TAP archive `prove -a` wrote, prove's own output, and an error log.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifySkip, parseFileTap, parseProveSummary, renderReport, scanErrorLog, summarize, type SummaryInput } from '../src/nginxtests/report.ts';
import { modulesOfFlags, resultsFromTapArchive } from '../src/nginxtests/run.ts';

const FIX = path.join(import.meta.dirname, 'fixtures', 'nginx-tests');
const scratch: string[] = [];
afterAll(async () => {
  for (const d of scratch) await rm(d, { recursive: true, force: true });
});

const META = { suite: { name: 'nginx-tests', commit: '76bb761cdcaeb6cb024d605c2ef91bf8d8a602d7', date: '2026-07-21' }, binary: '/x/nginx', nginxVersion: 'nginx/1.26.3', jobs: 2, seconds: 330, user: 'nobody', logsDir: '/logs' };
const KTLS_MODULES = modulesOfFlags(['--with-http_ssl_module', '--with-http_v2_module', '--with-http_realip_module', '--with-http_gzip_static_module', '--with-http_stub_status_module']);

async function recorded(name: string, extra: Partial<SummaryInput> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nf-tap-'));
  scratch.push(dir);
  const results = await resultsFromTapArchive(path.join(FIX, name, 'tap.tar.gz'), dir);
  const proveBad = parseProveSummary(await readFile(path.join(FIX, name, 'prove-output.txt'), 'utf8'));
  return summarize(META, { results, proveBad, logLines: [], keptLogs: new Map(), ...extra });
}

describe('a clean run of the whole suite against the ktls binary (recorded)', () => {
  it('counts files, tests and TODOs, and passes', async () => {
    const r = await recorded('clean-ktls', { profileModules: new Set(KTLS_MODULES) });
    expect(r.files).toEqual({ selected: 492, ran: 262, passed: 262, failed: 0, skipped: 230 });
    expect(r.tests).toEqual({ run: 4005, failed: 0, todo: 73 });
    expect(r.ok).toBe(true);
    expect(r.failed).toEqual([]);
    expect(r.missingModules).toEqual([]);
  });

  it('sorts the skipped files by reason', async () => {
    const r = await recorded('clean-ktls');
    const n = (c: keyof typeof r.skipped) => r.skipped[c]?.length ?? 0;
    expect({ module: n('module'), version: n('version'), unsupported: n('unsupported'), unsafe: n('unsafe'), perl: n('perl-module'), env: n('environment') }).toEqual({
      module: 174,
      version: 3,
      unsupported: 40,
      unsafe: 8,
      perl: 2,
      env: 3,
    });
    const modules = r.results.filter((x) => x.skipClass === 'module');
    expect(modules.filter((x) => x.skipModule === 'stream')).toHaveLength(84);
    expect(modules.filter((x) => x.skipModule === 'mail')).toHaveLength(16);
    expect(r.skipped.unsafe!.map((s) => s.reason)).toContain('long configuration parsing');
    expect(r.results.find((x) => x.file === 'stream_map.t')).toMatchObject({ status: 'skipped', skipReason: 'no stream available', skipClass: 'module', skipModule: 'stream' });
    const text = renderReport(r);
    expect(text).toMatch(/: PASS\n/);
    expect(text).toMatch(/module not built into this nginx\s+174\s+stream 84, http_v3 27, mail 16/);
    expect(text).toMatch(/262 ran, 262 passed, 0 failed, 230 skipped; tests: 4005 run, 0 failed, 73 TODO/);
  });

  it('a module the profile builds but the binary skipped fails the run', async () => {
    const r = await recorded('clean-ktls', { profileModules: new Set([...KTLS_MODULES, 'stream']) });
    expect(r.missingModules).toHaveLength(84);
    expect(r.ok).toBe(false);
    expect(renderReport(r)).toContain('stream_map.t: no stream');
  });
});

describe('a run with real failures (ktls binary, worker_rlimit_nofile 12 and server_tokens off forced in; recorded)', () => {
  it('lists each failed test by number and name, and prove\'s exit status', async () => {
    const r = await recorded('failing-ktls');
    expect(r.files).toEqual({ selected: 7, ran: 5, passed: 0, failed: 5, skipped: 2 });
    expect(r.tests.failed).toBe(27);
    expect(r.ok).toBe(false);
    const map = r.failed.find((f) => f.file === 'map.t')!;
    expect(map.failures).toContainEqual({ id: 20, name: 'no alerts' });
    expect(map.reason).toContain('#20 no alerts');
    expect(map.reason).toContain('prove: exit status exited 1');
    const gzip = r.failed.find((f) => f.file === 'gzip.t')!;
    expect(gzip.failures.filter((f) => f.id !== undefined).map((f) => f.id)).toEqual([3, 4, 9]);
    expect(renderReport(r)).toMatch(/: FAIL\n[\s\S]*failed files:\n    gzip\.t: #3 gzip proxied; #4 gzip proxied content; #9 no alerts/);
  });

  it('finds the alert line in the recorded error log', async () => {
    const lines = scanErrorLog(await readFile(path.join(FIX, 'failing-ktls', 'map-error-log.txt'), 'utf8'));
    expect(lines).toEqual([{ level: 'alert', line: expect.stringMatching(/\[alert\] \d+#\d+: socketpair\(\) failed \(24: Too many open files\)$/) }]);
  });
});

describe('a binary whose dynamic modules are missing (Debian nginx 1.22.1 without libnginx-mod-*; recorded)', () => {
  it('files that die before their plan or after 2 tests are failures, with prove\'s reason', async () => {
    const r = await recorded('dynamic-modules-missing');
    expect(r.files).toMatchObject({ selected: 158, ran: 121, failed: 121 });
    const absolute = r.failed.find((f) => f.file === 'h2_absolute_redirect.t')!;
    expect(absolute.reason).toBe('no TAP output (the test died before its plan); prove: exit status exited 2; Parse errors: No plan found in TAP output');
    const gzip = r.failed.find((f) => f.file === 'gzip.t')!;
    expect(gzip.reason).toMatch(/^planned 10 tests, ran 2; prove: exit status exited 2/);
    expect(r.results.find((x) => x.file === 'ssl_certificate_compression.t')).toMatchObject({ status: 'skipped', skipClass: 'unsupported' });
  });
});

describe('pieces', () => {
  it('classifies skip reasons', () => {
    const table: [string, string][] = [
      ['no stream available', 'module'],
      ['no http_v3 available', 'module'],
      ['no openssl:3.5 available', 'unsupported'],
      ['no cryptx available', 'perl-module'],
      ['no unix available', 'environment'],
      ['not yet', 'version'],
      ['long configuration parsing', 'unsafe'],
      ['may not work, incompatible with sanitizers', 'unsafe'],
      ['FCGI not installed', 'perl-module'],
      ['Cache::Memcached not installed', 'perl-module'],
      ['IO::Socket::SSL too old', 'perl-module'],
      ['memcached not found', 'daemon'],
      ['uwsgi not found', 'daemon'],
      ['libsofthsm2.so not found', 'environment'],
      ['no proxy_http_version 2', 'unsupported'],
      ['wants ssl_client_certificate', 'unsupported'],
      ['must be root', 'environment'],
      ['win32', 'environment'],
    ];
    expect(table.map(([reason]) => [reason, classifySkip(reason).class])).toEqual(table);
  });

  it('a TODO failure is not a failure; a missing test is', () => {
    const todo = parseFileTap('a.t', '1..3\nok 1 - x\nnot ok 2 - no alerts # TODO alerts\nok 3 - no sanitizer errors\n');
    expect(todo).toMatchObject({ status: 'passed', tests: 3, todo: 1, failures: [] });
    const short = parseFileTap('b.t', '1..4\nok 1\nok 2\n');
    expect(short).toMatchObject({ status: 'failed', failures: [{ name: 'planned 4 tests, ran 2' }] });
    expect(parseFileTap('c.t', '')).toMatchObject({ status: 'failed', failures: [{ name: 'no TAP output (the test died before its plan)' }] });
  });

  it('finds sanitizer reports and alert/crit/emerg lines, nothing else', () => {
    // the formats AddressSanitizer and UBSan print (constructed lines: no sanitizer build yet)
    const log = [
      '2026/12/01 01:00:00 [notice] 1#1: signal process started',
      '2026/12/01 01:00:00 [error] 1#1: *1 open() "/x" failed (2: No such file or directory)',
      '2026/12/01 01:00:00 [crit] 1#1: accept4() failed (24: Too many open files)',
      '2026/12/01 01:00:00 [emerg] 1#1: bind() to 127.0.0.1:8080 failed (98: Address already in use)',
      '==1234==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 at pc 0x55d5 bp 0x7ffd sp 0x7ffd',
      'src/http/ngx_http_parse.c:120:9: runtime error: left shift of negative value -1',
      'SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior src/http/ngx_http_parse.c:120:9',
    ].join('\n');
    expect(scanErrorLog(log).map((l) => l.level)).toEqual(['crit', 'emerg', 'sanitizer', 'sanitizer', 'sanitizer']);
  });

  it('names the modules of configure flags as nginx-tests does', () => {
    expect(modulesOfFlags(['--with-http_v2_module', '--with-stream', '--with-stream_ssl_module', '--with-threads'])).toEqual(['http_v2', 'v2', 'stream_ssl']);
  });
});

describe("prove's summary report", () => {
  const summary = (body: string) => `proxy_cache_control.t .. ok\nAll tests successful.\n\nTest Summary Report\n-------------------\n${body}\nFiles=2, Tests=22,  0 wallclock secs\nResult: PASS\n`;
  it('a file listed only for "TODO passed" (an expected failure that now passes) is not a failure', () => {
    expect(parseProveSummary(summary('proxy_cache_control.t (Wstat: 0 Tests: 22 Failed: 0)\n  TODO passed:   3')).size).toBe(0);
  });
  it('failed tests, a non-zero exit and parse errors are', () => {
    const bad = parseProveSummary(summary('a.t (Wstat: 0 Tests: 5 Failed: 2)\n  Failed tests:  1-2\nb.t (Wstat: 256 (exited 1) Tests: 3 Failed: 0)\nc.t (Wstat: 0 Tests: 4 Failed: 0)\n  Parse errors: Bad plan.  You planned 5 tests but ran 4.'));
    expect(Object.fromEntries(bad)).toEqual({ 'a.t': '2 failed', 'b.t': 'exit status exited 1', 'c.t': 'Parse errors: Bad plan.  You planned 5 tests but ran 4.' });
  });
});
