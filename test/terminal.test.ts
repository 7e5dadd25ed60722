// Control characters in untrusted text (archive member names, patch subjects, what a server sent)
// are printed as visible escapes: an OSC/CSI sequence must not retitle or clear the terminal.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cpSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ExtractError } from '../src/errors.ts';
import { extractArchive } from '../src/archive/extract.ts';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';
import { terminalSafe, terminalSafeJson } from '../src/terminal.ts';
import { makeTarball } from './helpers/tarball.ts';

const OSC = '\u001b]0;owned\u0007';
const CSI = '\u001b[2J\u009b2J\r';
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('terminalSafe', () => {
  it('escapes C0, DEL and C1 controls; keeps newlines and tabs only when asked', () => {
    expect(terminalSafe(`a${OSC}b${CSI}\u007f\n\t`)).toBe('a\\x1b]0;owned\\x07b\\x1b[2J\\x9b2J\\x0d\\x7f\\x0a\\x09');
    expect(terminalSafe(`line1\n\tline2\r`, { lines: true })).toBe('line1\n\tline2\\x0d');
    expect(terminalSafe('plain ü – text')).toBe('plain ü – text');
    expect(JSON.parse(terminalSafeJson(JSON.stringify({ s: `x\u009by\u007f` })))).toEqual({ s: 'x\u009by\u007f' });
    expect(terminalSafeJson(JSON.stringify({ s: `x\u009by\u007f` }))).not.toMatch(RAW);
  });
});

describe('where untrusted text is printed', () => {
  it('an archive member name in an ExtractError', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-terminal-'));
    try {
      const archive = await makeTarball(path.join(tmp, 'a.tar.gz'), [
        { name: 'pkg-1.0', type: 'dir' },
        { name: `pkg-1.0/l${OSC}`, type: 'symlink', target: `../../${CSI}` },
      ]);
      const e = (await extractArchive(archive, path.join(tmp, 'work'), 'pkg-1.0').catch((x) => x)) as ExtractError;
      expect(e).toBeInstanceOf(ExtractError);
      expect(e.message).not.toMatch(RAW);
      expect(e.message).toContain('member "pkg-1.0/l\\x1b]0;owned\\x07"');
      expect(e.message).toContain('\\x1b[2J\\x9b2J\\x0d');
      expect(e.member).toBe(`pkg-1.0/l${OSC}`); // the value itself stays exact
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('audit --read-patches: patch subjects and file names (text and --json)', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-terminal-'));
    try {
      const recipes = path.join(tmp, 'recipes');
      cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
      const diff = '--- a/README\n+++ b/README\n@@ -1 +1 @@\n-a\n+b\n';
      const archive = await makeTarball(
        path.join(tmp, 'nginx_1.26.3-3+deb13u12.debian.tar.xz'),
        [
          { name: 'debian/changelog', type: 'file', data: 'nginx (1.26.3-3+deb13u12) trixie-security; urgency=high\n\n  * x\n\n -- A <a@b.c>  Mon, 30 Nov 2026 10:00:00 +0000\n' },
          { name: 'debian/patches/series', type: 'file', data: `odd${OSC}.patch\n` },
          { name: `debian/patches/odd${OSC}.patch`, type: 'file', data: `Subject: innocent${OSC}${CSI}\n---\n${diff}` },
        ],
        'xz',
      );
      const cli = (args: string[]) => execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'audit', '--recipes', recipes, '--read-patches', archive, ...args], { reject: false });
      const text = await cli([]);
      expect(text.exitCode, text.stderr).toBe(0);
      expect(text.stdout).toContain('innocent\\x1b]0;owned\\x07\\x1b[2J\\x9b2J');
      expect(text.stdout).not.toMatch(RAW);
      const json = await cli(['--json']);
      expect(json.stdout).not.toMatch(RAW);
      expect(JSON.parse(json.stdout).patches[0].subject).toBe(`innocent${OSC}${CSI}`.replace(/\r$/, '').trim());
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
