// Debug symbols apart from the binaries (src/package/debug.ts, the rpm's debuginfo sub-package):
// on small real ELF files made here with the host's compiler, and the spec text.
import { execa } from 'execa';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import { buildIdOf, buildIdPath, splitDebug } from '../src/package/debug.ts';
import { placeDebuginfo, rpmlintrc, rpmSpec } from '../src/package/rpm.ts';
import { TARGETS, targetOf } from '../src/target.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-debug-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const ctx = { component: 'nginx', stage: 'package:test', log: path.join(work, 'log') };
/** this machine's own target: its binutils are the host's */
const HOST = targetOf(undefined);

async function elf(name: string, ldflags: string[]): Promise<string> {
  const src = path.join(work, `${name}.c`);
  writeFileSync(src, 'int answer(int x) { return x * 42; }\nint main(void) { return answer(0); }\n');
  const out = path.join(work, name);
  await execa('cc', ['-g', '-O1', '-o', out, src, ...ldflags]);
  return out;
}

describe('debug files in the build-id layout', () => {
  it('reads the GNU build-id and writes the symbols under it; the stripped binary finds them', async () => {
    const bin = await elf('with-id', ['-Wl,--build-id=sha1']);
    const id = await buildIdOf(ctx, bin);
    expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(buildIdPath(id!)).toBe(`usr/lib/debug/.build-id/${id!.slice(0, 2)}/${id!.slice(2)}.debug`);
    const [d] = await splitDebug(ctx, [bin, bin], path.join(work, 'dbg'), HOST);
    expect(d!.rel).toBe(buildIdPath(id!));
    expect(existsSync(d!.debug)).toBe(true);
    await execa('strip', ['--strip-debug', bin]);
    // the note survives strip, so gdb pairs the two
    expect(await buildIdOf(ctx, bin)).toBe(id);
    const gdb = await execa('gdb', ['-batch', '-nx', '-iex', `set debug-file-directory ${path.join(work, 'dbg/usr/lib/debug')}`, '-ex', 'info line answer', bin], { all: true });
    expect(gdb.all).toMatch(/^Line 1 of ".*with-id\.c"/m);
  });

  it('a cross build\'s AArch64 binary: split with the target\'s objcopy (the host\'s does not recognise it)', async () => {
    const src = path.join(work, 'arm.c');
    writeFileSync(src, 'int main(void) { return 0; }\n');
    const bin = path.join(work, 'arm');
    await execa('aarch64-linux-gnu-gcc', ['-g', '-Wl,--build-id=sha1', '-o', bin, src]);
    await expect(splitDebug(ctx, [bin], path.join(work, 'dbg-arm-host'), HOST)).rejects.toThrow(/objcopy/);
    const [d] = await splitDebug(ctx, [bin], path.join(work, 'dbg-arm'), TARGETS['aarch64-linux-gnu']!);
    expect(existsSync(d!.debug)).toBe(true);
  });

  it('refuses a binary without a build-id, naming the link flag to add', async () => {
    const bin = await elf('no-id', ['-Wl,--build-id=none']);
    expect(await buildIdOf(ctx, bin)).toBeUndefined();
    const e = (await splitDebug(ctx, [bin], path.join(work, 'dbg2'), HOST).catch((x: unknown) => x)) as Error & { hint?: string };
    expect(e.message).toMatch(/no-id has no GNU build-id note, so its debug symbols could not be found by gdb/);
    expect(e.hint).toMatch(/-Wl,--build-id=sha1 \(the profile's nginx\.ldOpt/);
  });

  it('lays the rpm debuginfo out as Fedora does: <path>-<v>-<r>.<arch>.debug and the .build-id link to it', async () => {
    const bin = await elf('nginx', ['-Wl,--build-id=sha1']);
    const tree = path.join(work, 'tree');
    const binInTree = path.join(tree, 'usr/sbin/nginx');
    await execa('install', ['-D', bin, binInTree]);
    const debug = await splitDebug(ctx, [binInTree], path.join(work, 'dbg3'), HOST);
    const lines = placeDebuginfo(tree, debug, '1.26.3-1.x86_64');
    const id = debug[0]!.buildId;
    const link = `usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`;
    expect(lines).toEqual([`%dir /usr/lib/debug/.build-id/${id.slice(0, 2)}`, '/usr/lib/debug/usr/sbin/nginx-1.26.3-1.x86_64.debug', `/${link}`]);
    expect(lstatSync(path.join(tree, link)).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(tree, link))).toBe('../../usr/sbin/nginx-1.26.3-1.x86_64.debug');
    expect(readFileSync(path.join(tree, link))).toEqual(readFileSync(debug[0]!.debug));
  });
});

describe('the rpm spec', () => {
  const plan = planFromFlags({ profile: 'ktls' });
  const base = { plan, pkg: 'nginx-forge-ktls', release: 1, who: 'A <a@b.invalid>', epoch: 1767225600, files: ['/usr/sbin/nginx'], treeDir: '/t' };

  it('has a -debuginfo sub-package only when there are debug files; Release carries %{?dist}', () => {
    const spec = rpmSpec({ ...base, debuginfo: { files: ['/usr/lib/debug/usr/sbin/nginx-1.26.3-1.x86_64.debug'] } });
    expect(spec).toMatch(/^Release:\s+1%\{\?dist\}$/m);
    expect(spec).toMatch(/^%package -n nginx-forge-ktls-debuginfo$/m);
    expect(spec).toMatch(/^%files -n nginx-forge-ktls-debuginfo\n\/usr\/lib\/debug\/usr\/sbin\/nginx-1\.26\.3-1\.x86_64\.debug$/m);
    expect(rpmSpec(base)).not.toContain('debuginfo');
  });

  it('the rpmlint filters name the debuginfo package only when it is built (an unused filter is an error)', () => {
    expect(rpmlintrc(plan, 'nginx-forge-ktls', { debuginfo: true })).toContain('addFilter("nginx-forge-ktls-debuginfo\\.\\S+: [EW]: ((shared-library-without-dependency-information');
    expect(rpmlintrc(plan, 'nginx-forge-ktls')).not.toContain('debuginfo');
  });
});
