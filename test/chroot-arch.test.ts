// The arm64 debootstrap root's precondition (src/package/chroot.ts): running another
// architecture's binaries in a chroot needs qemu-user-static registered with binfmt_misc with the
// F flag. Checked against fake binfmt_misc directories.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { foreignArchProblem } from '../src/package/chroot.ts';

function binfmt(entry?: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'nf-binfmt-'));
  mkdirSync(d, { recursive: true });
  writeFileSync(path.join(d, 'status'), 'enabled\n');
  if (entry !== undefined) writeFileSync(path.join(d, 'qemu-aarch64'), entry);
  return d;
}

describe('chroot: a root of another architecture', () => {
  it('ready: qemu-aarch64 enabled with the F flag', () => {
    expect(foreignArchProblem('arm64', binfmt('enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n'))).toBeUndefined();
  });
  it('binfmt_misc not mounted, no entry, disabled, no F flag: each says what to do', () => {
    expect(foreignArchProblem('arm64', path.join(os.tmpdir(), 'nf-no-binfmt-here'))).toMatchObject({ message: expect.stringMatching(/not mounted/), hint: expect.stringMatching(/mount -t binfmt_misc[\s\S]*update-binfmts --enable qemu-aarch64/) });
    expect(foreignArchProblem('arm64', binfmt())?.message).toMatch(/no qemu-aarch64 entry/);
    expect(foreignArchProblem('arm64', binfmt('disabled\nflags: PF\n'))?.message).toMatch(/disabled/);
    expect(foreignArchProblem('arm64', binfmt('enabled\nflags: P\n'))?.message).toMatch(/without F/);
  });
  it('an architecture no target has', () => {
    expect(foreignArchProblem('mips64el', binfmt())?.message).toMatch(/no target of nginx-forge has the Debian architecture mips64el/);
  });
});
