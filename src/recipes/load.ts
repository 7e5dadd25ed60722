// Load and validate a recipe directory in two passes:
//   1. each file against its zod schema (every problem, with its dotted field path); a profile
//      with "extends" is resolved against its base (extends.ts) into a complete profile here, and
//      that is validated as one: nothing after the loader sees the difference;
//   2. cross-field rules across files (versions that exist, kTLS prerequisites, keyrings present).
// Reading files is the only I/O here. All problems are collected and thrown at once.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import type { z } from 'zod';
import { RecipeError, type RecipeProblem } from '../errors.ts';
import { extendProfile } from './extends.ts';
import { ComponentRecipe, ProfileExtension, ProfileRecipe, type ComponentName } from './schema.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILTIN_RECIPES = path.join(PROJECT_ROOT, 'recipes');
export const BUILTIN_PATCHES = path.join(PROJECT_ROOT, 'patches');

export interface RecipeSet {
  dir: string;
  components: Map<ComponentName, { file: string; recipe: ComponentRecipe }>;
  profiles: Map<string, ProfileEntry>;
}

export interface ProfileEntry {
  file: string;
  /** the complete profile (a profile with "extends" resolved against its bases) */
  recipe: ProfileRecipe;
  /** the bases it extends, nearest first (empty: the file is complete on its own) */
  extends: string[];
}

/** How many profiles deep an "extends" chain may go. */
export const MAX_EXTENDS = 8;

/** Render a zod issue path like `versions["1.26.3"].artifacts[0].sha256`. */
export function fieldPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z_$][\w$-]*$/.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out;
}

