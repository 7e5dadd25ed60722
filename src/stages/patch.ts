// Patch stage: apply a component's patches in plan order, with no fuzz. Each patch is checked
// against its pinned sha256 first, then dry-run; a failing hunk stops the build naming the patch
// and the file it could not patch. Patch-set patches are read from their fetched archive.
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { CommandError, StageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import type { PlanPatch } from '../plan.ts';
import { sha256Hex } from '../hash.ts';

export interface PatchInput {
  srcDir: string;
  patches: PlanPatch[];
  /** Extracted patch-set archives: patch-set name → directory the archive was unpacked into. */
  patchSetDirs: Record<string, string>;
  log: string;
  signal?: AbortSignal;
}

function patchFile(p: PlanPatch, patchSetDirs: Record<string, string>): string {
  if (p.origin.kind === 'local') return p.origin.path;
  const base = patchSetDirs[p.origin.patchSet];
  if (!base) throw new Error(`patch set ${p.origin.patchSet} was not extracted`);
  return path.join(base, p.origin.path);
}

/** Files a failed `patch` run could not patch (hunks FAILED under "checking file X"). */
export function failedFiles(output: string): string[] {
  const files = new Set<string>();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const m = /^(?:checking|patching) file '?(.+?)'?$/.exec(line);
    if (m) current = m[1];
    else if (/^Hunk #\d+ FAILED/.test(line) && current) files.add(current);
    else if (/can't find file to patch/.test(line)) files.add(current ?? '(a file missing from the tree)');
  }
  return [...files];
}

/**
 * The lines of a patch as GNU patch reads its headers: without a trailing CR (it strips CRLF line
 * ends) and without the indentation it accepts before a header (spaces, tabs, "X").
 */
function headerLines(text: string): string[] {
  return text.split('\n').map((l) => l.replace(/\r$/, '').replace(/^[ \tX]+/, ''));
}

/** `patch -pN` removes N leading components (a leading "/" is one empty component). */
function leavesTree(name: string, strip: number): boolean {
  const parts = name.split('/');
  const rest = parts.slice(Math.min(strip, parts.length - 1));
  return rest.join('/').startsWith('/') || rest.includes('..');
}

/**
 * The files a patch names that would lie outside the tree: absolute, or with a ".." component.
 * Read from its ---/+++ headers and `diff --git` lines (after stripping `strip` components) and
 * from git's rename/copy headers (which carry no prefix). GNU patch refuses most of those itself,
 * but then says only "can't find file to patch"; this names them.
 */
export function outsideTargets(text: string, strip: number): string[] {
  const bad = new Set<string>();
  for (const line of headerLines(text)) {
    let names: string[] = [];
    let s = strip;
    let m: RegExpExecArray | null;
    if ((m = /^(?:---|\+\+\+) (.+?)(?:\t.*)?$/.exec(line))) names = [m[1]!.trim()];
    else if ((m = /^diff --git (.+)$/.exec(line))) names = m[1]!.split(' ').filter(Boolean);
    else if ((m = /^(?:rename|copy) (?:from|to) (.+)$/.exec(line))) (names = [m[1]!.trim()]), (s = 0);
    for (let name of names) {
      if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1);
      if (name === '/dev/null') continue;
      if (leavesTree(name, s)) bad.add(name);
    }
  }
  return [...bad];
}

const MODE_LINE = /^(new file mode|deleted file mode|old mode|new mode) ([0-7]+)\s*$/;
const INDEX_LINE = /^index [0-9a-f]+\.\.[0-9a-f]+ ([0-7]+)\s*$/;
/** A header naming a file, with a name in C quotes (git's way of writing odd bytes). */
const QUOTED_NAME = /^(?:---|\+\+\+|diff --git|rename from|rename to|copy from|copy to) (?:.* )?"/;

/**
 * What a patch's git-style headers would do beyond changing the contents of regular files in the
 * tree (GNU patch honours them): create, change or delete a symbolic link (mode 120000: the link
 * target is the "content", e.g. /etc/passwd), set any mode but 100644/100755, or name a file in C
 * quotes (which can hide control characters and odd bytes). One sentence per header.
 */
export function unsafeHeaders(text: string, strip: number): string[] {
  const problems: string[] = [];
  let file = '(unnamed)';
  for (const line of headerLines(text)) {
    const git = /^diff --git (\S+) /.exec(line);
    if (git) file = git[1]!.split('/').slice(strip).join('/') || git[1]!;
    if (QUOTED_NAME.test(line)) {
      problems.push(`uses a quoted file name: ${line}`);
      continue;
    }
    const mode = MODE_LINE.exec(line);
    const index = mode ? undefined : INDEX_LINE.exec(line);
    const value = mode?.[2] ?? index?.[1];
    if (value === undefined) continue;
    const header = line.trim();
    if (value === '120000') {
      const verb = mode?.[1] === 'new file mode' ? 'creates' : mode?.[1] === 'deleted file mode' ? 'deletes' : 'changes';
      problems.push(`${verb} the symbolic link ${file} (${header})`);
    } else if (value !== '100644' && value !== '100755') {
      problems.push(`sets mode ${value} on ${file} (${header}; only 100644 and 100755 are allowed)`);
    }
  }
  return problems;
}

/** Follows `target` from directory `from` as the kernel would, through symbolic links on disk;
 *  undefined for a loop. A missing component is taken as it is. */
function resolveOnDisk(from: string, target: string, hops = { n: 0 }): string | undefined {
  let cur = target.startsWith('/') ? '/' : from;
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, c);
    let link: string | undefined;
    try {
      if (lstatSync(next).isSymbolicLink()) link = readlinkSync(next);
    } catch {
      // does not exist (yet): nothing to follow
    }
    if (link === undefined) cur = next;
    else {
      if (++hops.n > 40) return undefined;
      const r = resolveOnDisk(cur, link, hops);
      if (r === undefined) return undefined;
      cur = r;
    }
  }
  return cur;
}

