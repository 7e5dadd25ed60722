// Help for refreshing a pinned patch set: read a debian tarball's patch series, each patch's sha256
// and DEP-3 header, and the CVE ids that name it (its file name, `Fixes: CVE-…` / `CVE:` /
// `Bug-Debian-Security:` header lines, or a debian/changelog line naming the patch file). The output
// is a draft of the recipe's `patches` list and a comparison with the pinned one; the recipe stays
// the source of truth (a patch the draft finds no CVE for may still fix one the changelog names by
// title only: read the changelog).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import type { PatchSet } from '../recipes/schema.ts';
import { cvesIn, parseChangelog } from './debian.ts';
import { readTarMembers } from './index.ts';

export interface SeriesPatch {
  file: string;
  sha256: string;
  /** first line of Subject:/Description: */
  subject?: string;
  cves: string[];
  /** where the CVE ids were found */
  cveSources: string[];
  /** header lines that mark a distro packaging change (Forwarded: not-needed without Origin, Debian team author) */
  packaging: boolean;
}

/** The part of a patch before its first diff. */
export function patchHeader(text: string): string {
  const m = /^(?:---\s*$|--- |diff |Index: )/m.exec(text);
  return m ? text.slice(0, m.index) : text;
}

export function cvesOfPatch(file: string, text: string, changelog?: string): { cves: string[]; sources: string[] } {
  const header = patchHeader(text);
  const sources: string[] = [];
  const found = new Set<string>();
  const add = (ids: string[], where: string) => {
    const fresh = ids.filter((i) => !found.has(i));
    if (!fresh.length) return;
    for (const i of fresh) found.add(i);
    sources.push(where);
  };
  // a file named after a CVE (CVE-2026-1642.patch, CVE-2026-42946.1.patch); not "Add-test-for-CVE-…"
  if (/^CVE-\d{4}-\d{4,}/.test(file)) add(cvesIn(file).slice(0, 1), 'file name');
  for (const line of header.split('\n')) {
    if (/^(Fixes|CVE|Bug-Debian-Security|Bug-Ubuntu-Security):?/i.test(line.trim()) || /^\s*Fixes:? CVE-/i.test(line)) add(cvesIn(line), 'header');
  }
  if (changelog) {
    for (const e of parseChangelog(changelog)) {
      for (const line of e.body.split('\n')) if (line.includes(file)) add(cvesIn(line), `changelog ${e.version}`);
    }
  }
  return { cves: [...found].sort(), sources };
}

export async function readSeries(archive: string, dir = 'debian/patches'): Promise<{ patches: SeriesPatch[]; changelog?: string }> {
  const members = await readTarMembers(archive, (n) => n.startsWith(`${dir}/`) || n === 'debian/changelog');
  const series = members.get(`${dir}/series`);
  if (!series) throw new UsageError(`${archive}: no ${dir}/series in the archive`, 'pass a Debian source package\'s debian.tar.* file');
  const changelog = members.get('debian/changelog')?.toString('utf8');
  const patches: SeriesPatch[] = [];
  for (const raw of series.toString('utf8').split('\n')) {
    const file = raw.replace(/#.*$/, '').trim().split(/\s+/)[0];
    if (!file) continue;
    const bytes = members.get(`${dir}/${file}`);
    if (!bytes) throw new UsageError(`${archive}: ${dir}/series names ${file}, which is not in the archive`);
    const text = bytes.toString('utf8');
    const header = patchHeader(text);
    const subject = /^(?:Subject|Description):\s*(?:\[PATCH[^\]]*\]\s*)?(.+)$/im.exec(header)?.[1]?.trim();
    const { cves, sources } = cvesOfPatch(file, text, changelog);
    const packaging = /^From: Debian .* Team/m.test(header) || (/^Forwarded:\s*not-needed/im.test(header) && !/^Origin:/im.test(header));
    patches.push({ file, sha256: createHash('sha256').update(bytes).digest('hex'), subject, cves, cveSources: sources, packaging });
  }
  return { patches, changelog };
}

/** Differences between a series read from an archive and a pinned patch set. */
export function compareWithPin(series: SeriesPatch[], pinned: PatchSet): string[] {
  const out: string[] = [];
  const applied = new Map(pinned.patches.map((p) => [p.file, p]));
  const excluded = new Set(pinned.excluded.map((x) => x.file));
  for (const s of series) {
    const p = applied.get(s.file);
    if (!p && !excluded.has(s.file)) out.push(`${s.file}: in the series, neither applied nor excluded by the recipe${s.cves.length ? ` (names ${s.cves.join(', ')})` : ''}`);
    if (p && p.sha256 !== s.sha256) out.push(`${s.file}: sha256 ${s.sha256}, the recipe pins ${p.sha256}`);
    if (p && s.cves.some((c) => !p.cves.includes(c))) out.push(`${s.file}: names ${s.cves.filter((c) => !p.cves.includes(c)).join(', ')}, not in the recipe's cves`);
  }
  for (const f of applied.keys()) if (!series.some((s) => s.file === f)) out.push(`${f}: applied by the recipe, not in this series`);
  return out;
}

export function draftJson(series: SeriesPatch[]): string {
  return `[\n${series
    .filter((s) => !s.packaging)
    .map((s) => `  { "file": ${JSON.stringify(s.file)}, "sha256": "${s.sha256}", "cves": ${JSON.stringify(s.cves)} }`)
    .join(',\n')}\n]\n`;
}

export const archiveName = (p: string) => path.basename(p);
