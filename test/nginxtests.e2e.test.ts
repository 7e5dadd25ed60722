// nginx's own test suite against the real ktls build, through the CLI as a user runs it:
// the TLS, HTTP/2, gzip, rewrite/map/regex (http_location) and proxy files must all pass (exit 0),
// and every HTTP/3 and QUIC file (h3_*.t, quic_*.t: nginx-tests' own QUIC client, Perl CryptX) runs and passes, with the
// suite fetched through the tool from the tests' mirror (test/helpers/mirror.ts: CI's distfiles
// folder, NGINX_FORGE_TEST_MIRROR, or none: its upstream URL) and verified by its tree hash.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SuiteReport } from '../src/nginxtests/report.ts';
import { builtNginx, forge, TEST_DISTFILES } from './helpers/builtNginx.ts';
import { mirrorDescription, mirrorFlags } from './helpers/mirror.ts';

// nginx-tests has no regex*.t: regular expressions are tested in http_location*.t (regex
// locations), rewrite*.t and map*.t (captures, regex maps), all through PCRE2 with JIT here
const FILES = ['ssl*.t', 'h2*.t', 'gzip*.t', 'rewrite*.t', 'map*.t', 'http_location*.t', 'proxy*.t'];
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('nginx-forge test (nginx-tests) on the ktls build', () => {
  it('runs the TLS, HTTP/2, gzip, rewrite/map/regex and proxy files with no failure', async () => {
    const nginx = await builtNginx('ktls');
    const logs = mkdtempSync(path.join(os.tmpdir(), 'nf-nginxtests-e2e-'));
    dirs.push(logs);
    const r = await forge(['test', nginx, '--profile', 'ktls', '--jobs', '2', '--json', ...mirrorFlags(), '--logs', logs, '--files', ...FILES], {}, 30 * 60_000);
    expect(r.exitCode, `suite from ${mirrorDescription()}:\n${String(r.stderr).slice(-6000)}`).toBe(0);
    const report = JSON.parse(String(r.stdout)) as SuiteReport;
    expect(report.ok).toBe(true);
    expect(report.suite.treeSha256).toBe('497cbb0a74e904fb117fb23bd5c868eaf632741535194dc60a0f4651791913be');
    expect(report.files.failed).toBe(0);
    expect(report.missingModules).toEqual([]);
    // every family ran (at least one file passed of each), not just skipped
    for (const prefix of ['ssl', 'h2', 'gzip', 'rewrite', 'map', 'http_location', 'proxy']) {
      expect(report.results.filter((x) => x.file.startsWith(prefix) && x.status === 'passed').length, prefix).toBeGreaterThan(0);
    }
    expect(report.files.ran).toBeGreaterThan(100);
    expect(report.tests.run).toBeGreaterThan(1500);
    // the ktls profile builds no embedded perl (it needs libperl, outside the recipe set): those
    // files are skipped as "module not built"; auth_request, built since, runs
    expect(report.skipped.module).toContainEqual({ file: 'gzip_flush.t', reason: 'no perl available' });
    expect((report.skipped.module ?? []).map((x: { file: string }) => x.file)).not.toContain('h2_auth_request.t');
    expect(report.user).toBe(process.getuid?.() === 0 ? 'nobody' : '');
    // kept: prove's output, the TAP archive, the report
    for (const f of ['prove.log', 'tap.tar.gz', 'report.json']) expect(existsSync(path.join(logs, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(path.join(logs, 'report.json'), 'utf8')).files).toEqual(report.files);
    // the table on stderr
    expect(String(r.stderr)).toMatch(/nginx-tests 76bb761cdcae \(2026-07-21\) against .* \(nginx\/1\.26\.3\): PASS/);
    // the suite is in the test run's distfiles store by its tree hash now
    expect(existsSync(path.join(TEST_DISTFILES, 'tree-497cbb0a74e904fb117fb23bd5c868eaf632741535194dc60a0f4651791913be'))).toBe(true);
  }, 40 * 60_000);

  // h3_limit_req.t's "reset stream - log" (#6) expects 499: the client resets a request that
  // limit_req delays. Its delay is what is left of the 1 r/s budget after the file's earlier
  // requests (each 1.1 s apart): on a loaded 2-core machine it was measured at 6 ms (error log:
  // "delaying request, excess: 0.006"), over before the reset arrived, so the request went on to
  // proxy_pass, read the reset body and logged 400. A timing artefact of the file, not of nginx:
  // alone it passed 3 runs of 3. That one file, and only for that test, is run once more alone.
  it('runs every HTTP/3 and QUIC file (none skipped) and they pass', async () => {
    const nginx = await builtNginx('ktls');
    const logs = mkdtempSync(path.join(os.tmpdir(), 'nf-nginxtests-h3-'));
    dirs.push(logs);
    const r = await forge(['test', nginx, '--profile', 'ktls', '--jobs', '2', '--json', ...mirrorFlags(), '--logs', logs, '--files', 'h3*.t', 'quic*.t'], {}, 20 * 60_000);
    const report = JSON.parse(String(r.stdout)) as SuiteReport;
    process.stderr.write(`nginx-tests h3/quic on ktls: ${report.results.map((x) => `${x.file} ${x.status} (${x.tests} tests)`).join(', ')}\n`);
    expect(report.files.selected).toBe(23);
    expect(report.files.skipped, JSON.stringify(report.skipped)).toBe(0);
    expect(report.results.filter((x) => x.file.startsWith('h3_'))).toHaveLength(19);
    expect(report.results.filter((x) => x.file.startsWith('quic_'))).toHaveLength(4);
    const failed = report.failed.map((f) => `${f.file}: ${f.reason}`);
    const timing = report.failed.length === 1 && report.failed[0]!.file === 'h3_limit_req.t' && report.failed[0]!.failures.every((f) => f.id === 6 || /^prove: exit status/.test(f.name));
    if (timing) {
      process.stderr.write(`nginx-tests h3/quic: ${failed[0]} (the known timing case): running it once more alone\n`);
      const again = await forge(['test', nginx, '--profile', 'ktls', '--jobs', '1', '--json', ...mirrorFlags(), '--logs', path.join(logs, 'again'), '--files', 'h3_limit_req.t'], {}, 10 * 60_000);
      expect(again.exitCode, String(again.stderr).slice(-3000)).toBe(0);
    } else {
      expect(r.exitCode, `suite from ${mirrorDescription()}:\n${String(r.stderr).slice(-6000)}`).toBe(0);
      expect(failed).toEqual([]);
      expect(report.ok).toBe(true);
    }
    expect(report.tests.run).toBeGreaterThan(300);
    expect(report.missingModules).toEqual([]);
  }, 30 * 60_000);
});