/** Every symbolic link under `root` that resolves outside it (or loops), as "link -> target". */
export function symlinksOutside(root: string): string[] {
  const top = realpathSync(root);
  const bad: string[] = [];
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.isSymbolicLink()) {
        const target = readlinkSync(p);
        const r = resolveOnDisk(dir, target);
        const rel = path.relative(top, p);
        if (r === undefined) bad.push(`${rel} -> ${target} (a loop)`);
        else if (r !== top && !r.startsWith(top + path.sep)) bad.push(`${rel} -> ${target}`);
      }
    }
  };
  walk(top);
  return bad;
}

export async function applyPatches(input: PatchInput, component: string): Promise<void> {
  for (const [index, p] of input.patches.entries()) {
    const applied =
      index === 0
        ? 'nothing was patched'
        : `the ${index} patch${index === 1 ? '' : 'es'} before it ${index === 1 ? 'was' : 'were'} applied to this build's scratch copy only (the next build starts from a fresh extract)`;
    const file = patchFile(p, input.patchSetDirs);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      throw new StageError(component, 'patch', `patch ${p.id} not found at ${file}`, { log: input.log });
    }
    const actual = sha256Hex(bytes);
    if (actual !== p.sha256) {
      throw new StageError(component, 'patch', `patch ${p.id} has sha256 ${actual}, the plan pins ${p.sha256}`, {
        hint: 'the patch file changed after the plan was made, or the patch-set archive is not the pinned one',
        log: input.log,
      });
    }
    const text = bytes.toString('latin1');
    const outside = outsideTargets(text, p.strip);
    if (outside.length) {
      throw new StageError(component, 'patch', `patch ${p.id} writes outside the source tree: ${outside.join(', ')} (with -p${p.strip})`, {
        hint: `a patch may only change files inside the ${component} tree: fix its ---/+++ (or rename/copy) lines, or its strip level; ${applied}`,
        log: input.log,
      });
    }
    const unsafe = unsafeHeaders(text, p.strip);
    if (unsafe.length) {
      throw new StageError(component, 'patch', `patch ${p.id} ${unsafe.join('; ')}`, {
        hint: `a patch may only change the contents of regular files inside the ${component} tree (modes 100644/100755, no symbolic links, unquoted names); remove or rewrite it; ${applied}`,
        log: input.log,
      });
    }
    const ctx: RunContext = { component, stage: 'patch', log: input.log, cwd: input.srcDir, signal: input.signal };
    const args = [`-p${p.strip}`, '--forward', '--fuzz=0', '--batch', '--no-backup-if-mismatch', '-i', file];
    // dry run into a scratch reject file first: nothing is touched unless every hunk applies
    const scratch = tempDir('patch');
    try {
      await run(ctx, 'patch', ['--dry-run', '-r', path.join(scratch, 'rej'), ...args]);
    } catch (e) {
      // only patch's own "no" is the patch's fault (exit 1: a hunk failed, a file is missing); a
      // cancelled run (Ctrl-C), a full log disk, a missing `patch` or patch's own trouble is not
      if (!(e instanceof CommandError) || e.ended.cancelled || input.signal?.aborted) throw e;
      const out = readFileSync(input.log, 'utf8').split(`-i ${file}`).pop() ?? '';
      const files = failedFiles(out);
      if (e.ended.exitCode !== 1 && !files.length) throw e;
      throw new StageError(
        component,
        'patch',
        `patch ${p.id} does not apply${files.length ? ` to ${files.join(', ')}` : ''} (no fuzz allowed)`,
        {
          hint: `update or remove ${p.origin.kind === 'local' ? p.origin.path : p.id}; ${applied}`,
          log: input.log,
          cause: e,
        },
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    await run(ctx, 'patch', args);
    // what the headers cannot show: the tree as patched (a link made some other way, or through
    // one that was there) must not point outside it, or `make install` copies what it points at
    const leaving = symlinksOutside(input.srcDir);
    if (leaving.length) {
      throw new StageError(component, 'patch', `after patch ${p.id} the tree has a symbolic link pointing outside it: ${leaving.join(', ')}`, {
        hint: `the build stops before configure; remove or rewrite ${p.origin.kind === 'local' ? p.origin.path : p.id}; the ${index + 1} patch${index === 0 ? '' : 'es'} applied so far changed this build's scratch copy only`,
        log: input.log,
      });
    }
  }
}
