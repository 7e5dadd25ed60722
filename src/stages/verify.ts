// Verify stage (and `nginx-forge verify`): check a binary against the plan.
//   nginx -V: version, "built with OpenSSL <pinned>", every configure argument, the kTLS option
//   kTLS in the TLS library the binary really uses (kTLS profiles): OpenSSL linked in statically
//     (nm: its ktls_* functions), or the shared libssl it loads (ldd), judged by whether that
//     library calls sendfile() (SSL_sendfile only does with kTLS compiled in)
//   each library, as its recipe's "verify" says: a string it leaves in the binary, shared names
//   that must not be NEEDED (linked statically), an `nginx -t` run that shows it (jemalloc stats)
//   nginx -t on a generated config
import { execa } from 'execa';
import { runnerFor, toolPrefix, type Target } from '../target.ts';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { MissingToolError, VerifyError } from '../errors.ts';
import { libraries, moduleObjects, modules, modulesPath, server, tlsLibrary, type BuildPlan } from '../plan.ts';
import { tempPathDirectives } from '../nginxconf.ts';
import { parseNginxV } from '../nginxv.ts';
import { sanitizersOf, verifyEnv } from '../nginxtests/sanitizers.ts';
import { elfHardening, hardeningChecks } from '../elfhardening.ts';

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

/**
 * A minimal config that keeps every path inside `dir` (binaries carry Debian paths); `extra`
 * adds main-context lines (load_module) and http{} directives (a module's).
 */
export function minimalConfig(dir: string, extra: { main?: string[]; http?: string[]; location?: string[] } = {}): string {
  const p = (f: string) => path.join(dir, f);
  for (const d of ['logs', 'tmp']) mkdirSync(p(d), { recursive: true });
  return `${(extra.main ?? []).map((l) => `${l}\n`).join('')}worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('logs/error.log')};
events { worker_connections 64; }
http {
  access_log off;
${tempPathDirectives(p('tmp'), '  ')}
  gzip on;
${(extra.http ?? []).map((l) => `  ${l}\n`).join('')}  server { listen 127.0.0.1:8; location ~ ^/(?<x>[a-z]+)$ { return 200 $x; }${extra.location?.length ? ` location /module/ { ${extra.location.join(' ')} }` : ''} }
}
`;
}

/**
 * Where the dynamic modules of this binary are: <root><modules-path> when the install root is
 * known (the verify stage), else below the root the binary's --sbin-path implies, a tarball's
 * modules/ beside sbin/, or the modules path itself (an installed system).
 */
export function modulesDirFor(binary: string, plan: BuildPlan, root?: string): string {
  const mp = modulesPath(plan);
  if (root) return path.join(root, mp);
  const sbin = plan.configureArgs.find((a) => a.startsWith('--sbin-path='))?.slice('--sbin-path='.length);
  const abs = path.resolve(binary);
  const candidates = [
    ...(sbin && abs.endsWith(sbin) ? [path.join(abs.slice(0, abs.length - sbin.length), mp)] : []),
    path.join(path.dirname(path.dirname(abs)), 'modules'),
    mp,
  ];
  return candidates.find((d) => existsSync(d)) ?? candidates[0]!;
}

/** The load_module lines of the plan's dynamic modules, found in `dir`. */
export function loadModuleLines(plan: BuildPlan, dir: string): string[] {
  return modules(plan).flatMap((m) => moduleObjects(m).map((so) => `load_module ${path.join(dir, so)};`));
}

/**
 * Why `binary` cannot be an nginx binary (undefined when it can): not a regular file, not
 * executable, or not ELF (a script that prints "nginx version" is not one; readelf and nm would
 * only fail on it later, as if a tool were missing).
 */
