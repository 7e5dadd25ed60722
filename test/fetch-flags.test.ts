// The fetch flags are one definition (commands/options.ts addFetchOptions) and one mapping
// (flags/fetch.ts fetchOptionsOf), used by every command that fetches: each one's --help shows
// the same four flags, and no other source file turns them into fetch options by hand.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { program } from '../src/cli.ts';
import { SRC_ROOT } from '../src/kinds.ts';
import { fetchOptionsOf } from '../src/flags/fetch.ts';
import { distfilesDir } from '../src/paths.ts';

const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)) : f.endsWith('.ts') ? [path.join(dir, f)] : []));
const FETCH_FLAGS = ['--distdir', '--mirror', '--offline', '--no-distro'];
const FETCHING = [['fetch'], ['build'], ['package'], ['test'], ['bench', 'build']];

const find = (prog: Command, names: string[]): Command => names.reduce((c, n) => c.commands.find((x) => x.name() === n)!, prog);

describe('fetch flags: one definition, one mapping', () => {
  it('every command that fetches has the same fetch flags with the same help', () => {
    const prog = program();
    const shown = FETCHING.map((names) => {
      const cmd = find(prog, names);
      expect(cmd, names.join(' ')).toBeDefined();
      return cmd.options.filter((o) => FETCH_FLAGS.includes(o.long!)).map((o) => `${o.flags}: ${o.description}`);
    });
    expect(find(prog, ['fetch']).options.filter((o) => FETCH_FLAGS.includes(o.long!)).map((o) => o.long)).toEqual(FETCH_FLAGS);
    for (const s of shown) expect(s).toEqual(shown[0]);
  });

  it('maps them to the fetch options: store resolved, relative mirrors absolute, offline and distro spelled out', () => {
    expect(fetchOptionsOf({})).toEqual({ distdir: distfilesDir(), mirrors: undefined, offline: false, distro: true });
    expect(fetchOptionsOf({ distdir: 'store', mirror: ['../m', 'http://127.0.0.1:8080/d', '/abs'], offline: true, distro: false })).toEqual({
      distdir: path.resolve('store'),
      mirrors: [path.resolve('../m'), 'http://127.0.0.1:8080/d', '/abs'],
      offline: true,
      distro: false,
    });
  });

  it('no other source file maps the flags by hand', () => {
    const offenders = files(SRC_ROOT)
      .filter((f) => path.relative(SRC_ROOT, f) !== 'flags/fetch.ts')
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((l, i) => [l, i] as const)
          // audit, gc and smoke have a --distdir of their own (not the fetch flags): only the others are looked for
          .filter(([l]) => /mirrors: [\w.?]*\.mirror\b|offline: [\w.()]*flags\.offline|\.option\('--(mirror|offline|no-distro)\b/.test(l))
          .map(([l, i]) => `${path.relative(SRC_ROOT, f)}:${i + 1}: ${l.trim()}`),
      )
      .filter((l) => !l.startsWith('commands/options.ts:'));
    expect(offenders).toEqual([]);
  });
});
