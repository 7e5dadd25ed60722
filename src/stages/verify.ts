// Verify stage (and `nginx-forge verify`): check a binary against the plan.
//   nginx -V: version, "built with OpenSSL <pinned>", every configure argument, the kTLS option
//   kTLS in the TLS library the binary really uses (kTLS profiles): OpenSSL linked in statically
//     (nm: its ktls_* functions), or the shared libssl it loads (ldd), judged by whether that
//     library calls sendfile() (SSL_sendfile only does with kTLS compiled in)
//   each library, as its recipe's "verify" says: a string it leaves in the binary, shared names
//   that must not be NEEDED (linked statically), an `nginx -t` run that shows it (jemalloc stats)
//   nginx -t on a generated config
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MissingToolError, VerifyError } from '../errors.ts';
import { libraries, server, tlsLibrary, type BuildPlan } from '../plan.ts';
import { tempPathDirectives } from '../nginxconf.ts';

export interface Check {
  check: string;
  ok: boolean;
  expected: string;
  actual: string;
}

/** How nginx's configure renders its arguments in `nginx -V` (values with spaces in single quotes). */
export function renderConfigureArgs(args: string[]): string {
  return args.map((a) => (/\s/.test(a) ? a.replace(/^(--[^=]*=)(.*)$/s, "$1'$2'") : a)).join(' ');
}

/** A minimal config that keeps every path inside `dir` (binaries carry Debian paths). */
export function minimalConfig(dir: string): string {
  const p = (f: string) => path.join(dir, f);
  for (const d of ['logs', 'tmp']) mkdirSync(p(d), { recursive: true });
  return `worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('logs/error.log')};
events { worker_connections 64; }
http {
  access_log off;
${tempPathDirectives(p('tmp'), '  ')}
  gzip on;
  server { listen 127.0.0.1:8; location ~ ^/(?<x>[a-z]+)$ { return 200 $x; } }
}
`;
}

async function runNginx(binary: string, args: string[], env: Record<string, string> = {}) {
  try {
    return await execa(binary, args, { reject: false, all: true, env, timeout: 30_000 });
  } catch (e) {
    throw new MissingToolError(binary, 'verify', `is ${binary} an executable nginx?`);
  }
}

export async function verifyBinary(binary: string, plan: BuildPlan): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (check: string, ok: boolean, expected: string, actual: string) => checks.push({ check, ok, expected, actual });

  const v = await runNginx(binary, ['-V']);
  const out = String(v.all ?? '');
  if (v.exitCode !== 0 && !out.includes('nginx version')) {
    add('nginx -V', false, 'exit 0', `${v.exitCode ?? v.signal}: ${out.slice(0, 200)}`);
    return checks;
  }
  const nginx = server(plan);
  const version = /nginx version: nginx\/(\S+)/.exec(out)?.[1] ?? '(none)';
  add('nginx version', version === nginx.version, nginx.version, version);

  const ssl = tlsLibrary(plan);
  if (ssl) {
    const built = /built with OpenSSL (\S+)/.exec(out)?.[1] ?? '(none)';
    add(`built with ${ssl.displayName}`, built === ssl.version, ssl.version, built);
    const running = /running with OpenSSL (\S+)/.exec(out)?.[1];
    if (running) add(`running with ${ssl.displayName}`, running === ssl.version, ssl.version, running);
  }

  const line = /configure arguments: (.*)/.exec(out)?.[1] ?? '';
  const expectedLine = renderConfigureArgs(plan.configureArgs);
  if (line === expectedLine) {
    add('configure arguments', true, `${plan.configureArgs.length} arguments`, 'all present, in order');
  } else {
    // say what differs, not two full dumps (the plan's list: `nginx-forge plan`)
    const got = splitConfigureLine(line);
    const want = plan.configureArgs.map((a) => renderConfigureArgs([a]));
    const missing = want.filter((a) => !got.includes(a));
    const extra = got.filter((a) => !want.includes(a));
    const diff = [missing.length ? `missing: ${missing.join(' ')}` : '', extra.length ? `not in the plan: ${extra.join(' ')}` : '', !missing.length && !extra.length ? 'same arguments in another order' : '']
      .filter(Boolean)
      .join('; ');
    add('configure arguments', false, `the ${want.length} arguments of the plan (nginx-forge plan --profile ${plan.profile})`, diff);
  }
  const ktlsOption = ssl?.ktls?.option;

  const bytes = readFileSync(binary);
  const needed = await neededLibraries(binary);
  if (plan.ktls) {
    const sharedSsl = needed.find((l) => /^libssl\.so/.test(l));
    if (sharedSsl) {
      const lib = await resolveLibrary(binary, sharedSsl);
      const k = lib ? await sharedLibsslKtls(lib) : undefined;
      add(`kTLS in the shared OpenSSL it loads (${lib ?? sharedSsl})`, k === true, 'libssl built with kTLS (SSL_sendfile calls sendfile)', k === undefined ? `cannot inspect ${lib ?? `${sharedSsl} (not found by ldd)`}` : k ? 'yes' : 'no: that libssl has no kTLS (its SSL_sendfile never calls sendfile)');
    } else {
      // the TLS library is built into nginx: its configure options must carry the kTLS option
      if (ktlsOption) add(`${ktlsOption} in ${ssl!.displayName} options`, line.includes(ktlsOption), ktlsOption, line.includes(ktlsOption) ? ktlsOption : 'absent');
      const nm = await execa('nm', [binary], { reject: false, maxBuffer: 256 * 1024 * 1024 });
      const syms = String(nm.stdout).split('\n').filter((l) => /\bktls_/.test(l)).length;
      const stripped = /no symbols/.test(String(nm.stderr));
      add('kTLS in the OpenSSL linked in (nm: ktls_*)', syms > 0, '> 0 ktls_* functions', nm.exitCode === 0 ? String(syms) : stripped ? 'cannot tell: the binary is stripped' : `nm failed: ${nm.stderr}`);
    }
  }
  for (const lib of libraries(plan)) {
    const text = lib.verify.binaryContains;
    if (!text) continue;
    const has = bytes.includes(Buffer.from(text));
    add(`${lib.displayName} string in the binary`, has, `${lib.displayName} ${lib.version} ("${text}" in the binary)`, has ? 'present' : 'absent');
  }
  // a version string alone can also come from a header: the libraries must be linked in,
  // not picked up from the system at run time
  const names = libraries(plan).flatMap((l) => l.verify.sharedNames);
  if (names.length) {
    const shared = needed.filter((l) => names.some((n) => l.startsWith(`${n}.so`)));
    const who = libraries(plan).filter((l) => l.verify.sharedNames.length).map((l) => l.displayName).join(', ');
    add(`${who} linked statically (readelf -d NEEDED)`, shared.length === 0, `none of ${names.join('/')}`, shared.length ? shared.join(', ') : `none (NEEDED: ${needed.join(', ')})`);
  }

  const dir = mkdtempSync(path.join(tmpdir(), 'nginx-forge-verify-'));
  try {
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, minimalConfig(dir));
    const base = ['-t', '-p', dir, '-c', conf, '-e', path.join(dir, 'logs/error.log')];
    const t = await runNginx(binary, base);
    add('nginx -t', t.exitCode === 0, 'syntax ok / test is successful', t.exitCode === 0 ? 'ok' : String(t.all).trim().split('\n').slice(-3).join(' '));
    for (const lib of libraries(plan)) {
      const t2 = lib.verify.nginxT;
      if (!t2) continue;
      const r = await runNginx(binary, base, t2.env);
      const seen = String(r.all).includes(t2.expect);
      const env = Object.entries(t2.env).map(([k, v]) => `${k}=${v}`).join(' ');
      add(`${lib.displayName} (${env} nginx -t)`, seen, `"${t2.expect}" printed`, seen ? 'printed' : 'not printed');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return checks;
}

