// Debug symbols of the shipped ELF files (nginx, its twins, module .so files), kept apart from
// the stripped binaries the packages install, the way distributions ship them:
//
//   usr/lib/debug/.build-id/<first 2 hex digits>/<rest>.debug
//
// gdb (and debuginfod, systemd-coredump, eu-stack) find a file there by the GNU build-id note the
// binary carries: nothing has to be told where the symbols are. The build-id is a hash of the
// linked output (-Wl,--build-id=sha1 in the profile's nginx.ldOpt), so a reproducible build gives
// the same id; `strip --strip-debug` keeps the note, so the packaged binary and the tarball's
// unstripped one both match the same .debug file.
//
// The debug files are made with `objcopy --only-keep-debug --compress-debug-sections` (what
// debhelper's dh_strip does), before the binary is stripped. Used by the .deb (dbgsym.ts),
// the .rpm (<pkg>-debuginfo) and the artifacts stage (<tarball>-debug.tar.gz).
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { StageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import type { Target } from '../target.ts';
import { targetTool } from './targettools.ts';

export interface DebugFile {
  /** the ELF file the symbols belong to, as given */
  file: string;
  /** its GNU build-id, lower-case hex */
  buildId: string;
  /** the separate debug file, written under the debug root */
  debug: string;
  /** where it goes in a package: usr/lib/debug/.build-id/xx/rest.debug (relative) */
  rel: string;
}

/** The build-id directory path of a debug file, relative: usr/lib/debug/.build-id/xx/rest.debug. */
export const buildIdPath = (buildId: string, root = 'usr/lib/debug') => `${root}/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`;

/**
 * The GNU build-id of an ELF file (NT_GNU_BUILD_ID), as binutils' readelf prints it, or undefined
 * when it has none (readelf is in binutils, beside the objcopy and strip the packaging runs).
 */
export async function buildIdOf(ctx: RunContext, file: string): Promise<string | undefined> {
  const out = await run(ctx, 'readelf', ['--notes', '--wide', file]);
  return /Build ID:\s*([0-9a-f]+)/i.exec(out)?.[1]?.toLowerCase();
}

/**
 * Writes the debug file of each ELF file into debugRoot (build-id layout, see buildIdPath), before
 * the caller strips them. A file without a build-id is refused: its symbols could not be found.
 */
export async function splitDebug(ctx: RunContext, files: string[], debugRoot: string, target: Target): Promise<DebugFile[]> {
  // a cross build's binaries are read by the target's binutils (aarch64-linux-gnu-objcopy): the
  // host's objcopy does not recognise an AArch64 file
  const objcopy = targetTool(target, 'objcopy');
  const out: DebugFile[] = [];
  for (const file of files) {
    const buildId = await buildIdOf(ctx, file);
    if (!buildId) {
      throw new StageError(ctx.component, ctx.stage, `${file} has no GNU build-id note, so its debug symbols could not be found by gdb`, {
        hint: 'link with -Wl,--build-id=sha1 (the profile\'s nginx.ldOpt, as the built-in ktls profile does) and build again',
      });
    }
    const rel = buildIdPath(buildId);
    // the same file given twice (a twin identical to nginx) is written once
    if (out.some((d) => d.buildId === buildId)) {
      out.push({ ...out.find((d) => d.buildId === buildId)!, file });
      continue;
    }
    const debug = path.join(debugRoot, rel);
    mkdirSync(path.dirname(debug), { recursive: true });
    await run(ctx, objcopy, ['--only-keep-debug', '--compress-debug-sections', file, debug]);
    chmodSync(debug, 0o644);
    out.push({ file, buildId, debug, rel });
  }
  return out;
}
