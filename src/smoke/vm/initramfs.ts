// The VM's initramfs: a static busybox, /init (guest.ts), and the kernel modules the test needs —
// virtio_pci, 9pnet_virtio, 9p, tls and everything in crypto/, arch/<cpu>/crypto/, lib/crypto/
// (the target's, src/target.ts) — with their dependencies, indexed by depmod. Packed as cpio
// newc + gzip, cached by content. The busybox is the host's, or for a VM of another machine the
// one in its guest root (of the target's architecture).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ForgeError, MissingToolError, ExitCode } from '../../errors.ts';
import { run, type RunContext } from '../../exec.ts';
import { cpioNewc, type CpioEntry } from './cpio.ts';
import { renderInit } from './guest.ts';
import { parseElfHeader } from '../elf.ts';
import type { Target } from '../../target.ts';
import { VMS, vmOf } from './machines.ts';

export const INITRAMFS_FORMAT = 1;
/** Modules loaded by name (virtio transport, 9p, kernel TLS). */
export const MODULE_ROOTS = ['virtio_pci', '9pnet_virtio', '9p', 'tls'];
/** Without these the guest cannot mount the host root at all. */
export const REQUIRED_MODULES = ['virtio_pci', '9pnet_virtio', '9p'];
/** Whole directories (the x86-64 VM's; a target's are its vm.cryptoModuleDirs): the kernel loads ciphers on demand (gcm(aes), ctr, ghash, chacha20poly1305...). */
export const MODULE_DIRS = VMS['x86_64-linux-gnu']!.cryptoModuleDirs;
const SKIP = new Set(['tcrypt']); // runs self-tests when loaded

const KO = /\.ko(\.(xz|zst|gz))?$/;
export const moduleName = (file: string) => path.basename(file).replace(KO, '').replace(/-/g, '_');

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  let ents;
  try {
    ents = readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of ents) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else if (KO.test(e.name)) out.push(r);
  }
  return out;
}

/** name → path relative to the modules dir (kernel/..., updates/..., extra/...). */
export function indexModules(modulesDir: string): Map<string, string> {
  const idx = new Map<string, string>();
  for (const top of ['kernel', 'updates', 'extra']) for (const r of walk(modulesDir, top)) if (!idx.has(moduleName(r))) idx.set(moduleName(r), r);
  return idx;
}

export function builtinModules(modulesDir: string): Set<string> {
  try {
    return new Set(readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(moduleName));
  } catch {
    return new Set();
  }
}

/** "depends=a,b" from an uncompressed module's .modinfo strings. */
export function dependsFromModinfo(ko: Buffer): string[] {
  const key = Buffer.from('depends=');
  let i = ko.indexOf(key);
  while (i >= 0) {
    if (i === 0 || ko[i - 1] === 0) {
      const end = ko.indexOf(0, i);
      const v = ko.subarray(i + key.length, end < 0 ? undefined : end).toString('utf8');
      return v.split(',').map((s) => s.trim().replace(/-/g, '_')).filter(Boolean);
    }
    i = ko.indexOf(key, i + 1);
  }
  return [];
}

async function dependsOf(file: string, ctx: RunContext): Promise<string[]> {
  if (file.endsWith('.ko')) return dependsFromModinfo(readFileSync(file));
  const out = await run(ctx, 'modinfo', ['-F', 'depends', file]);
  return out.split(/[,\n]/).map((s) => s.trim().replace(/-/g, '_')).filter(Boolean);
}

export interface ModuleSelection {
  files: string[];
  /** roots neither present as a module nor built in */
  missing: string[];
}

