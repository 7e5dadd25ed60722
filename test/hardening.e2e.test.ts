// The shared real build is hardened all the way down: every compile line in each library stage's
// log carries the profile's hardening flags (on top of the library's own optimisation level), and
// the nginx binary has every protection the profile asks for, by verify's reading and by Debian's
// hardening-check.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { elfHardening, ENDBR_MIN } from '../src/elfhardening.ts';
import { quoteArg } from '../src/exec.ts';
import { libraries } from '../src/plan.ts';
import { libraryCommands } from '../src/recipes/commands.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { toolchainFacts } from '../src/toolchain.ts';
import { builtSummary, TEST_HOME, type SummaryJson } from './helpers/builtNginx.ts';

const plan = resolvePlan(loadRecipes(), 'ktls', { toolchain: toolchainFacts() });
const FLAGS = plan.hardening.cflags;
// a compiler run on one source file (configure's "checking whether gcc understands -c" lines are not)
const COMPILE = /^(?!checking).*(?:^|[\s:])(?:gcc|cc|\/usr\/bin\/cc)\s.*\s-c\s/;

/**
 * The log of the build of a library's entry: the stage logs of every run are under
 * <state>/logs/<profile>-<plan>/ (the entry may have been built by another profile's run that
 * shares it, and a shared state dir holds logs of other code's builds too): the newest log that
 * holds every command this code runs for the library (`$ (cd <tree> && <command>)` lines, make's
 * parallelism arguments wherever they stand).
 */
function libraryLog(name: string): string | undefined {
  const c = libraries(plan).find((l) => l.name === name)!;
  const JOBS = '\u0000jobs';
  const wanted = libraryCommands(c, { jobs: [JOBS], hardening: FLAGS, verbose: true }).map((cmd) => {
    const at = cmd.args.indexOf(JOBS);
    const before = at < 0 ? cmd.args : cmd.args.slice(0, at);
    const after = at < 0 ? [] : cmd.args.slice(at + 1);
    const q = (xs: string[]) => xs.map(quoteArg).join(' ');
    // not a cross build's log (its configure line starts the same way, then --host=… or
    // OpenSSL's --cross-compile-prefix=…; its compilers are aarch64-linux-gnu-gcc)
    return (l: string) => l.startsWith('$ (cd ') && !/ --host=| --cross-compile-prefix=/.test(l) && l.includes(` && ${q([cmd.cmd, ...before])}`) && l.endsWith(`${after.length ? ` ${q(after)}` : ''})`);
  });
  const dir = path.join(TEST_HOME, 'logs');
  const logs = readdirSync(dir)
    .map((d) => path.join(dir, d, `library-${name}.log`))
    .filter((f) => {
      if (!existsSync(f)) return false;
      const lines = readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('$ (cd '));
      return wanted.every((w) => lines.some(w));
    })
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return logs[0];
}

describe('hardening, on the shared real build', () => {
  let s: SummaryJson;
  beforeAll(async () => {
    s = await builtSummary('ktls');
  }, 45 * 60_000);

  it('every compile line of every library stage log has the hardening flags, and the library keeps its own -O level', () => {
    const own: Record<string, RegExp> = { openssl: /\s-O3\s/, pcre2: /\s-O2\s/, jemalloc: /\s-O3\s/, 'zlib-ng': /\s-O[23]\s/ };
    for (const lib of libraries(plan)) {
      const log = libraryLog(lib.name);
      expect(log, `no log of library:${lib.name} with this code's commands under ${TEST_HOME}/logs`).toBeDefined();
      const lines = readFileSync(log!, 'utf8').split('\n').filter((l) => COMPILE.test(l));
      expect(lines.length, `${log}: compile lines`).toBeGreaterThan(10);
      for (const l of lines) for (const f of FLAGS) expect(l.includes(` ${f}`), `${log}: ${f} missing in: ${l.slice(0, 300)}`).toBe(true);
      const o = own[lib.name];
      if (o) expect(lines.every((l) => o.test(l)), `${lib.name} keeps its ${o.source}`).toBe(true);
    }
  });

  it('nginx: the binary has every protection of the profile; at least 80% of its functions start with endbr64', async () => {
    const h = await elfHardening(s.binary);
    for (const p of plan.hardening.protections) if (p !== 'format') expect(h.findings[p].found, `${p}: ${h.findings[p].evidence}`).toBe(true);
    expect(h.functions!.endbr64 / h.functions!.total).toBeGreaterThanOrEqual(ENDBR_MIN);
    console.log(`hardening of ${s.binary}: ${Object.entries(h.findings).map(([k, f]) => `${k}: ${f.evidence}`).join('; ')}`);
  });

  it('Debian\'s hardening-check (devscripts) says the same: stack protector, fortify, stack clash, RELRO, BIND_NOW, PIE', async () => {
    // the packages ship this binary stripped; hardening-check reads the dynamic symbols and the code, which stripping keeps
    const r = await execa('hardening-check', ['--nocfprotection', s.binary], { reject: false });
    const out = String(r.stdout);
    for (const what of ['Position Independent Executable', 'Stack protected', 'Fortify Source functions', 'Read-only relocations', 'Immediate binding', 'Stack clash protection']) {
      expect(out, out).toMatch(new RegExp(`${what}: yes`));
    }
  });
});
