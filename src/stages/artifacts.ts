// Package stage: the artifacts a CI pipeline or a packager ships.
//   nginx-<version>-<profile>-<os>-<arch>.tar.gz  sbin/ (nginx and its twins: nginx-debug), conf/,
//                                                  licenses/ (sorted, fixed mtime, root-owned)
//   manifest.json   versions, source hashes, patches + hashes, configure args, toolchain
//   sbom.cdx.json   CycloneDX 1.5 SBOM
//   vex.openvex.json  OpenVEX 0.2.0: every CVE the patches resolve, fixed or not_affected (src/vex.ts)
//   nginx-<version>-<profile>-<os>-<arch>-debug.tar.gz
//                   the debug symbols of every binary and module in the tarball, in the build-id
//                   layout gdb searches (usr/lib/debug/.build-id/xx/rest.debug, package/debug.ts):
//                   for the binaries once stripped (the packages' are), or for a core dump's reader
//   SHA256SUMS
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { moduleObjects, modules, modulesPath, server, type BuildPlan } from '../plan.ts';
import { updateSha256Sums } from '../outdir.ts';
import { cyclonedx as sbom, usedArtifact } from '../sbom.ts';
import { componentSwitches, cveAnalyses } from '../cves.ts';
import { openvex, VEX_FILE } from '../vex.ts';
import { splitDebug } from '../package/debug.ts';
import { targetFacts } from '../package/targettools.ts';

export interface PackageInput {
  plan: BuildPlan;
  /** DESTDIR install tree */
  root: string;
  licensesDir: string;
  /** the chosen artifact's file name per component (what was actually fetched) */
  artifactFiles: Record<string, { file: string; sha256: string }>;
  epoch: number;
  out: string;
  /** the twin binaries (plan.variants) as installed: name → the binary in its install tree */
  variantBinaries?: Record<string, string>;
  /** the stage's log (objcopy of the debug symbols) and its Ctrl-C */
  log?: string;
  signal?: AbortSignal;
}

const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

export function artifactBase(plan: BuildPlan): string {
  // the machine the binary is for (the plan's target: a cross build's is not this host's)
  const arch = plan.target?.cpu ?? (os.arch() === 'x64' ? 'x86_64' : os.arch());
  const s = server(plan);
  return `${s.name}-${s.version}-${plan.profile}-${os.platform()}-${arch}`;
}