export function notAnExecutable(binary: string): string | undefined {
  let st;
  try {
    st = statSync(binary);
  } catch (e) {
    return `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (st.isDirectory()) return 'is a directory, not an nginx binary';
  if (!st.isFile()) return 'is not a regular file';
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    return `is not executable (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  const head = Buffer.alloc(128);
  let n = 0;
  try {
    const fd = openSync(binary, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (n >= 4 && head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return undefined;
  if (head.subarray(0, 2).toString('latin1') === '#!') {
    const interp = head.subarray(0, n).toString('latin1').split('\n')[0]!.replace(/[^\x20-\x7e]/g, '?').trim();
    return `is a script (${interp}), not an ELF executable`;
  }
  return 'is not an ELF executable (it does not start with \\x7fELF)';
}

async function runNginx(binary: string, args: string[], env: Record<string, string> = {}, plan?: BuildPlan, target?: Target) {
  // a binary for another machine runs under qemu-user (src/target.ts)
  const r = target ? runnerFor(target, binary) : { cmd: binary, args: [] };
  try {
    return await execa(r.cmd, [...r.args, ...args], { reject: false, all: true, env: { ...(plan ? verifyEnv(sanitizersOf(plan.configureArgs)) : {}), ...env }, timeout: 30_000 });
  } catch (e) {
    if (r.cmd !== binary) throw new MissingToolError(r.cmd, 'verify', `it runs the ${target!.cpu} binary here: apt-get install ${target!.crossPackages.join(' ')}`);
    throw new MissingToolError(binary, 'verify', `is ${binary} an executable nginx?`);
  }
}

/**
 * The ELF machine of the binary as `readelf -h` reads it (any architecture's ELF header), against
 * the plan's target: an arm64 binary verified as an x86-64 plan (or the reverse) is named as such.
 */
export async function elfMachineCheck(binary: string, target: Target): Promise<{ ok: boolean; actual: string }> {
  const r = await execa('readelf', ['-h', binary], { reject: false });
  if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError('readelf', 'verify (binutils)');
  const machine = /^\s*Machine:\s*(.+)$/m.exec(String(r.stdout))?.[1]?.trim();
  if (!machine) return { ok: false, actual: `readelf -h cannot read it: ${String(r.stderr).trim().split('\n')[0]}` };
  return { ok: machine === target.elfName, actual: machine };
}

export async function verifyBinary(binary: string, plan: BuildPlan, opts: { root?: string } = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (check: string, ok: boolean, expected: string, actual: string) => checks.push({ check, ok, expected, actual });

  const notExe = notAnExecutable(binary);
  if (notExe) {
    add('an ELF executable', false, 'an executable nginx binary', notExe);
    return checks;
  }
  const target = plan.target;
  const m = await elfMachineCheck(binary, target);
  add('ELF machine (readelf -h)', m.ok, `${target.elfName} (the plan's target, ${target.triple})`, m.ok ? m.actual : `${m.actual}: the binary is for another machine than the plan's target (--target, or the profile's "target")`);
  if (!m.ok) return checks;
  const run = plan.cross ? target : undefined;
  const v = await runNginx(binary, ['-V'], {}, undefined, run);
  const out = String(v.all ?? '');
  if (v.exitCode !== 0 && !out.includes('nginx version')) {
    // no exit code: it did not start (execa's reason), or it ended by a signal
    const how = v.exitCode !== undefined ? `exit ${v.exitCode}` : v.signal ? `killed by ${v.signal}` : `could not run it: ${(v as { code?: string }).code ?? v.shortMessage}`;
    add('nginx -V', false, 'exit 0', `${how}${out ? `: ${out.slice(0, 200)}` : ''}`);
    return checks;
  }
  const nv = parseNginxV(out);
  const nginx = server(plan);
  const version = (nv.product?.startsWith('nginx/') ? nv.version : undefined) ?? '(none)';
  add('nginx version', version === nginx.version, nginx.version, version);

  const ssl = tlsLibrary(plan);
  if (ssl) {
    const openssl = nv.tls?.library === 'OpenSSL' ? nv.tls : undefined;
    const built = openssl?.built ?? '(none)';
    add(`built with ${ssl.displayName}`, built === ssl.version, ssl.version, built);
    const running = openssl?.running;
    if (running) add(`running with ${ssl.displayName}`, running === ssl.version, ssl.version, running);
  }

  const line = nv.configureLine;
  const expectedLine = renderConfigureArgs(plan.configureArgs);
  if (line === expectedLine) {
    add('configure arguments', true, `${plan.configureArgs.length} arguments`, 'all present, in order');
  } else {
    // say what differs, not two full dumps (the plan's list: `nginx-forge plan`)
    const got = nv.configureArgs;
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
      const nm = await execa(`${toolPrefix(target)}nm`, [binary], { reject: false, maxBuffer: 256 * 1024 * 1024 });
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

  // hardening: each protection the profile asks for must be found in the binary; the others are
  // reported as found or not (the report says which protections the binary has)
  checks.push(...hardeningChecks((await elfHardening(binary)).findings, plan.hardening?.protections ?? []));

  // modules: a static one is in nginx -V; a dynamic one's .so files are installed, link their
  // libraries statically, and load (nginx -t below)
  const modDir = modulesDirFor(binary, plan, opts.root);
  for (const m of modules(plan)) {
    const what = `module ${m.displayName} (${m.name}, ${m.module.link})`;
    const flag = plan.configureArgs.find((a) => /^--add(-dynamic)?-module=/.test(a) && a.includes(`/${m.layout}`));
    add(`${what} in nginx -V`, Boolean(flag && line.includes(flag)), flag ?? `--add-module for ${m.layout}`, flag && line.includes(flag) ? 'present' : 'absent');
    const libNames = libraries(plan).filter((l) => m.module.requires.includes(l.name)).flatMap((l) => l.verify.sharedNames);
    for (const so of moduleObjects(m)) {
      const file = path.join(modDir, so);
      if (!existsSync(file)) {
        add(`${what}: ${so} installed`, false, file, 'missing');
        continue;
      }
      add(`${what}: ${so} installed`, true, file, 'present');
      if (libNames.length) {
        const shared = (await neededLibraries(file)).filter((l) => libNames.some((n) => l.startsWith(`${n}.so`)));
        add(`${what}: ${so} links ${libNames.join('/')} statically`, shared.length === 0, `none of ${libNames.join('/')} NEEDED`, shared.length ? shared.join(', ') : 'none');
      }
    }
  }

  const dir = tempDir('verify');
  try {
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(conf, minimalConfig(dir));
    const base = ['-t', '-p', dir, '-c', conf, '-e', path.join(dir, 'logs/error.log')];
    const t = await runNginx(binary, base, {}, plan, run);
    add('nginx -t', t.exitCode === 0, 'syntax ok / test is successful', t.exitCode === 0 ? 'ok' : String(t.all).trim().split('\n').slice(-3).join(' '));
    for (const lib of libraries(plan)) {
      const t2 = lib.verify.nginxT;
      if (!t2) continue;
      const r = await runNginx(binary, base, t2.env, plan, run);
      const seen = String(r.all).includes(t2.expect);
      const env = Object.entries(t2.env).map(([k, v]) => `${k}=${v}`).join(' ');
      add(`${lib.displayName} (${env} nginx -t)`, seen, `"${t2.expect}" printed`, seen ? 'printed' : 'not printed');
    }
    for (const m of modules(plan)) {
      const sos = moduleObjects(m).map((so) => path.join(modDir, so));
      if (!sos.every((f) => existsSync(f))) continue;
      const mconf = path.join(dir, `nginx-${m.name}.conf`);
      writeFileSync(mconf, minimalConfig(dir, { main: sos.map((f) => `load_module ${f};`), http: m.module.directives, location: m.module.locationDirectives }));
      const r = await runNginx(binary, ['-t', '-p', dir, '-c', mconf, '-e', path.join(dir, 'logs/error.log')], {}, plan, run);
      const how = [sos.length ? `load_module ${moduleObjects(m).join(', ')}` : '', [...m.module.directives, ...m.module.locationDirectives].join(' ')].filter(Boolean).join(' + ');
      add(`module ${m.displayName} (${m.name}, ${m.module.link}): nginx -t with ${how || 'nothing'}`, r.exitCode === 0, 'syntax ok / test is successful', r.exitCode === 0 ? 'ok' : String(r.all).trim().split('\n').slice(-3).join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return checks;
}

/** Shared libraries a binary asks the dynamic loader for (ELF NEEDED entries). */
export async function neededLibraries(binary: string): Promise<string[]> {
  const r = await execa('readelf', ['-d', binary], { reject: false });
  if ((r as { code?: string }).code === 'ENOENT') throw new MissingToolError('readelf', 'verify (binutils)');
  if (r.exitCode !== 0) {
    throw new VerifyError([{ check: 'ELF dynamic section (readelf -d)', expected: 'readable', actual: String(r.stderr || r.shortMessage).trim().split('\n')[0]! }], binary);
  }
  return [...String(r.stdout).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
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
