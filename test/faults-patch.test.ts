// A patch that writes outside its tree is named as such (it was "a file missing from the tree"),
// and the hint of a failing patch says what was already applied.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StageError } from '../src/errors.ts';
import type { PlanPatch } from '../src/plan.ts';
import { sha256Hex } from '../src/recipes/resolve.ts';
import { applyPatches, outsideTargets } from '../src/stages/patch.ts';

const ORIGINAL = 'int main(void) { return 0; }\n';
const GOOD = `--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-int main(void) { return 0; }\n+int main(void) { return 1; }\n`;
const BAD = `--- a/hello.c\n+++ b/hello.c\n@@ -1 +1 @@\n-no such line\n+x\n`;
const ESCAPE = `--- a/../outside/victim\n+++ b/../outside/victim\n@@ -1 +1 @@\n-safe\n+owned\n`;
const ABSOLUTE = `--- /etc/victim\n+++ /etc/victim\n@@ -1 +1 @@\n-safe\n+owned\n`;

function setup(patches: Record<string, string>) {
  const base = mkdtempSync(path.join(tmpdir(), 'nf-faults-patch-'));
  const dir = path.join(base, 'tree');
  mkdirSync(dir);
  mkdirSync(path.join(base, 'outside'));
  writeFileSync(path.join(base, 'outside', 'victim'), 'safe\n');
  writeFileSync(path.join(dir, 'hello.c'), ORIGINAL);
  const list: PlanPatch[] = Object.entries(patches).map(([name, text]) => {
    const f = path.join(base, name);
    writeFileSync(f, text);
    return { component: 'nginx', id: `patches/nginx/t/${name}`, sha256: sha256Hex(Buffer.from(text)), strip: 1, origin: { kind: 'local', path: f }, cves: [] };
  });
  return { base, dir, list };
}

describe('patch faults', () => {
  it('a patch writing outside the tree is named, and nothing outside changes', async () => {
    const { base, dir, list } = setup({ '0001-escape.patch': ESCAPE });
    const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log') }, 'nginx').catch((x) => x);
    expect(e).toBeInstanceOf(StageError);
    expect(e.message).toContain('patch patches/nginx/t/0001-escape.patch writes outside the source tree: a/../outside/victim, b/../outside/victim (with -p1)');
    expect(e.message).not.toMatch(/missing from the tree/);
    expect(e.hint).toMatch(/nothing was patched/);
    expect(readFileSync(path.join(base, 'outside', 'victim'), 'utf8')).toBe('safe\n');
    expect(outsideTargets(ABSOLUTE, 0)).toEqual(['/etc/victim']);
    expect(outsideTargets(GOOD, 1)).toEqual([]);
  });

  it('the hint of a failing patch says which patches were applied before it', async () => {
    const { base, dir, list } = setup({ '0001-good.patch': GOOD, '0002-bad.patch': BAD });
    const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log') }, 'nginx').catch((x) => x);
    expect(e).toBeInstanceOf(StageError);
    expect(e.message).toContain('0002-bad.patch does not apply to hello.c');
    expect(e.hint).toMatch(/the 1 patch before it was applied to this build's scratch copy only/);
    expect(e.hint).not.toMatch(/left unpatched/);
    expect(existsSync(path.join(dir, 'hello.c'))).toBe(true);
  });
});
