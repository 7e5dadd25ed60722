import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyPatches } from '../src/stages/patch.ts';
import { StageError } from '../src/errors.ts';
import { sha256Hex } from '../src/hash.ts';
import type { PlanPatch } from '../src/plan.ts';

const FIX = path.join(import.meta.dirname, 'fixtures/patches');
const ORIGINAL = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n/* end */\n';

function tree() {
  const dir = mkdtempSync(path.join(tmpdir(), 'nf-patch-'));
  writeFileSync(path.join(dir, 'hello.c'), ORIGINAL);
  return dir;
}
const local = (f: string, sha = sha256Hex(readFileSync(path.join(FIX, f)))): PlanPatch => ({
  component: 'nginx',
  id: `patches/nginx/test/${f}`,
  sha256: sha,
  strip: 1,
  cves: [],
  origin: { kind: 'local', path: path.join(FIX, f) },
});

describe('patch stage', () => {
  it('applies a patch that fits, with no fuzz', async () => {
    const dir = tree();
    await applyPatches({ srcDir: dir, patches: [local('0001-good.patch')], patchSetDirs: {}, log: path.join(dir, 'log') }, 'nginx');
    expect(readFileSync(path.join(dir, 'hello.c'), 'utf8')).toContain('hello, patched');
  });

  it('stops at a patch that does not apply, naming the patch and the file, leaving the file untouched', async () => {
    const dir = tree();
    const err = await applyPatches(
      { srcDir: dir, patches: [local('0002-bad.patch')], patchSetDirs: {}, log: path.join(dir, 'log') },
      'nginx',
    ).catch((e) => e);
    expect(err).toBeInstanceOf(StageError);
    expect(err.message).toContain('nginx: patch failed');
    expect(err.message).toContain('0002-bad.patch does not apply to hello.c');
    expect(err.message).toContain('full log:');
    expect(readFileSync(path.join(dir, 'hello.c'), 'utf8')).toBe(ORIGINAL);
  });

  it('refuses a patch whose bytes differ from the pinned sha256', async () => {
    const dir = tree();
    const err = await applyPatches(
      { srcDir: dir, patches: [local('0001-good.patch', '0'.repeat(64))], patchSetDirs: {}, log: path.join(dir, 'log') },
      'nginx',
    ).catch((e) => e);
    expect(err).toBeInstanceOf(StageError);
    expect(err.message).toMatch(/has sha256 [0-9a-f]{64}, the plan pins 0{64}/);
    expect(readFileSync(path.join(dir, 'hello.c'), 'utf8')).toBe(ORIGINAL);
  });
});
