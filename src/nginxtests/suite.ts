// The test suite recipe (recipes/testsuites/<name>.json), read and validated. Pure and light: the
// plan reads it for the test stage's key, runNginxTests() for what to fetch.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RecipeError } from '../errors.ts';
import { BUILTIN_RECIPES, displayPath, zodProblems } from '../recipes/load.ts';
import { TestSuiteRecipe } from '../recipes/schema.ts';

/** The suite recipe, validated (exit 2 with `file: field: problem` when broken). */
export function loadTestSuite(recipesDir: string = BUILTIN_RECIPES, name = 'nginx-tests'): { file: string; recipe: TestSuiteRecipe } {
  const full = path.join(recipesDir, 'testsuites', `${name}.json`);
  const file = displayPath(full);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(full, 'utf8'));
  } catch (e) {
    throw new RecipeError([{ file, path: '', message: existsSync(full) ? `not valid JSON: ${(e as Error).message}` : 'missing: the test suite recipe is not in this recipe directory' }]);
  }
  const r = TestSuiteRecipe.safeParse(data);
  if (!r.success) throw new RecipeError(zodProblems(file, r.error));
  if (r.data.name !== name) throw new RecipeError([{ file, path: 'name', message: `is "${r.data.name}" but the file is named ${name}.json; they must match` }]);
  if (!r.data.artifact.topdir.includes(r.data.commit)) {
    throw new RecipeError([{ file, path: 'artifact.topdir', message: `"${r.data.artifact.topdir}" does not name the pinned commit ${r.data.commit}` }]);
  }
  return { file, recipe: r.data };
}