export async function selectModules(modulesDir: string, ctx: RunContext, dirs: readonly string[] = MODULE_DIRS): Promise<ModuleSelection> {
  const idx = indexModules(modulesDir);
  const builtin = builtinModules(modulesDir);
  const want: string[] = [];
  const missing: string[] = [];
  for (const m of MODULE_ROOTS) {
    if (idx.has(m)) want.push(m);
    else if (!builtin.has(m)) missing.push(m);
  }
  for (const [name, rel] of idx) if (dirs.some((d) => rel.startsWith(`${d}/`)) && !SKIP.has(name)) want.push(name);
  const chosen = new Set<string>();
  const queue = [...want];
  while (queue.length) {
    const m = queue.shift()!;
    if (chosen.has(m)) continue;
    const rel = idx.get(m);
    if (!rel) continue; // built in (or an optional soft dependency)
    chosen.add(m);
    for (const d of await dependsOf(path.join(modulesDir, rel), ctx)) if (!chosen.has(d)) queue.push(d);
  }
  return { files: [...chosen].map((m) => idx.get(m)!).sort(), missing };
}

/** True for an ELF executable without a program interpreter (statically linked). */
export function isStaticElf(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const phoff = is64 ? Number(le ? buf.readBigUInt64LE(0x20) : buf.readBigUInt64BE(0x20)) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > buf.length) return false;
    if (u32(off) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

/** Where busybox is looked for, in order (Debian's busybox-static installs /bin/busybox). */
export const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox', '/usr/sbin/busybox', '/bin/busybox.static'];

/**
 * The first statically linked busybox (under `root`: a guest root of another machine), and the
 * dynamically linked ones seen before it. One search for doctor and the VM.
 */
export function staticBusybox(root = '/'): { path?: string; data?: Buffer; dynamic: string[] } {
  const dynamic: string[] = [];
  for (const p of BUSYBOX_PATHS.map((b) => path.join(root, b))) {
    if (!existsSync(p)) continue;
    const data = readFileSync(p);
    if (isStaticElf(data)) return { path: p, data, dynamic };
    dynamic.push(p);
  }
  return { dynamic };
}

export function findStaticBusybox(root = '/', target?: Target): { path: string; data: Buffer } {
  const found = staticBusybox(root);
  const where = root === '/' ? '' : ` in the guest root ${root}`;
  if (found.path) {
    const machine = parseElfHeader(found.data!, target?.nodeArch)?.header?.machine;
    if (target && machine !== target.elfMachine) {
      throw new ForgeError(`${found.path}: a busybox for e_machine ${machine}, not for the VM's ${target.elfName} (${target.elfMachine})`, {
        exitCode: ExitCode.smoke,
        hint: `the guest root of a ${target.cpu} VM must hold that architecture's busybox-static`,
      });
    }
    return { path: found.path, data: found.data! };
  }
  throw new MissingToolError(`busybox (statically linked)${where}`, 'the smoke test VM initramfs', `install busybox-static${root === '/' ? ' (Debian/Ubuntu: apt-get install busybox-static)' : ' into that root'}${found.dynamic.length ? `; found only ${found.dynamic.map((p) => `${p} (dynamically linked)`).join(', ')}` : ''}`);
}

function findDepmod(): string {
  for (const p of ['/usr/sbin/depmod', '/sbin/depmod', '/usr/bin/depmod', '/bin/depmod']) if (existsSync(p)) return p;
  return 'depmod';
}

export interface InitramfsResult {
  path: string;
  modules: number;
  missing: string[];
  cached: boolean;
}

/**
 * Build (or reuse) the initramfs for the kernel whose modules are in `modulesDir`
 * (lib/modules/<release>). Written to `cacheDir/initramfs-<key>.cpio.gz` atomically.
 */
export async function buildInitramfs(
  modulesDir: string,
  cacheDir: string,
  ctx: RunContext,
  onLog?: (l: string) => void,
  /** the VM's machine (default x86-64) and where its busybox is (default the host's root) */
  vm: { target?: Target; root?: string } = {},
): Promise<InitramfsResult> {
  const release = path.basename(path.resolve(modulesDir));
  const sel = await selectModules(modulesDir, ctx, vm.target ? vmOf(vm.target).cryptoModuleDirs : undefined);
  const stillMissing = sel.missing.filter((m) => REQUIRED_MODULES.includes(m));
  if (stillMissing.length) {
    throw new ForgeError(`the VM kernel's modules (${modulesDir}) lack ${stillMissing.join(', ')}, needed to share the host root over 9p`, {
      exitCode: ExitCode.smoke,
      hint: 'use a kernel with CONFIG_VIRTIO_PCI, CONFIG_NET_9P_VIRTIO and CONFIG_9P_FS (as modules or built in), or drop --kernel/--modules to use the pinned Debian kernel',
    });
  }
  if (sel.missing.includes('tls')) onLog?.(`VM kernel ${release} has no tls module and no built-in tls: expect KERNEL_NO_KTLS`);
  const busybox = findStaticBusybox(vm.root, vm.target);
  const init = renderInit();
  const extras = ['modules.builtin', 'modules.builtin.modinfo', 'modules.order'].filter((f) => existsSync(path.join(modulesDir, f)));

  const h = createHash('sha256');
  h.update(`format ${INITRAMFS_FORMAT}\0${release}\0${init}\0`);
  h.update(createHash('sha256').update(busybox.data).digest());
  const contents = new Map<string, Buffer>();
  for (const rel of [...sel.files, ...extras]) {
    const data = readFileSync(path.join(modulesDir, rel));
    contents.set(rel, data);
    h.update(`${rel}\0`).update(createHash('sha256').update(data).digest());
  }
  const key = h.digest('hex').slice(0, 24);
  const out = path.join(cacheDir, `initramfs-${release}-${key}.cpio.gz`);
  if (existsSync(out) && statSync(out).size > 0) return { path: out, modules: sel.files.length, missing: sel.missing, cached: true };

  mkdirSync(cacheDir, { recursive: true });
  const staging = mkdtempSync(path.join(cacheDir, '.staging-'));
  try {
    const modRoot = path.join(staging, 'lib/modules', release);
    for (const [rel, data] of contents) {
      mkdirSync(path.dirname(path.join(modRoot, rel)), { recursive: true });
      writeFileSync(path.join(modRoot, rel), data);
    }
    await run(ctx, findDepmod(), ['-b', staging, release]);
    if (!existsSync(path.join(modRoot, 'modules.dep'))) {
      throw new ForgeError(`depmod wrote no modules.dep under ${modRoot}`, { exitCode: ExitCode.smoke, hint: `see ${ctx.log}` });
    }
    const entries: CpioEntry[] = [];
    for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'mnt', 'tmp', 'lib', 'lib/modules', 'usr', 'usr/bin', 'usr/sbin', 'etc']) entries.push({ type: 'dir', name: d });
    entries.push({ type: 'char', name: 'dev/console', major: 5, minor: 1 });
    entries.push({ type: 'char', name: 'dev/null', major: 1, minor: 3, mode: 0o666 });
    entries.push({ type: 'file', name: 'bin/busybox', data: busybox.data, mode: 0o755 });
    entries.push({ type: 'symlink', name: 'bin/sh', target: 'busybox' });
    entries.push({ type: 'symlink', name: 'sbin/modprobe', target: '../bin/busybox' });
    entries.push({ type: 'file', name: 'init', data: Buffer.from(init), mode: 0o755 });
    const tree = (rel: string) => {
      const abs = path.join(staging, rel);
      for (const e of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const r = `${rel}/${e.name}`;
        if (e.isDirectory()) {
          entries.push({ type: 'dir', name: r });
          tree(r);
        } else entries.push({ type: 'file', name: r, data: readFileSync(path.join(staging, r)) });
      }
    };
    entries.push({ type: 'dir', name: `lib/modules/${release}` });
    tree(`lib/modules/${release}`);
    const tmp = `${out}.tmp-${process.pid}`;
    writeFileSync(tmp, gzipSync(cpioNewc(entries), { level: 6 }));
    renameSync(tmp, out);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { path: out, modules: sel.files.length, missing: sel.missing, cached: false };
}