export function zodProblems(file: string, error: z.ZodError): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ file, path: fieldPath([...issue.path, key]), message: `unknown field "${key}"` });
      }
    } else if (issue.code === 'invalid_key') {
      // a record key (build.env, components): the key's own check says what is wrong with it
      const inner = issue.issues.map((i) => i.message).join('; ');
      problems.push({ file, path: fieldPath(issue.path), message: inner ? `bad key: ${inner}` : issue.message });
    } else {
      problems.push({ file, path: fieldPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

function readJson(file: string, display: string, problems: RecipeProblem[]): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    problems.push({ file: display, path: '', message: `not valid JSON: ${(e as Error).message}` });
    return undefined;
  }
}

function jsonFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

/** Display path for messages: relative to the cwd when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Pass 1 over one directory; returns what parsed, and pushes every problem. */
function parseDir<S extends z.ZodType>(dir: string, schema: S | ((data: unknown) => S), problems: RecipeProblem[]) {
  const out: { file: string; recipe: z.infer<S> }[] = [];
  for (const f of jsonFiles(dir)) {
    const full = path.join(dir, f);
    const display = displayPath(full);
    const data = readJson(full, display, problems);
    if (data === undefined) continue;
    const r = (typeof schema === 'function' ? schema(data) : schema).safeParse(data);
    if (!r.success) {
      problems.push(...zodProblems(display, r.error));
      continue;
    }
    out.push({ file: display, recipe: r.data });
  }
  return out;
}

const extendsBase = (data: unknown) => (data !== null && typeof data === 'object' && 'extends' in data ? ProfileExtension : ProfileRecipe);

/**
 * Resolve every profile's "extends" chain: the base resolved first, the file's edits applied, the
 * result validated as a complete profile. An unknown base, a cycle, a chain deeper than
 * MAX_EXTENDS or a base with problems is a problem at the file's "extends".
 */
function resolveProfiles(dir: string, parsed: { file: string; recipe: ProfileRecipe | ProfileExtension }[], problems: RecipeProblem[]): Map<string, ProfileEntry> {
  const byName = new Map(parsed.map((p) => [p.recipe.name, p]));
  const files = new Set(jsonFiles(dir).map((f) => path.basename(f, '.json')));
  const done = new Map<string, ProfileEntry | null>();
  const visit = (name: string, chain: string[]): ProfileEntry | null => {
    if (done.has(name)) return done.get(name)!;
    const { file, recipe } = byName.get(name)!;
    if (!('extends' in recipe)) {
      const entry = { file, recipe, extends: [] };
      done.set(name, entry);
      return entry;
    }
    const fail = (message: string) => {
      problems.push({ file, path: 'extends', message });
      done.set(name, null);
      return null;
    };
    const base = recipe.extends;
    if (chain.includes(base) || base === name) return fail(`"${base}" closes a cycle (${[...chain, name, base].join(' → ')}): a profile cannot extend itself, directly or through others`);
    if (!byName.has(base)) {
      if (files.has(base)) return fail(`the base profile ${base}.json has problems of its own (its lines above); fix them first`);
      return fail(`no profile "${base}" in ${displayPath(dir)} (known: ${[...files].filter((f) => f !== name).sort().join(', ')})`);
    }
    const b = visit(base, [...chain, name]);
    if (!b) return fail(`the base profile ${base} cannot be resolved (its lines above)`);
    if (b.extends.length + 2 > MAX_EXTENDS) return fail(`${[name, base, ...b.extends].join(' → ')} is ${b.extends.length + 2} profiles deep, more than ${MAX_EXTENDS}: extend a profile nearer the root`);
    const ext = extendProfile(b.recipe, b.file, recipe);
    if (ext.problems.length) {
      problems.push(...ext.problems.map((p) => ({ file, path: fieldPath(p.path), message: p.message })));
      done.set(name, null);
      return null;
    }
    const r = ProfileRecipe.safeParse(ext.profile);
    if (!r.success) {
      problems.push(...zodProblems(file, r.error).map((p) => ({ ...p, message: `${p.message} (in the profile resolved from ${[base, ...b.extends].join(' → ')})` })));
      done.set(name, null);
      return null;
    }
    const entry = { file, recipe: r.data, extends: [base, ...b.extends] };
    done.set(name, entry);
    return entry;
  };
  const out = new Map<string, ProfileEntry>();
  for (const name of byName.keys()) {
    const e = visit(name, []);
    if (e) out.set(name, e);
  }
  return out;
}

export function loadRecipes(dir: string = BUILTIN_RECIPES): RecipeSet {
  const problems: RecipeProblem[] = [];
  if (!existsSync(dir)) {
    throw new RecipeError([{ file: displayPath(dir), path: '', message: 'recipe directory does not exist' }]);
  }
  const components = new Map<ComponentName, { file: string; recipe: ComponentRecipe }>();
  for (const c of parseDir(path.join(dir, 'components'), ComponentRecipe, problems)) {
    const expected = path.basename(c.file, '.json');
    if (c.recipe.name !== expected) {
      problems.push({ file: c.file, path: 'name', message: `is "${c.recipe.name}" but the file is named ${expected}.json; they must match` });
    }
    components.set(c.recipe.name, c);
  }
  const parsed = parseDir(path.join(dir, 'profiles'), extendsBase, problems);
  for (const p of parsed) {
    const expected = path.basename(p.file, '.json');
    if (p.recipe.name !== expected) {
      problems.push({ file: p.file, path: 'name', message: `is "${p.recipe.name}" but the file is named ${expected}.json; they must match` });
    }
  }
  const profiles = resolveProfiles(path.join(dir, 'profiles'), parsed, problems);
  const set: RecipeSet = { dir, components, profiles };
  problems.push(...crossCheckComponents(set));
  if (problems.length) throw new RecipeError(problems, 'fix the fields named above; `nginx-forge schema` writes a JSON Schema your editor can check against');
  return set;
}

/** Pass 2, component files: keyrings exist; artifacts of one version share a top directory. (Which components a profile needs is checked when it is resolved.) */
function crossCheckComponents(set: RecipeSet): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  // patch-set names are unique across components: a build extracts each set into a directory of its name
  const setNames = new Map<string, string>();
  for (const { file, recipe } of set.components.values()) {
    for (const [version, v] of Object.entries(recipe.versions)) {
      for (const [i, s] of v.patchSets.entries()) {
        const other = setNames.get(s.name);
        if (other && other !== recipe.name) {
          problems.push({ file, path: fieldPath(['versions', version, 'patchSets', i, 'name']), message: `"${s.name}" is also a patch set of ${other}; patch-set names must be unique across components` });
        }
        setNames.set(s.name, recipe.name);
        const applied = new Set(s.patches.map((x) => x.file));
        for (const [j, x] of s.excluded.entries()) {
          if (applied.has(x.file)) problems.push({ file, path: fieldPath(['versions', version, 'patchSets', i, 'excluded', j, 'file']), message: `${x.file} is both applied (patches) and excluded` });
        }
      }
      if (!semverOf(version)) problems.push({ file, path: fieldPath(['versions', version]), message: 'is not a comparable version' });
      if (v.bootstrap && recipe.build?.system !== 'configure') {
        const has = recipe.build ? `is built with ${recipe.build.system}` : 'has no "build" section';
        problems.push({ file, path: fieldPath(['versions', version, 'bootstrap']), message: `generates a configure script, but ${recipe.name} ${has}: a bootstrap belongs to a "configure" build; remove it or set build.system to "configure"` });
      }
      const tops = new Set(v.artifacts.map((a) => a.topdir));
      if (tops.size > 1) {
        problems.push({ file, path: fieldPath(['versions', version, 'artifacts']), message: `equivalent artifacts must unpack to the same directory, found ${[...tops].join(', ')}` });
      }
      v.patchSets.forEach((ps, i) => {
        const top = ps.artifact.topdir;
        if (ps.dir !== top && !ps.dir.startsWith(`${top}/`)) {
          problems.push({ file, path: fieldPath(['versions', version, 'patchSets', i, 'dir']), message: `"${ps.dir}" is outside the patch set's tree: it must be "${top}" or start with "${top}/" (artifact.topdir)` });
        }
      });
      const all = [...v.artifacts.map((a, i) => ({ a, p: ['versions', version, 'artifacts', i] as PropertyKey[] })),
        ...v.patchSets.map((s, i) => ({ a: s.artifact, p: ['versions', version, 'patchSets', i, 'artifact'] as PropertyKey[] }))];
      for (const { a, p } of all) {
        if (a.signature && !existsSync(path.join(set.dir, 'keys', a.signature.keyring))) {
          problems.push({ file, path: fieldPath([...p, 'signature', 'keyring']), message: `key file ${a.signature.keyring} not found in ${displayPath(path.join(set.dir, 'keys'))}` });
        }
      }
    }
  }
  return problems;
}

export function knownVersions(set: RecipeSet, name: ComponentName): string[] {
  const c = set.components.get(name);
  return c ? Object.keys(c.recipe.versions).sort((a, b) => compareVersions(a, b)) : [];
}

/**
 * A recipe version as semver: "1.0.0~rc" (Debian's "~": before the release) becomes the
 * pre-release 1.0.0-rc, so 1.0.0~rc < 1.0.0 < 1.0.1; "10.48" becomes 10.48.0.
 */
export function semverOf(v: string): semver.SemVer | null {
  return semver.coerce(v.replace('~', '-'), { includePrerelease: true });
}

export function compareVersions(a: string, b: string): number {
  const ca = semverOf(a);
  const cb = semverOf(b);
  if (!ca || !cb) return a.localeCompare(b);
  return semver.compare(ca, cb);
}
