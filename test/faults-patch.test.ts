// A patch that writes outside its tree is named as such (it was "a file missing from the tree"),
// and the hint of a failing patch says what was already applied.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StageError } from '../src/errors.ts';
import type { PlanPatch } from '../src/plan.ts';
import { sha256Hex } from '../src/hash.ts';
import { applyPatches, outsideTargets, symlinksOutside, unsafeHeaders } from '../src/stages/patch.ts';

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

// Git-style extended headers: GNU patch creates, changes and deletes symbolic links from them
// (`new file mode 120000`), also when the patch is indented or has CRLF line ends.
const DELETE_MIME = `diff --git a/conf/mime.types b/conf/mime.types\ndeleted file mode 100644\n--- a/conf/mime.types\n+++ /dev/null\n@@ -1 +0,0 @@\n-types {}\n`;
const LINK_MIME = `diff --git a/conf/mime.types b/conf/mime.types\nnew file mode 120000\n--- /dev/null\n+++ b/conf/mime.types\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n`;

function withMime(patches: Record<string, string>) {
  const s = setup(patches);
  mkdirSync(path.join(s.dir, 'conf'));
  writeFileSync(path.join(s.dir, 'conf', 'mime.types'), 'types {}\n');
  return s;
}

describe('patch faults: symbolic links and modes', () => {
  it('refuses a patch that creates a symbolic link (the mime.types -> /etc/passwd pair), before running patch', async () => {
    const { base, dir, list } = withMime({ '0001-delete.patch': DELETE_MIME, '0002-link.patch': LINK_MIME });
    const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log') }, 'nginx').catch((x) => x);
    expect(e).toBeInstanceOf(StageError);
    expect(e.message).toContain('patch patches/nginx/t/0002-link.patch creates the symbolic link conf/mime.types (new file mode 120000)');
    expect(e.hint).toMatch(/only change the contents of regular files/);
    expect(e.hint).toMatch(/the 1 patch before it was applied/);
    // deleted by 0001 (GNU patch then removes the empty conf/ too), not replaced by a link
    expect(lstatSync(path.join(dir, 'conf', 'mime.types'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it('sees the headers through the indentation and CRLF line ends GNU patch accepts', async () => {
    const indented = LINK_MIME.replace(/^/gm, '  ').replace(/\n {2}$/, '\n');
    const crlf = LINK_MIME.replace(/\n/g, '\r\n');
    for (const text of [indented, crlf]) {
      const { base, dir, list } = setup({ '0001-link.patch': text });
      const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log') }, 'nginx').catch((x) => x);
      expect(e).toBeInstanceOf(StageError);
      expect(e.message).toContain('creates the symbolic link conf/mime.types (new file mode 120000)');
      expect(existsSync(path.join(dir, 'conf'))).toBe(false);
    }
  });

  it('names every header a patch may not use: symlink changes and deletions, odd modes, renames out of the tree, quoted names', () => {
    expect(unsafeHeaders(`diff --git a/l b/l\ndeleted file mode 120000\n`, 1)).toEqual(['deletes the symbolic link l (deleted file mode 120000)']);
    expect(unsafeHeaders(`diff --git a/l b/l\nindex 1234567..89abcde 120000\n--- a/l\n+++ b/l\n`, 1)).toEqual(['changes the symbolic link l (index 1234567..89abcde 120000)']);
    expect(unsafeHeaders(`diff --git a/l b/l\nold mode 100644\nnew mode 120000\n`, 1)).toEqual(['changes the symbolic link l (new mode 120000)']);
    expect(unsafeHeaders(`diff --git a/x b/x\nold mode 100644\nnew mode 104755\n`, 1)).toEqual(['sets mode 104755 on x (new mode 104755; only 100644 and 100755 are allowed)']);
    expect(unsafeHeaders(`diff --git a/m b/m\nnew file mode 160000\n`, 1)).toEqual(['sets mode 160000 on m (new file mode 160000; only 100644 and 100755 are allowed)']);
    expect(unsafeHeaders(`diff --git "a/x\\033]0;t\\007" "b/x"\n--- "a/x"\n+++ "b/x"\n`, 1)).toEqual([
      'uses a quoted file name: diff --git "a/x\\033]0;t\\007" "b/x"',
      'uses a quoted file name: --- "a/x"',
      'uses a quoted file name: +++ "b/x"',
    ]);
    expect(outsideTargets(`diff --git a/x b/../evil\nsimilarity index 100%\nrename from x\nrename to ../evil\n`, 1)).toEqual(['b/../evil', '../evil']);
    expect(outsideTargets(`diff --git a/x b/y\ncopy from x\ncopy to /etc/cron.d/y\n`, 1)).toEqual(['/etc/cron.d/y']);
    expect(outsideTargets(` --- a/../outside/victim\n +++ b/../outside/victim\n`, 1)).toEqual(['a/../outside/victim', 'b/../outside/victim']);
    // what the shipped patches use stays allowed
    expect(unsafeHeaders(`diff --git a/t/new.c b/t/new.c\nnew file mode 100644\nindex 0000000..1234567\n--- /dev/null\n+++ b/t/new.c\n`, 1)).toEqual([]);
    expect(unsafeHeaders(`diff --git a/x b/y\nold mode 100644\nnew mode 100755\nsimilarity index 90%\nrename from x\nrename to y\n`, 1)).toEqual([]);
    expect(unsafeHeaders(GOOD, 1)).toEqual([]);
  });

  it('checks the tree after each patch: no symbolic link may point outside it', async () => {
    const { base, dir, list } = setup({ '0001-good.patch': GOOD });
    mkdirSync(path.join(dir, 'd'));
    symlinkSync('.', path.join(dir, 'd', 'self'));
    // lexically inside (d/self/../x is d/x), really outside: d/self is d, so d/self/.. is the tree and ../.. its parent
    symlinkSync('d/self/../../outside/victim', path.join(dir, 'sneaky'));
    symlinkSync('hello.c', path.join(dir, 'fine'));
    const e = await applyPatches({ srcDir: dir, patches: list, patchSetDirs: {}, log: path.join(base, 'log') }, 'nginx').catch((x) => x);
    expect(e).toBeInstanceOf(StageError);
    expect(e.message).toContain('after patch patches/nginx/t/0001-good.patch the tree has a symbolic link pointing outside it: sneaky -> d/self/../../outside/victim');
    expect(e.message).not.toContain('fine ->');
    expect(symlinksOutside(dir)).toEqual(['sneaky -> d/self/../../outside/victim']);
    rmSync(path.join(dir, 'sneaky'));
    symlinkSync('/etc/passwd', path.join(dir, 'd', 'abs'));
    symlinkSync('loop2', path.join(dir, 'loop1'));
    symlinkSync('loop1', path.join(dir, 'loop2'));
    expect(symlinksOutside(dir).sort()).toEqual(['d/abs -> /etc/passwd', 'loop1 -> loop2 (a loop)', 'loop2 -> loop1 (a loop)']);
  });
});
