// `nginx-forge ci matrix`: the CI build matrix, profiles x distros x targets, as JSON for GitHub
// Actions' `strategy.matrix` (`fromJSON`) or any other CI, or (`--format gitlab`) as the GitLab
// child pipeline ci/gitlab-ci.yml triggers: the jobs of ci/gitlab-build.yml, one per entry;
// `--sanitizers`: the sanitizer job's matrix instead. Profiles come from the recipe directory, so
// a new profile file joins CI without touching a template; targets from src/target.ts.
import path from 'node:path';
import { stringify } from 'yaml';
import { UsageError } from '../errors.ts';
import { loadRecipes, BUILTIN_RECIPES } from '../recipes/load.ts';
import { printJson } from './common.ts';
import { DEFAULT_PROFILE } from './options.ts';
import { targetOf } from '../target.ts';

/**
 * The distros CI builds on. Debian only: the smoke test's VM boots the pinned Debian kernel,
 * which comes from Debian's archive through the build host's apt sources. Images ship Node 20.
 */
export const CI_DISTROS = [
  { distro: 'debian-12', image: 'node:20-bookworm' },
  { distro: 'debian-13', image: 'node:20-trixie' },
] as const;

/**
 * The machines CI builds for (GNU triples of src/target.ts), each with the GitHub Actions runner
 * that is that machine: GitHub builds every target natively (its arm64 runners, in the arm64
 * variant of the same multi-arch node image). GitLab's shared runners are all GITLAB_HOST: there,
 * the other targets are cross builds (`--target`, ci/setup.sh's cross toolchain). Both templates
 * pass `--target` always; for the host's own triple it is a native build.
 */
export const CI_TARGETS = [
  { target: 'x86_64-linux-gnu', runsOn: 'ubuntu-24.04' },
  { target: 'aarch64-linux-gnu', runsOn: 'ubuntu-24.04-arm' },
] as const;

/** The machine of GitLab's shared runners: a target other than this one is a cross build there. */
export const GITLAB_HOST = 'x86_64-linux-gnu';

export interface MatrixEntry {
  profile: string;
  ktls: boolean;
  distro: string;
  /** container image the job runs in */
  image: string;
  /** the GNU triple the job builds for (`--target`) */
  target: string;
  /** its Debian architecture (amd64, arm64): artifact names */
  arch: string;
  /** GitHub Actions runner label: a runner of the target's own machine */
  runsOn: string;
  /** name for the uploaded artifact */
  artifact: string;
  /**
   * the job also runs nginx's test suite (build --test): the default profile's jobs on
   * GITLAB_HOST, a native build in both templates (a cross build cannot run the suite here)
   */
  tests: boolean;
  /** the job runs the kTLS smoke test in the VM: only where the VM boots the target's kernel */
  smoke: boolean;
}

export function ciMatrix(recipesDir: string = BUILTIN_RECIPES): { include: MatrixEntry[] } {
  const recipes = loadRecipes(recipesDir);
  const include: MatrixEntry[] = [];
  for (const name of [...recipes.profiles.keys()].sort()) {
    const p = recipes.profiles.get(name)!.recipe;
    if (p.sanitizers) continue; // not shipped: the sanitizer job builds it (sanitizerProfiles)
    // a profile that names its target is built for that one only
    const targets = CI_TARGETS.filter((t) => !p.target || t.target === p.target);
    if (!targets.length) throw new UsageError(`profile ${name}: "target" ${p.target} is not a target CI builds for`, `CI builds for ${CI_TARGETS.map((t) => t.target).join(', ')} (src/commands/ci.ts CI_TARGETS)`);
    for (const d of CI_DISTROS) {
      for (const t of targets) {
        const target = targetOf(t.target);
        include.push({
          profile: name,
          ktls: p.ktls,
          distro: d.distro,
          image: d.image,
          target: target.triple,
          arch: target.debArch,
          runsOn: t.runsOn,
          artifact: `nginx-forge-${name}-${d.distro}-${target.debArch}`,
          tests: name === DEFAULT_PROFILE && target.triple === GITLAB_HOST,
          smoke: target.smokeVm,
        });
      }
    }
  }
  return { include };
}

/** Profiles marked `"sanitizers": true`: CI's sanitizer job builds each and runs the suite under it. */
export function sanitizerProfiles(recipesDir: string = BUILTIN_RECIPES): string[] {
  const recipes = loadRecipes(recipesDir);
  return [...recipes.profiles.keys()].sort().filter((n) => recipes.profiles.get(n)!.recipe.sanitizers);
}

/** The sanitizer job's matrix (`ci matrix --sanitizers`), for GitHub Actions' `fromJSON` like the build's. */
export const sanitizerMatrix = (recipesDir: string = BUILTIN_RECIPES): { include: { profile: string }[] } => ({ include: sanitizerProfiles(recipesDir).map((profile) => ({ profile })) });

/** The job templates the GitLab child pipeline extends (hidden jobs `.build`, `.sanitizers`). */
export const GITLAB_JOBS = 'ci/gitlab-build.yml';

/**
 * The GitLab child pipeline: ci/gitlab-build.yml's job templates with the matrix as their
 * `parallel: matrix` (PROFILE, DISTRO, IMAGE, TARGET, ARCH, TESTS, SMOKE per build job; PROFILE per
 * sanitizer job). GitLab's runners are GITLAB_HOST: a job for another TARGET is a cross build.
 */
export function gitlabPipeline(recipesDir: string = BUILTIN_RECIPES): string {
  const sanitizers = sanitizerProfiles(recipesDir);
  const pipeline = {
    include: [{ local: GITLAB_JOBS }],
    stages: ['build'],
    build: {
      extends: '.build',
      parallel: { matrix: ciMatrix(recipesDir).include.map((e) => ({ PROFILE: e.profile, DISTRO: e.distro, IMAGE: e.image, TARGET: e.target, ARCH: e.arch, TESTS: String(e.tests), SMOKE: String(e.smoke) })) },
    },
    // parallel: matrix must not be empty: no job when no profile asks for sanitizers
    ...(sanitizers.length ? { sanitizers: { extends: '.sanitizers', parallel: { matrix: sanitizers.map((p) => ({ PROFILE: p })) } } } : {}),
  };
  return `# Generated by \`nginx-forge ci matrix --format gitlab\` from the recipe directory's profiles; do not edit.\n${stringify(pipeline)}`;
}

export async function matrix(flags: { recipes?: string; format?: string; sanitizers?: boolean }): Promise<number> {
  const dir = flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES;
  const format = flags.format ?? 'json';
  if (flags.sanitizers) {
    if (format !== 'json') throw new UsageError(`--sanitizers with --format ${format}: the sanitizer matrix is JSON only (the GitLab child pipeline already has its sanitizer jobs)`, 'drop --format, or drop --sanitizers');
    printJson(sanitizerMatrix(dir));
  } else if (format === 'gitlab') process.stdout.write(gitlabPipeline(dir));
  else if (format === 'json') printJson(ciMatrix(dir));
  else throw new UsageError(`--format ${format}: expected json or gitlab`);
  return 0;
}
