// A private copy of the built-in recipes for tests that edit them, and a JSON editor.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUILTIN_PATCHES, BUILTIN_RECIPES } from '../../src/recipes/load.ts';

/** A copy of recipes/ in a new temp dir; returns its path (…/recipes). */
export function copyRecipes(prefix = 'nf-recipes-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  cpSync(BUILTIN_RECIPES, path.join(dir, 'recipes'), { recursive: true });
  return path.join(dir, 'recipes');
}

/** A copy of recipes/ and patches/ side by side in a new temp dir, as in another checkout of the project. */
export function copyCheckout(prefix = 'nf-checkout-'): { recipes: string; patches: string } {
  const recipes = copyRecipes(prefix);
  const patches = path.join(path.dirname(recipes), 'patches');
  cpSync(BUILTIN_PATCHES, patches, { recursive: true });
  return { recipes, patches };
}

export const editJson = (file: string, edit: (j: any) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j, null, 2));
};
