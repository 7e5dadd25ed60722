// pkg-descr: what the package is, every statically linked component with its license, the patches.
import { server, type BuildPlan } from '../../plan.ts';
import { wrap } from '../common.ts';

export function portDescr(plan: BuildPlan): string {
  const nginx = server(plan);
  const descr = [
    ...wrap(`nginx ${nginx.version} built from pinned, verified sources by nginx-forge, profile "${plan.profile}": ${plan.description}.`, 72),
    '',
    'Statically linked components:',
    ...plan.components.filter((c) => c.role !== 'server').map((c) => `  ${c.displayName} ${c.version} (${c.license})`),
    '',
    ...(plan.patches.length ? wrap(`${plan.patches.length} patches are applied to the sources (${[...new Set(plan.patches.map((p) => (p.origin.kind === 'patchset' ? p.origin.patchSet : 'project patches')))].join(', ')}).`, 72) : []),
    // the Linux packages' twins (nginx-debug) are one binary here: the port's DEBUG option
    ...(plan.variants.length ? ['', ...wrap(`The port installs one nginx; the ${plan.variants.map((v) => v.name).join(', ')} twin of the Linux packages is this port built with the DEBUG option (--with-debug).`, 72)] : []),
  ];
  return `${descr.join('\n').trimEnd()}\n`;
}
