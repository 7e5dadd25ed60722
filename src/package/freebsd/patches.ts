// The patches: the project's own ones as files/patch-* (nginx's, applied by the framework with -p1
// after EXTRA_PATCHES) and files/extra-patch-<c>-* (another component's, applied in post-patch);
// a patch set's archive is a DISTFILE unpacked by post-extract into ${WRKDIR}/<set>/, its nginx
// patches applied by the framework (EXTRA_PATCHES, in the recipe's order), another component's in
// post-patch (-d <its source tree>).
import path from 'node:path';
import { component, server, type BuildPlan } from '../../plan.ts';
import type { PortDistfile } from './distfiles.ts';
import { assign, checkArg, groupOf } from './make.ts';

const patchFileName = (id: string) => path.posix.basename(id).replace(/[^A-Za-z0-9._-]/g, '_');

/** The project's own patches as [port path, the patch file it is a copy of], nginx's first. */
export function localPatchFiles(plan: BuildPlan): [string, string][] {
  const out: [string, string][] = [];
  for (const p of plan.patches.filter((x) => x.origin.kind === 'local' && x.component === server(plan).name)) {
    if (p.origin.kind !== 'local') continue;
    out.push([`files/patch-${patchFileName(p.id)}`, p.origin.path]);
  }
  for (const p of plan.patches.filter((x) => x.origin.kind === 'local' && x.component !== server(plan).name)) {
    if (p.origin.kind !== 'local') continue;
    out.push([`files/extra-patch-${p.component}-${patchFileName(p.id)}`, p.origin.path]);
  }
  return out;
}

/**
 * The Makefile's patch lines: EXTRA_PATCHES and PATCH_STRIP, post-extract (unpacking the patch-set
 * archives; -PINNED_SSL-on for the TLS library's), post-patch (the other components' patches).
 */
export function patchRules(plan: BuildPlan, distfiles: PortDistfile[], optional: (d: PortDistfile) => boolean): string[] {
  const mk: string[] = [];
  const setPatches = plan.patches.filter((p) => p.origin.kind === 'patchset');
  const localNginx = plan.patches.filter((p) => p.origin.kind === 'local' && p.component === server(plan).name);
  const localOther = plan.patches.filter((p) => p.origin.kind === 'local' && p.component !== server(plan).name);

  // patch sets: each archive unpacked into ${WRKDIR}/<set>/; nginx's go through the framework
  // (EXTRA_PATCHES, applied before files/patch-*), the other components' in post-patch
  const sets = plan.patchSets
    .map((set) => ({ set, list: setPatches.filter((p) => p.origin.kind === 'patchset' && p.origin.patchSet === set.name), d: distfiles.find((x) => x.group === groupOf(set.name)) }))
    .filter((x) => x.list.length && x.d);
  const setPath = (set: string, p: (typeof setPatches)[number]) => `\${WRKDIR}/${set}/${checkArg(p.origin.kind === 'patchset' ? p.origin.path : '')}`;
  const nginxSets = sets.filter((x) => x.set.component === server(plan).name);
  if (nginxSets.length || localNginx.length) {
    for (const { set } of nginxSets) mk.push(`# ${set.name}: ${set.description}; applied in this order`);
    if (nginxSets.length) mk.push(assign('EXTRA_PATCHES', nginxSets.flatMap(({ set, list }) => list.map((p) => `${setPath(set.name, p)}:-p${p.strip}`))));
    if (localNginx.length) mk.push('# files/patch-* are the project\'s own nginx patches (git-style a/ b/ paths)', assign('PATCH_STRIP', ['-p1']));
    mk.push('');
  }
  const extractLines = (list: typeof sets) =>
    list.flatMap(({ set, d }) => [`\t@\${MKDIR} \${WRKDIR}/${set.name}`, `\t@\${TAR} -xf \${_DISTDIR}/${d!.file} -C \${WRKDIR}/${set.name}`]);
  const mainSets = sets.filter((x) => !optional(x.d!));
  const tlsSetList = sets.filter((x) => optional(x.d!));
  if (mainSets.length) mk.push('post-extract:', ...extractLines(mainSets), '');
  if (tlsSetList.length) mk.push('post-extract-PINNED_SSL-on:', ...extractLines(tlsSetList), '');
  const applyLines = (list: typeof sets) =>
    list.flatMap(({ set, list: ps }) => {
      const c = component(plan, set.component);
      return [
        `# ${set.name}: ${set.description}; applied in this order`,
        ...ps.map((p) => `\t@\${PATCH} -d \${WRKDIR}/${c.topdir} -p${p.strip} -E -s --forward < ${setPath(set.name, p)}`),
      ];
    });
  const otherMain = mainSets.filter((x) => x.set.component !== server(plan).name);
  if (otherMain.length || localOther.length) {
    mk.push('post-patch:', ...applyLines(otherMain));
    for (const p of localOther) {
      const c = component(plan, p.component);
      mk.push(`\t@\${ECHO_MSG} "===>  Applying ${p.id}"`);
      mk.push(`\t@\${PATCH} -d \${WRKDIR}/${c.topdir} -p${p.strip} -E -s --forward < \${FILESDIR}/extra-patch-${p.component}-${patchFileName(p.id)}`);
    }
    mk.push('');
  }
  if (tlsSetList.length) mk.push('post-patch-PINNED_SSL-on:', ...applyLines(tlsSetList), '');
  return mk;
}
