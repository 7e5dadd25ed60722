// Profiles that extend one another ("extends": "<base>"): the base's resolved profile with what the
// extending file removes, changes, adds or replaces. Pure; load.ts resolves the chain and validates
// the result as a complete profile, so nothing after the loader knows a profile was written this way.
import type { ProfileExtension, ProfileRecipe } from './schema.ts';

export interface ExtendProblem {
  path: PropertyKey[];
  message: string;
}

/** A list of the base's replaced (a list), or edited: entries removed (by key), put first, put last. */
type ListEdit<T> = T[] | { remove?: string[]; prepend?: T[]; add?: T[] };

/**
 * Apply a list edit: a list replaces `base`; otherwise `remove` (each key must be in `base`),
 * then `prepend` first and `add` last (none may be in the list already, nor twice).
 */
function editList<T>(base: readonly T[], edit: ListEdit<T> | undefined, at: PropertyKey[], what: string, problems: ExtendProblem[], key: (x: T) => string = String): T[] {
  if (edit === undefined) return [...base];
  if (Array.isArray(edit)) return [...edit];
  const out = [...base];
  for (const [i, k] of (edit.remove ?? []).entries()) {
    const j = out.findIndex((y) => key(y) === k);
    if (j < 0) problems.push({ path: [...at, 'remove', i], message: `"${k}" is not in ${what}, nothing to remove: drop it from "remove"` });
    else out.splice(j, 1);
  }
  const seen = new Set(out.map(key));
  for (const part of ['prepend', 'add'] as const) {
    for (const [i, x] of (edit[part] ?? []).entries()) {
      if (seen.has(key(x))) problems.push({ path: [...at, part, i], message: `"${key(x)}" is already in ${what} (or listed twice): drop it from "${part}"` });
      seen.add(key(x));
    }
  }
  return [...(edit.prepend ?? []), ...out, ...(edit.add ?? [])];
}

/**
 * The profile `ext` describes, as ProfileRecipe input: `base` (a resolved profile, `baseFile` its
 * file) with the edits applied. Every edit naming something the base does not have (or adding
 * what it has) is a problem at the edit's field path.
 */
export function extendProfile(base: ProfileRecipe, baseFile: string, ext: ProfileExtension): { profile: unknown; problems: ExtendProblem[] } {
  const problems: ExtendProblem[] = [];
  const of = (field: string) => `${base.name}'s ${field} (${baseFile})`;

  // components: an ordered record (build order); removed, then changed, then added at the end
  const components = new Map(Object.entries(structuredClone(base.components)));
  const edit = ext.components ?? {};
  for (const [i, name] of (edit.remove ?? []).entries()) {
    if (!components.delete(name)) problems.push({ path: ['components', 'remove', i], message: `"${name}" is not one of ${of('components')}, nothing to remove: it has ${Object.keys(base.components).join(', ')}; drop "${name}" from "remove"` });
  }
  for (const [name, change] of Object.entries(edit.change ?? {})) {
    const pin = components.get(name);
    if (!pin) {
      problems.push({ path: ['components', 'change', name], message: `"${name}" is not one of ${of('components')}: a component the base does not have goes in "add"` });
      continue;
    }
    if (change.version !== undefined) pin.version = change.version;
    if (change.link !== undefined) pin.link = change.link;
    pin.options = editList(pin.options, change.options, ['components', 'change', name, 'options'], of(`components.${name}.options`), problems);
  }
  for (const [name, pin] of Object.entries(edit.add ?? {})) {
    if (components.has(name)) problems.push({ path: ['components', 'add', name], message: `"${name}" is already one of ${of('components')}: change its pin in "change" instead` });
    else components.set(name, pin);
  }

  const n = ext.nginx ?? {};
  const paths = { ...base.nginx.paths };
  for (const [k, v] of Object.entries(n.paths ?? {})) {
    if (v !== null) paths[k] = v;
    else if (k in paths) delete paths[k];
    else problems.push({ path: ['nginx', 'paths', k], message: `is not in ${of('nginx.paths')}, nothing to remove (null removes a path of the base's)` });
  }
  const variants = editList(base.nginx.variants, n.variants, ['nginx', 'variants'], of('nginx.variants'), problems, (v) => v.name);

  const profile: Record<string, unknown> = {
    ...(ext.$schema !== undefined ? { $schema: ext.$schema } : {}),
    name: ext.name,
    description: ext.description,
    ...((ext.target ?? base.target) !== undefined ? { target: ext.target ?? base.target } : {}),
    components: Object.fromEntries(components),
    nginx: {
      prefix: n.prefix ?? base.nginx.prefix,
      paths,
      modules: editList(base.nginx.modules, n.modules, ['nginx', 'modules'], of('nginx.modules'), problems),
      ccOpt: editList(base.nginx.ccOpt, n.ccOpt, ['nginx', 'ccOpt'], of('nginx.ccOpt'), problems),
      ldOpt: editList(base.nginx.ldOpt, n.ldOpt, ['nginx', 'ldOpt'], of('nginx.ldOpt'), problems),
      variants,
    },
    ktls: ext.ktls ?? base.ktls,
    hardening: editList(base.hardening, ext.hardening, ['hardening'], of('hardening'), problems),
    sanitizers: ext.sanitizers ?? base.sanitizers,
  };
  return { profile, problems };
}