/** Shared libraries a binary asks the dynamic loader for (ELF NEEDED entries). */
export async function neededLibraries(binary: string): Promise<string[]> {
  const r = await execa('readelf', ['-d', binary], { reject: false });
  if (r.exitCode !== 0) throw new MissingToolError('readelf', 'verify (binutils)');
  return [...String(r.stdout).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
}

/** `configure arguments: ...` split into arguments as nginx prints them (values with spaces quoted). */
export function splitConfigureLine(line: string): string[] {
  return [...line.matchAll(/(?:[^\s']+|'[^']*')+/g)].map((m) => m[0]);
}

/** Where the dynamic loader finds `soname` for this binary (ldd), or undefined. */
export async function resolveLibrary(binary: string, soname: string): Promise<string | undefined> {
  const r = await execa('ldd', [binary], { reject: false });
  const m = new RegExp(`^\\s*${soname.replace(/[.+]/g, '\\$&')} => (\\S+)`, 'm').exec(String(r.stdout));
  return m && m[1] !== 'not' ? m[1] : undefined;
}

/** Does this shared libssl do kTLS? With kTLS compiled in, its SSL_sendfile calls sendfile(). */
export async function sharedLibsslKtls(lib: string): Promise<boolean | undefined> {
  const r = await execa('nm', ['-D', '--undefined-only', lib], { reject: false });
  if (r.exitCode !== 0) return undefined;
  return /\bsendfile(64)?(@|$)/m.test(String(r.stdout));
}

/** nginx -V of a binary nginx-forge built: its dependencies come from ../deps/ of the build tree. */
export function builtByForge(nginxV: string): boolean {
  return /-I\.\.\/deps\/(zlib-ng|jemalloc)\/include|-L\.\.\/deps\/(zlib-ng|jemalloc)\/lib/.test(nginxV);
}

/**
 * Throw a VerifyError naming every mismatch. `listed`: the checks were already printed (the
 * verify command), so the error only sums up; `foreign`: the binary was not built by nginx-forge.
 */
export function assertChecks(binary: string, checks: Check[], opts: { listed?: boolean; foreign?: boolean; profile?: string } = {}): void {
  const bad = checks.filter((c) => !c.ok);
  if (bad.length) throw new VerifyError(bad, binary, opts);
}
