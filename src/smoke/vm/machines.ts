// The smoke test's VM of each target's machine (TCG on any host): which QEMU, machine and CPU,
// console, pinned kernel and crypto module directories. Kept beside the VM code rather than in
// src/target.ts, so that only the smoke stage's key depends on it.
import type { Target } from '../../target.ts';
import { ForgeError, ExitCode } from '../../errors.ts';

export interface TargetVm {
  /** QEMU's system emulator and the Debian package that has it */
  qemu: string;
  qemuPackage: string;
  /** machine and CPU options: a CPU model with the AES (and carry-less multiply) extensions, so the kernel's gcm(aes) is the accelerated one */
  machineArgs: string[];
  /** the kernel's serial console */
  console: string;
  /** lib/modules/<release>/ directories put whole into the initramfs: the kernel loads ciphers from them on demand */
  cryptoModuleDirs: string[];
}

/** By GNU triple (src/target.ts's TARGETS). */
export const VMS: Record<string, TargetVm> = {
  'x86_64-linux-gnu': {
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    machineArgs: ['-cpu', 'max'],
    console: 'ttyS0',
    cryptoModuleDirs: ['kernel/crypto', 'kernel/arch/x86/crypto', 'kernel/lib/crypto'],
  },
  'aarch64-linux-gnu': {
    qemu: 'qemu-system-aarch64',
    qemuPackage: 'qemu-system-arm',
    // virt: PCI(e) for virtio-9p; -cpu max has FEAT_AES and FEAT_PMULL (the kernel's gcm-aes-ce)
    machineArgs: ['-machine', 'virt', '-cpu', 'max'],
    console: 'ttyAMA0',
    cryptoModuleDirs: ['kernel/crypto', 'kernel/arch/arm64/crypto', 'kernel/lib/crypto'],
  },
};

export function vmOf(t: Pick<Target, 'triple'>): TargetVm {
  const vm = VMS[t.triple];
  if (!vm) throw new ForgeError(`the smoke test has no VM for ${t.triple}`, { exitCode: ExitCode.smoke, hint: `known: ${Object.keys(VMS).join(', ')}` });
  return vm;
}
