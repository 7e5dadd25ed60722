// `nginx-forge package --format deb|rpm|freebsd-port`:
//   deb           runs the build (cached: usually nothing to do after `nginx-forge build`) up to and
//                 including its package stage (verify, tarball, manifest, SBOM; no smoke test), then
//                 wraps the install tree into <out>/nginx-forge-<profile>_<version>-1~deb12u1_<arch>.deb
//                 (the suffix names the build host's distribution, package/distro.ts), its -dbgsym, and
//                 adds it to <out>/SHA256SUMS
//   rpm           the same build, then rpmbuild on a spec generated from the plan:
//                 <out>/nginx-forge-<profile>-<version>-1.<arch>.rpm, with the spec and the rpmlint
//                 filter file (<pkg>.spec, <pkg>.rpmlintrc) beside it
//   freebsd-port  needs no build: writes <out>/freebsd-port/nginx-forge-<profile>/ from the plan
//                 (SIZE lines from the recipes, or from verified copies in the distfiles store)
import path from 'node:path';
import { runBuild, type BuildEvents } from '../pipeline/index.ts';
import { stageId } from '../plan.ts';
import { buildDebs, debDistro, debPackageName, debVersion } from '../package/deb.ts';
import { debRevisionSuffix } from '../package/distro.ts';
import { buildModuleDebs } from '../package/modules.ts';
import { buildRpm } from '../package/rpm.ts';
import { maintainer } from '../package/common.ts';
import { updateSha256Sums } from '../outdir.ts';
import { writeFreebsdPort } from '../package/freebsd/index.ts';
import { logsDir, plainOutput } from '../paths.ts';
import { fetchOptionsOf, type FetchFlags } from '../flags/fetch.ts';
import { remoteSettingsOf } from '../flags/cache.ts';
import { NO_PROVENANCE_NOTE, provenanceKeyOf, type ProvenanceFlags } from '../flags/provenance.ts';
import { writeProvenance } from '../provenance.ts';
import { planFromFlags, type PlanFlags } from '../flags/plan.ts';
import { interruptible, printJson } from './common.ts';
import { displayPath as shown } from '../recipes/load.ts';

export interface PackageFlags extends PlanFlags, FetchFlags, ProvenanceFlags {
  format: 'deb' | 'rpm' | 'freebsd-port';
  out: string;
  json?: boolean;
}

const say = (flags: PackageFlags, line: string) => {
  if (!flags.json) process.stderr.write(`${line}\n`);
};

