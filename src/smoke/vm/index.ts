// Run the probe inside a QEMU guest (TCG: nested KVM hangs on the machines this was built on):
// the host root is shared read-only over 9p, the io directory is shared writable, and the guest's
// /init (guest.ts) chroots into the host root to run the same probe script as a native run.
// A VM of another machine (an arm64 guest on an x86-64 host: src/target.ts's vm table) gets a
// guest root of its own architecture instead of the host's (a Debian root with the probe's tools).
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, ForgeError, MissingToolError, StageError } from '../../errors.ts';
import { which } from '../../which.ts';
import { run, type RunContext } from '../../exec.ts';
import { stateDir } from '../../paths.ts';
import { GUEST_FILES, IO_TAG, ROOT_TAG, renderGuestEnv } from './guest.ts';
import { buildInitramfs } from './initramfs.ts';
import { customKernel, pinnedKernel, type KernelTree } from './kernel.ts';
import { hostTriple, targetOf, type Target } from '../../target.ts';
import { vmOf } from './machines.ts';

export const DEFAULT_VM_TIMEOUT_SEC = 240;

export interface VmRunOptions {
  /** host directory shared writable with the guest; receives the console log too */
  share: string;
  /** run directories relative to `share`, each with probe.sh; run in this order, in one boot */
  runs: string[];
  /** guest directory the scratch tmpfs is mounted on */
  scratch: string;
  kernel?: string;
  modules?: string;
  /** the VM's machine (default: the host's) */
  target?: Target;
  /** the root the guest chroots into: the host's "/" (default), or one of the target's architecture */
  root?: string;
  distdir?: string;
  timeoutSec?: number;
  signal?: AbortSignal;
  onLog?: (l: string) => void;
  ctx: RunContext;
}

export interface VmRunResult {
  kernel: KernelTree;
  bootMs?: number;
  totalMs: number;
  consoleLog: string;
  /** per run (same order as `runs`): modules loaded after it */
  modulesLoaded: string[][];
  modprobeTls: string;
}

/** QEMU's option syntax doubles commas inside values. */
const qv = (s: string) => s.replace(/,/g, ',,');

export function qemuArgs(p: { vmlinuz: string; initrd: string; io: string; target?: Target; root?: string }): string[] {
  const vm = vmOf(p.target ?? targetOf(undefined));
  return [
    ...vm.machineArgs,
    '-accel', 'tcg,thread=multi',
    '-m', '2048',
    '-smp', '2',
    '-nographic',
    '-no-reboot',
    '-kernel', p.vmlinuz,
    '-initrd', p.initrd,
    '-append', `console=${vm.console} panic=-1 loglevel=4 rdinit=/init`,
    '-fsdev', `local,id=${ROOT_TAG},path=${qv(p.root ?? '/')},security_model=none,readonly=on,multidevs=remap`,
    '-device', `virtio-9p-pci,fsdev=${ROOT_TAG},mount_tag=${ROOT_TAG}`,
    '-fsdev', `local,id=${IO_TAG},path=${qv(p.io)},security_model=none,multidevs=remap`,
    '-device', `virtio-9p-pci,fsdev=${IO_TAG},mount_tag=${IO_TAG}`,
    '-nic', 'none',
  ];
}

function tail(file: string, n = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-n).map((l) => `    ${l}`).join('\n');
  } catch {
    return '    (no output)';
  }
}

