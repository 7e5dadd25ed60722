// Patch stage: apply a component's patches in plan order, with no fuzz. Each patch is checked
// against its pinned sha256 first, then dry-run; a failing hunk stops the build naming the patch
// and the file it could not patch. Patch-set patches are read from their fetched archive.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import type { PlanPatch } from '../plan.ts';
import { sha256Hex } from '../recipes/resolve.ts';

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
 * The files a patch names (its ---/+++ headers, after stripping `strip` components) that would
 * lie outside the tree: absolute, or with a ".." component. GNU patch refuses those itself, but
 * then says only "can't find file to patch"; this names them.
 */
export function outsideTargets(text: string, strip: number): string[] {
  const bad = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^(?:---|\+\+\+) (.+?)(?:\t.*)?$/.exec(line);
    if (!m) continue;
    let name = m[1]!.trim();
    if (name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1);
    if (name === '/dev/null') continue;
    const parts = name.split('/');
    // patch -pN removes N leading components (a leading "/" is one empty component)
    const rest = parts.slice(Math.min(strip, parts.length - 1));
    const target = rest.join('/');
    if (target.startsWith('/') || rest.includes('..')) bad.add(name);
  }
  return [...bad];
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
    const outside = outsideTargets(bytes.toString('latin1'), p.strip);
    if (outside.length) {
      throw new StageError(component, 'patch', `patch ${p.id} writes outside the source tree: ${outside.join(', ')} (with -p${p.strip})`, {
        hint: `a patch may only change files inside the ${component} tree: fix its ---/+++ lines, or its strip level; ${applied}`,
        log: input.log,
      });
    }
    const ctx: RunContext = { component, stage: 'patch', log: input.log, cwd: input.srcDir, signal: input.signal };
    const args = [`-p${p.strip}`, '--forward', '--fuzz=0', '--batch', '--no-backup-if-mismatch', '-i', file];
    // dry run into a scratch reject file first: nothing is touched unless every hunk applies
    const scratch = mkdtempSync(path.join(tmpdir(), 'nginx-forge-patch-'));
    try {
      await run(ctx, 'patch', ['--dry-run', '-r', path.join(scratch, 'rej'), ...args]);
    } catch (e) {
      const out = readFileSync(input.log, 'utf8').split(`-i ${file}`).pop() ?? '';
      const files = failedFiles(out);
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
  }
}