export async function run(flags: PackageFlags): Promise<number> {
  const plan = planFromFlags(flags);
  const out = path.resolve(flags.out);
  const fetch = fetchOptionsOf(flags);
  const remote = remoteSettingsOf(flags);
  const provenanceKey = flags.format === 'freebsd-port' ? undefined : provenanceKeyOf(flags); // a bad key file: exit 2 before any work
  for (const n of remote?.notes ?? []) say(flags, n);
  // NGINX_FORGE_MAINTAINER / DEBEMAIL reach the control file and the spec: checked before any work
  maintainer();

  if (flags.format === 'freebsd-port') {
    const dir = path.join(out, 'freebsd-port', `nginx-forge-${plan.profile}`);
    const r = await writeFreebsdPort({ plan, dir, distdir: fetch.distdir });
    for (const w of r.warnings) say(flags, `warning: ${w}`);
    if (flags.json) {
      printJson({ format: 'freebsd-port', profile: plan.profile, dir, files: r.paths, distfiles: r.distfiles, warnings: r.warnings });
    } else {
      say(flags, `FreeBSD port: ${shown(dir)}`);
      for (const p of r.paths) say(flags, `  ${path.relative(dir, p)}`);
    }
    return 0;
  }

  // one line per stage as it settles (the build command has the live tree view)
  const events: BuildEvents = {
    refused: (_id, line) => say(flags, line),
    end: (id, r) => say(flags, `${plainOutput() ? `[${new Date().toISOString().slice(11, 19)}] ` : ''}${id.padEnd(18)} ${r.status}${r.status === 'built' ? ` ${r.seconds}s` : ''}${r.detail && r.status !== 'cached' && !r.detail.startsWith(r.status) ? ` (${r.detail})` : r.detail && r.status === 'skipped' ? ` (${r.detail.replace(/^skipped\s*/, '').replace(/^\((.*)\)$/, '$1')})` : ''}`),
  };
  // one interrupt path for the build and the packaging after it: Ctrl-C during dpkg-deb or
  // rpmbuild stops it (and what it forked), removes the temp tree and the partial package, exit 130
  const { summary, made, twins, dbgsym, moduleDebs, provenance, sums } = await interruptible('package', async (signal) => {
    const summary = await runBuild(plan, { ...fetch, out, smoke: false, until: stageId('artifacts'), withInstalls: true, verifyContent: true, remote, provenanceKey: provenanceKey?.privatePem, signal }, events);
    const logDir = path.join(logsDir(), `${plan.profile}-${plan.planHash.slice(0, 12)}`);
    const variants = Object.fromEntries(Object.entries(summary.variants).map(([name, v]) => [name, v.binary]));
    const tree = { plan, root: summary.root, licensesDir: summary.licensesDir, sbom: summary.sbom, manifest: summary.manifest, outDir: out, variants, signal };
    // the main package and one sub-package per twin (nginx-debug), depending on exactly it
    // and the debug symbols of their binaries (<pkg>-dbgsym .debs, one <pkg>-debuginfo .rpm)
    // the .deb's version names the distribution it is built for (the host's): 1.26.3-1~deb12u1
    const distro = debDistro(undefined);
    const { made, twins, dbgsym } =
      flags.format === 'rpm'
        ? await buildRpm({ ...tree, log: path.join(logDir, 'package-rpm.log') }).then((r) => ({ made: r.rpm, twins: r.twins, dbgsym: r.debuginfo ? [r.debuginfo] : [] }))
        : await buildDebs({ ...tree, distro: distro ?? null, log: path.join(logDir, 'package-deb.log') }).then((r) => ({ made: r.deb, twins: r.twins, dbgsym: r.dbgsym }));
    // .deb: each dynamic module in a package of its own, depending on exactly this nginx package
    const moduleDebs =
      flags.format === 'deb'
        ? await buildModuleDebs({
            plan,
            root: summary.root,
            licensesDir: summary.licensesDir,
            manifest: summary.manifest,
            outDir: out,
            log: path.join(logDir, 'package-deb.log'),
            nginxPackage: debPackageName(plan),
            nginxVersion: debVersion(plan, 1, distro ?? null),
            versionSuffix: debRevisionSuffix(distro),
            arch: /_([^_]+)\.deb$/.exec(made)![1]!,
            signal,
          })
        : [];
    signal.throwIfAborted();
    const files = [made, ...twins, ...dbgsym, ...moduleDebs];
    // the packages' own provenance beside them (the build's tarball has its own, from runBuild)
    const provenance = provenanceKey ? writeProvenance({ out, plan, output: flags.format, files, manifest: summary.manifest, privatePem: provenanceKey.privatePem }) : undefined;
    return { summary, made, twins, dbgsym, moduleDebs, provenance, sums: updateSha256Sums(out, [...files, ...(provenance ? [provenance] : [])]) };
  });
  if (flags.json) {
    printJson({
      format: flags.format,
      profile: plan.profile,
      planHash: plan.planHash,
      [flags.format]: made,
      twins,
      dbgsym,
      moduleDebs,
      artifacts: [...summary.artifacts.filter((a) => a !== sums), made, ...twins, ...dbgsym, ...moduleDebs, ...(provenance ? [provenance] : []), sums],
      // the packages' signed provenance (the build's is among the artifacts); null without a key
      provenance: provenance ?? null,
      stages: summary.stages.map((x) => ({ id: x.id, status: x.status, seconds: x.seconds })),
    });
  } else {
    say(flags, `.${flags.format}:${' '.repeat(Math.max(1, 10 - flags.format.length - 2))}${shown(made)}`);
    for (const d of twins) say(flags, `twin:      ${shown(d)}`);
    for (const d of dbgsym) say(flags, `symbols:   ${shown(d)}`);
    for (const d of moduleDebs) say(flags, `module:    ${shown(d)}`);
    if (provenance) say(flags, `provenance: ${shown(provenance)}`);
    else say(flags, NO_PROVENANCE_NOTE);
    say(flags, `checksums: ${shown(sums)}`);
  }
  return 0;
}