function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const f of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${f}` : f;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(r, ...listFiles(dir, r));
    else out.push(r);
  }
  return out;
}

export function manifest(input: PackageInput, binarySha: string) {
  const { plan } = input;
  return {
    name: server(plan).name,
    profile: plan.profile,
    planHash: plan.planHash,
    /** the machine the binaries are for (src/target.ts): a cross build's is not the build host's */
    target: targetFacts(plan.target),
    sourceDateEpoch: input.epoch,
    binary: { path: `sbin/${server(plan).name}`, sha256: binarySha },
    /** twins built from the same dependencies (nginx-debug): their flags beyond the production build */
    variants: plan.variants.map((v) => ({
      name: v.name,
      path: `sbin/${v.name}`,
      sha256: input.variantBinaries?.[v.name] ? sha256File(input.variantBinaries[v.name]!) : null,
      flags: v.flags,
      configureArgs: v.configureArgs,
    })),
    components: plan.components.map((c) => {
      const used = usedArtifact(c, input.artifactFiles[c.name]);
      return {
        name: c.name,
        version: c.version,
        license: c.license,
        source: { file: used.artifact.file, sha256: used.artifact.sha256, ...(used.upstream ? { version: used.version } : {}) },
        options: c.options,
        // a library's whole configure command line after --prefix (recipe args, trim, the profile's
        // options: OpenSSL's no-*/enable-*), exactly as the library stage passed it
        ...(c.build ? { configure: componentSwitches(plan, c) } : {}),
      };
    }),
    /** third-party modules: how each is linked, and the .so files of a dynamic one (in the tarball's modules/) */
    modules: modules(plan).map((m) => ({
      name: m.name,
      version: m.version,
      link: m.module.link,
      modules: m.module.names,
      requires: m.module.requires,
      objects: moduleObjects(m).map((so) => ({ path: `modules/${so}`, sha256: sha256File(path.join(input.root, modulesPath(plan), so)) })),
    })),
    patchSets: plan.patchSets.map((s) => ({ component: s.component, name: s.name, file: s.artifact.file, sha256: s.artifact.sha256 })),
    patches: plan.patches.map((p) => ({ component: p.component, id: p.id, sha256: p.sha256, cves: p.cves })),
    /** CVE ids resolved by the applied patches (also in the SBOM's vulnerabilities section). */
    resolvedCves: [...new Set(plan.patches.flatMap((p) => p.cves))].sort(),
    /** of those, the CVEs whose code this build does not compile, with the switch that leaves it out (vex.openvex.json: not_affected) */
    notAffectedCves: cveAnalyses(plan).flatMap((a) => (a.notCompiled ? [{ id: a.id, notCompiled: a.notCompiled }] : [])),
    configureArgs: plan.configureArgs,
    toolchain: plan.toolchain,
  };
}

/** The CycloneDX SBOM (src/sbom.ts). */
export function cyclonedx(input: PackageInput, binarySha: string) {
  return sbom({ plan: input.plan, artifactFiles: input.artifactFiles, epoch: input.epoch, binarySha });
}

/** Writes the artifacts into input.out; returns their paths. */
export async function writeArtifacts(input: PackageInput): Promise<string[]> {
  const { plan, root, out } = input;
  mkdirSync(out, { recursive: true });
  const base = artifactBase(plan);
  const stage = path.join(out, `.${base}.staging`);
  const top = path.join(stage, base);
  const sbin = path.join(root, plan.install.sbin);
  mkdirSync(path.join(top, 'sbin'), { recursive: true });
  cpSync(sbin, path.join(top, 'sbin', server(plan).name));
  for (const v of plan.variants) {
    const bin = input.variantBinaries?.[v.name];
    if (!bin) throw new Error(`artifacts: the ${v.name} binary of the plan was not given`);
    cpSync(bin, path.join(top, 'sbin', v.name));
  }
  const confSrc = path.join(root, plan.install.confDir);
  if (existsSync(confSrc)) cpSync(confSrc, path.join(top, 'conf'), { recursive: true });
  cpSync(input.licensesDir, path.join(top, 'licenses'), { recursive: true });
  const sos = modules(plan).flatMap((m) => moduleObjects(m));
  if (sos.length) {
    mkdirSync(path.join(top, 'modules'), { recursive: true });
    for (const so of sos) cpSync(path.join(root, modulesPath(plan), so), path.join(top, 'modules', so));
  }
  const binarySha = sha256File(sbin);
  const man = manifest(input, binarySha);
  writeFileSync(path.join(top, 'manifest.json'), `${JSON.stringify(man, null, 2)}\n`);

  const tarball = path.join(out, `${base}.tar.gz`);
  const mtime = new Date(input.epoch * 1000);
  await tar.c(
    { gzip: { level: 9 }, file: tarball, cwd: stage, portable: true, noDirRecurse: true, mtime, noMtime: false },
    [base, ...listFiles(top).map((f) => `${base}/${f}`)],
  );
  // the debug symbols, apart: the same files the .deb's dbgsym and the .rpm's debuginfo ship
  const debugBase = `${base}-debug`;
  const elfs = [path.join(top, 'sbin', server(plan).name), ...plan.variants.map((v) => path.join(top, 'sbin', v.name)), ...sos.map((so) => path.join(top, 'modules', so))];
  const debugStage = path.join(out, `.${debugBase}.staging`);
  const debugTarball = path.join(out, `${debugBase}.tar.gz`);
  const { rmSync } = await import('node:fs');
  try {
    await splitDebug({ component: server(plan).name, stage: 'artifacts', log: input.log ?? path.join(out, '.artifacts.log'), signal: input.signal }, elfs, path.join(debugStage, debugBase), plan.target);
    await tar.c(
      { gzip: { level: 9 }, file: debugTarball, cwd: debugStage, portable: true, noDirRecurse: true, mtime, noMtime: false },
      [debugBase, ...listFiles(path.join(debugStage, debugBase)).map((f) => `${debugBase}/${f}`)],
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
    rmSync(debugStage, { recursive: true, force: true });
  }

  const manifestPath = path.join(out, 'manifest.json');
  writeFileSync(manifestPath, `${JSON.stringify(man, null, 2)}\n`);
  const sbomPath = path.join(out, 'sbom.cdx.json');
  writeFileSync(sbomPath, `${JSON.stringify(cyclonedx(input, binarySha), null, 2)}\n`);
  const vexPath = path.join(out, VEX_FILE);
  writeFileSync(vexPath, `${JSON.stringify(openvex({ plan, artifactFiles: input.artifactFiles, epoch: input.epoch }), null, 2)}\n`);
  const files = [tarball, debugTarball, manifestPath, sbomPath, vexPath];
  return [...files, updateSha256Sums(out, files)];
}
