// The sanitizer profile end to end, kept small for the suite's time budget: `build --profile
// ktls-asan --test --test-files <a handful>` compiles nginx with AddressSanitizer and
// UndefinedBehaviorSanitizer (the libraries it shares with ktls come from the stage cache; no
// jemalloc), verifies it against its own plan (no jemalloc check), and runs a few nginx-tests files
// under the sanitizers with findings made fatal: no failure, no sanitizer line.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SuiteReport } from '../src/nginxtests/report.ts';
import { forge, TEST_DIST, TEST_HOME, type SummaryJson } from './helpers/builtNginx.ts';
import { mirrorDescription, mirrorFlags } from './helpers/mirror.ts';

const FILES = ['ssl.t', 'h2.t', 'gzip.t', 'rewrite.t', 'http_location.t', 'proxy.t'];

describe('build --profile ktls-asan --test', () => {
  it('builds with ASan+UBSan and runs a few nginx-tests files under them: no failure, no sanitizer line', async () => {
    const out = path.join(TEST_DIST, 'dist-ktls-asan');
    const r = await forge(['build', '--profile', 'ktls-asan', '--no-smoke', '--json', '--out', out, ...mirrorFlags(), '--test-files', ...FILES], {}, 40 * 60_000);
    expect(r.exitCode, `suite from ${mirrorDescription()}:\n${String(r.stderr).slice(-6000)}`).toBe(0);
    const s = JSON.parse(String(r.stdout)) as SummaryJson;
    const status = Object.fromEntries(s.stages.map((x) => [x.id, x.status]));
    expect(status['install:nginx']).not.toBe('skipped');
    expect(status.verify).not.toBe('skipped');
    expect(status.test).not.toBe('skipped');
    expect(Object.keys(status)).not.toContain('library:jemalloc');
    // the binary is a sanitizer build
    const v = await forge(['verify', s.binary, '--profile', 'ktls-asan', '--json']);
    expect(v.exitCode, String(v.stderr).slice(-3000)).toBe(0);
    expect(readFileSync(s.binary).includes('__asan_init')).toBe(true);
    expect(readFileSync(s.binary).includes('__ubsan_handle_')).toBe(true);
    // the suite's report, kept in the build's log folder
    const logs = path.join(TEST_HOME, 'logs', `ktls-asan-${s.planHash.slice(0, 12)}`, 'test');
    const report = JSON.parse(readFileSync(path.join(logs, 'report.json'), 'utf8')) as SuiteReport;
    expect(report.ok).toBe(true);
    expect(report.files.selected).toBe(FILES.length);
    expect(report.files.failed).toBe(0);
    expect(report.files.ran).toBeGreaterThanOrEqual(FILES.length - 1);
    expect(report.tests.run).toBeGreaterThan(100);
    expect(report.logLines.filter((l) => l.level === 'sanitizer')).toEqual([]);
  }, 45 * 60_000);
});