export async function runInVm(o: VmRunOptions): Promise<VmRunResult> {
  const host = hostTriple();
  const target = o.target ?? targetOf(undefined);
  const root = o.root ?? '/';
  if (root === '/' && target.triple !== host) {
    throw new ForgeError(`a ${target.cpu} VM cannot chroot into this ${host ?? process.arch} host's root`, {
      exitCode: ExitCode.smoke,
      hint: `give it a guest root of the ${target.debArch} architecture (the build's smoke stage makes one with debootstrap)`,
    });
  }
  if (!which(vmOf(target).qemu, { PATH: `${process.env.PATH ?? ''}:/usr/bin:/bin` })) {
    throw new MissingToolError(vmOf(target).qemu, `the smoke test's ${target.cpu} VM`, `install ${vmOf(target).qemuPackage} (Debian/Ubuntu: apt-get install ${vmOf(target).qemuPackage})`);
  }
  const kernel = o.kernel ? customKernel(o.kernel, o.modules) : await pinnedKernel({ target, distdir: o.distdir, signal: o.signal, onLog: o.onLog, ctx: o.ctx });
  o.onLog?.(`VM kernel ${kernel.release} (${kernel.custom ? kernel.vmlinuz : kernel.source})${root === '/' ? '' : `, guest root ${root}`}`);
  const initrd = await buildInitramfs(kernel.modulesDir, path.join(stateDir(), 'vm', 'initramfs'), o.ctx, o.onLog, { target, root });
  o.onLog?.(`initramfs ${initrd.path} (${initrd.modules} modules${initrd.cached ? ', cached' : ''})`);

  // nothing from an earlier boot in the same directory may be taken for this one's
  for (const f of [GUEST_FILES.failed, GUEST_FILES.booted, GUEST_FILES.modprobeTls, GUEST_FILES.dmesg]) rmSync(path.join(o.share, f), { force: true });
  for (const r of o.runs) for (const f of [GUEST_FILES.probeExit, GUEST_FILES.probeOut, GUEST_FILES.lsmod]) rmSync(path.join(o.share, r, f), { force: true });
  writeFileSync(path.join(o.share, GUEST_FILES.env), renderGuestEnv({ scratch: o.scratch, runs: o.runs }));
  const consoleLog = path.join(o.share, 'console.log');
  writeFileSync(consoleLog, '');
  const timeoutSec = o.timeoutSec ?? DEFAULT_VM_TIMEOUT_SEC;
  const t0 = Date.now();
  o.onLog?.(`booting QEMU (${vmOf(target).qemu}, TCG, 2 vCPUs, 2 GiB; timeout ${timeoutSec} s); console: ${consoleLog}`);
  try {
    await run(
      { component: 'smoke', stage: 'vm', log: consoleLog, signal: o.signal, timeoutMs: timeoutSec * 1000 },
      vmOf(target).qemu,
      qemuArgs({ vmlinuz: kernel.vmlinuz, initrd: initrd.path, io: o.share, target, root }),
      { forceKillAfterDelay: 3000 },
    );
  } catch (e) {
    if (o.signal?.aborted) throw e;
    if (e instanceof StageError && /timed out/.test(e.message)) {
      throw new ForgeError(`the smoke test VM did not finish within ${timeoutSec} s and was stopped\n  console log kept: ${consoleLog}\n  last console lines:\n${tail(consoleLog)}`, {
        exitCode: ExitCode.smoke,
        hint: 'a slow host may need more time (SmokeOptions.vmTimeoutSec); otherwise see the console log for where the guest stopped',
      });
    }
    if (e instanceof ForgeError && e.exitCode === ExitCode.missingTool) throw e;
    throw new ForgeError(`QEMU failed: ${(e as Error).message}\n  console log kept: ${consoleLog}`, { exitCode: ExitCode.smoke, cause: e });
  }
  const totalMs = Date.now() - t0;
  const failed = path.join(o.share, GUEST_FILES.failed);
  if (existsSync(failed)) {
    throw new ForgeError(`the smoke test VM failed: ${readFileSync(failed, 'utf8').trim()}\n  console log kept: ${consoleLog}\n  last console lines:\n${tail(consoleLog)}`, {
      exitCode: ExitCode.smoke,
    });
  }
  const unfinished = o.runs.filter((r) => !existsSync(path.join(o.share, r, GUEST_FILES.probeExit)));
  if (unfinished.length) {
    throw new ForgeError(`the smoke test VM stopped before the probe finished (${unfinished.join(', ')})\n  console log kept: ${consoleLog}\n  last console lines:\n${tail(consoleLog)}`, {
      exitCode: ExitCode.smoke,
      hint: 'see the console log (a kernel panic or a missing module shows there)',
    });
  }
  const booted = path.join(o.share, GUEST_FILES.booted);
  const bootMs = existsSync(booted) ? Math.max(0, statSync(booted).mtimeMs - t0) : undefined;
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const modulesLoaded = o.runs.map((r) =>
    read(path.join(o.share, r, GUEST_FILES.lsmod))
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]!)
      .filter(Boolean)
      .sort(),
  );
  return { kernel, bootMs: bootMs === undefined ? undefined : Math.round(bootMs), totalMs, consoleLog, modulesLoaded, modprobeTls: read(path.join(o.share, GUEST_FILES.modprobeTls)) };
}
