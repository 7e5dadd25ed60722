// `nginx-forge audit`: are the pins of a profile still current, and is a security fix available
// that the build does not apply?
//
// For every component of the profile:
//   - upstream: the newest release on the recipe's release listing (watch.upstream: a page and a
//     regular expression), overall and in the pinned series; an unreachable listing is reported
//     as "unreachable", never as up to date;
//   - distro: the newest revision of the watched source package in each watched suite, read from
//     `<archive>/dists/<suite>/main/source/Sources.xz` under the archive bases this host's apt sources
//     name (suites ending in -security from the security archive); every revision newer than the
//     baseline (the patch set's distroVersion, or `<version>-1` when the build applies no distro
//     patches) is fetched — its debian tarball, verified against the index's sha256, into the
//     distfiles store — and its debian/changelog read: the CVE ids its newer entries name, split
//     into those the profile's patches already resolve and those still pending.
// A revision that the index lists but whose files cannot be fetched is "listed but unreachable":
// its fixes are unknown here, and it is reported, not counted as a pending fix.
//   - development: the same source package in Debian's testing and unstable (DEVELOPMENT_SUITES,
//     from the same archive bases), a proxy for upstream releases where the release pages cannot
//     be read: each upstream version there newer than the pin, and whether this machine can fetch
//     it (a HEAD of its orig tarball in the pool on that archive: fetchable or not, and why).
import { execa } from 'execa';
import * as tar from 'tar';
import { request } from 'undici';
import { MissingToolError, type ExitCodeValue, ExitCode, ForgeError } from '../errors.ts';
import { aptArchives } from '../fetch/apt.ts';
import { classify, makeDispatcher, USER_AGENT } from '../fetch/download.ts';
import { fetchArtifactResult, SourcesExhaustedError } from '../fetch/index.ts';
import { compareVersions, type RecipeSet } from '../recipes/load.ts';
import { resolvePlan } from '../recipes/resolve.ts';
import type { ComponentName } from '../plan.ts';
import { compareDebVersions, parseChangelog, parseSources, type SourceEntry } from './debian.ts';
import type { Dispatcher } from 'undici';

export interface AuditOptions {
  /** distfiles store: newer debian tarballs are kept there, verified by the index's sha256 */
  distdir: string;
  /** root whose etc/apt names the archives (default "/"; tests use a fake root) */
  aptRoot?: string;
  /** archive bases to use instead of the ones the apt sources name (`--archive`), for every suite */
  archives?: string[];
  /** per-request timeout (default 20 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
}

export type Reach = 'ok' | 'unreachable';

export interface UpstreamAudit {
  status: Reach | 'not-watched';
  url?: string;
  newest?: string;
  /** newest release in the pinned series (same version prefix: 1.26.x, 3.5.x, 10.x) */
  newestInSeries?: string;
  reason?: string;
}

export interface RevisionAudit {
  version: string;
  suite: string;
  /** read: its changelog was read; unreachable: listed in the index, files not fetchable; no-tarball: the index names no debian tarball */
  status: 'read' | 'unreachable' | 'no-tarball';
  file?: string;
  url?: string;
  reason?: string;
  /** CVE ids its changelog names in entries newer than the baseline */
  cves: string[];
  resolved: string[];
  pending: string[];
}

export interface DistroAudit {
  source: string;
  /** what the build corresponds to: the patch set's distro version, or <version>-1 */
  baseline: string;
  suites: { suite: string; status: Reach; url?: string; reason?: string; newest?: string }[];
  newest?: { version: string; suite: string };
  /** revisions newer than the baseline, newest first */
  newer: RevisionAudit[];
}

/** Debian's development suites: what upstream released recently, as Debian packaged it. */
export const DEVELOPMENT_SUITES = ['testing', 'unstable'] as const;

export interface DevelopmentRelease {
  /** the upstream version (the Debian version without epoch, revision and repack suffix) */
  version: string;
  /** its newest Debian revision, and the first suite listing that (testing before unstable: it migrated) */
  debVersion: string;
  suite: string;
  /** the orig tarball in the pool, when the index names one */
  file?: string;
  url?: string;
  /** whether this machine can fetch that file (HEAD on the archive answered 200) */
  fetchable: boolean;
  reason?: string;
}

export interface DevelopmentAudit {
  suites: { suite: string; status: Reach; url?: string; reason?: string; newest?: string }[];
  /** upstream versions newer than the pin, newest first */
  newer: DevelopmentRelease[];
}

export interface ComponentAudit {
  name: ComponentName;
  version: string;
  patchSets: { name: string; file: string; distroVersion?: string; patches: number }[];
  /** CVE ids the profile's applied patches resolve */
  resolves: string[];
  upstream: UpstreamAudit;
  distro?: DistroAudit;
  /** the watched source package in Debian testing and unstable */
  development?: DevelopmentAudit;
}

export interface AuditReport {
  profile: string;
  /** where the archive bases came from: the host's apt sources, or --archive */
  archives: { main: string[]; security: string[]; from: 'apt sources' | '--archive' };
  components: ComponentAudit[];
  /** security fixes available (in a reachable newer revision) that the build does not apply */
  pending: { component: ComponentName; cve: string; revision: string; suite: string }[];
  /** newer revisions listed in an index whose files cannot be fetched */
  listedUnreachable: { component: ComponentName; revision: string; suite: string; reason?: string }[];
  /** upstream versions newer than the pins that Debian's development suites list, and whether each is fetchable here */
  newerReleases: { component: ComponentName; version: string; suite: string; fetchable: boolean }[];
  /** sources that could not be read at all */
  unreachable: { component: ComponentName; what: string; url?: string; reason?: string }[];
  exitCode: ExitCodeValue;
}

const bodyText = async (url: string, d: Dispatcher, timeoutMs: number, signal?: AbortSignal): Promise<Buffer> => {
  try {
    const res = await request(url, { dispatcher: d, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal, headers: { 'user-agent': USER_AGENT } });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new HttpStatus(res.statusCode);
    }
    return Buffer.from(await res.body.arrayBuffer());
  } catch (e) {
    if (signal?.aborted) throw e;
    if (e instanceof HttpStatus) throw new Unreachable(`HTTP ${e.status}`);
    throw new Unreachable(classify(url, e, timeoutMs).reason.split('\n')[0]!);
  }
};

class HttpStatus extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}
class Unreachable extends Error {}

/**
 * Whether `url` can be fetched from here: a HEAD request through the fetch code's dispatcher (a
 * server that refuses HEAD is asked with a GET whose body is discarded); failures worded by the
 * fetcher's classifier (HTTP 404, connection refused, timeout …).
 */
export async function probe(url: string, d: Dispatcher, timeoutMs: number, signal?: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    for (const method of ['HEAD', 'GET'] as const) {
      const res = await request(url, { method, dispatcher: d, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal, headers: { 'user-agent': USER_AGENT } });
      await res.body.dump();
      if (res.statusCode === 200) return { ok: true };
      if (method === 'HEAD' && (res.statusCode === 405 || res.statusCode === 501)) continue;
      return { ok: false, reason: `HTTP ${res.statusCode}` };
    }
    return { ok: false, reason: 'HTTP 405' };
  } catch (e) {
    if (signal?.aborted) throw e;
    return { ok: false, reason: classify(url, e, timeoutMs).reason.split('\n')[0]! };
  }
}

/**
 * The upstream version a Debian version packages: without the epoch, the Debian revision and a
 * repack suffix (1:5.3.1-1 → 5.3.1, 2.2.4+dfsg-1 → 2.2.4, 1.0.0~rc-2 → 1.0.0~rc).
 */
export function debianUpstreamVersion(debVersion: string): string {
  return debVersion
    .replace(/^\d+:/, '')
    .replace(/-[^-]*$/, '')
    .replace(/[+~](?:dfsg|ds|repack)\d*$/i, '');
}

/** xz-compressed bytes → bytes, through the system `xz` (as the extract stage does). */
export async function unxz(data: Buffer, what: string, signal?: AbortSignal): Promise<Buffer> {
  const r = await execa('xz', ['-dc'], { input: data, encoding: 'buffer', reject: false, cancelSignal: signal, stripFinalNewline: false });
  if ((r as { code?: string }).code === 'ENOENT') {
    throw new MissingToolError('xz', `reading ${what}`, 'install xz (Debian/Ubuntu: apt-get install xz-utils), or run `nginx-forge doctor`');
  }
  if (r.exitCode !== 0) throw new Unreachable(`${what} is not valid xz data: ${Buffer.from(r.stderr as Uint8Array).toString().trim()}`);
  return Buffer.from(r.stdout as Uint8Array);
}

/** Members of a (possibly xz-compressed) tar archive file that `want` selects, by path. */
export async function readTarMembers(file: string, want: (name: string) => boolean, signal?: AbortSignal): Promise<Map<string, Buffer>> {
  const { readFile } = await import('node:fs/promises');
  let data: Buffer = await readFile(file);
  if (data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) data = await unxz(data, file, signal);
  return new Promise((resolve, reject) => {
    const found = new Map<string, Buffer>();
    const p = new tar.Parser({
      onReadEntry: (entry) => {
        const name = entry.path.replace(/^\.\//, '');
        if (entry.type !== 'File' || !want(name)) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => found.set(name, Buffer.concat(chunks)));
      },
    });
    p.on('error', reject);
    p.on('end', () => resolve(found));
    p.end(data);
  });
}

/** The text of one member of a (possibly compressed) tar archive file. */
export async function readTarMember(file: string, member: string, signal?: AbortSignal): Promise<string | undefined> {
  return (await readTarMembers(file, (n) => n === member, signal)).get(member)?.toString('utf8');
}

/** Newest version among a listing's matches, overall and in the pinned series. */
export function newestReleases(text: string, pattern: string, pinned: string): { newest?: string; newestInSeries?: string } {
  const re = new RegExp(pattern, 'g');
  const found = new Set<string>();
  for (const m of text.matchAll(re)) if (m[1]) found.add(m[1]);
  const all = [...found].sort(compareVersions);
  const series = pinned.split('.').slice(0, -1).join('.');
  const inSeries = all.filter((v) => v.startsWith(`${series}.`) || v === pinned);
  return { newest: all.at(-1), newestInSeries: inSeries.at(-1) };
}

export async function runAudit(recipes: RecipeSet, profile: string, opts: AuditOptions): Promise<AuditReport> {
  const plan = resolvePlan(recipes, profile);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const archives = opts.archives?.length
    ? { main: opts.archives.map((a) => a.replace(/\/+$/, '')), security: opts.archives.map((a) => a.replace(/\/+$/, '')), from: '--archive' as const }
    : { ...aptArchives(opts.aptRoot ?? '/'), from: 'apt sources' as const };
  const { dispatcher, close } = makeDispatcher(timeoutMs);
  const log = opts.onLog ?? (() => undefined);
  const report: AuditReport = { profile, archives, components: [], pending: [], listedUnreachable: [], newerReleases: [], unreachable: [], exitCode: ExitCode.ok };
  // one Sources index per archive root and suite, shared by every component
  const indexes = new Map<string, Promise<{ url: string; entries: SourceEntry[] }>>();
  const index = (root: string, suite: string) => {
    const url = `${root}/dists/${suite}/main/source/Sources.xz`;
    if (!indexes.has(url)) {
      indexes.set(
        url,
        (async () => {
          log(`reading ${url}`);
          const text = (await unxz(await bodyText(url, dispatcher, timeoutMs, opts.signal), url, opts.signal)).toString('utf8');
          return { url, entries: parseSources(text) };
        })(),
      );
    }
    return indexes.get(url)!;
  };
  type Listed = { entry: SourceEntry; suite: string; root: string };
  type SuiteLine = DistroAudit['suites'][number];
  // one suite's index from the first archive root that answers: its line and the source's entries
  const readSuite = async (suite: string, roots: string[], source: string, noRoots: string): Promise<{ line: SuiteLine; entries: Listed[] }> => {
    if (!roots.length) return { line: { suite, status: 'unreachable', reason: noRoots }, entries: [] };
    const reasons: string[] = [];
    for (const root of roots) {
      try {
        const ix = await index(root, suite);
        const mine = ix.entries.filter((e) => e.package === source);
        return { line: { suite, status: 'ok', url: ix.url, newest: mine.map((e) => e.version).sort(compareDebVersions).at(-1) }, entries: mine.map((entry) => ({ entry, suite, root })) };
      } catch (e) {
        if (!(e instanceof Unreachable)) throw e;
        reasons.push(`${root}/dists/${suite}/main/source/Sources.xz: ${e.message}`);
      }
    }
    return { line: { suite, status: 'unreachable', reason: reasons.join('; ') }, entries: [] };
  };

  try {
    for (const c of plan.components) {
      const recipe = recipes.components.get(c.name)!.recipe;
      const sets = plan.patchSets.filter((s) => s.component === c.name);
      const setRecipes = recipe.versions[c.version]!.patchSets;
      const resolves = [...new Set(plan.patches.filter((p) => p.component === c.name).flatMap((p) => p.cves))].sort();
      const ca: ComponentAudit = {
        name: c.name,
        version: c.version,
        patchSets: sets.map((s) => ({
          name: s.name,
          file: s.artifact.file,
          distroVersion: setRecipes.find((r) => r.name === s.name)?.distroVersion,
          patches: plan.patches.filter((p) => p.origin.kind === 'patchset' && p.origin.patchSet === s.name).length,
        })),
        resolves,
        upstream: { status: 'not-watched' },
      };

      // upstream release listing
      const up = recipe.watch?.upstream;
      if (up) {
        try {
          log(`reading ${up.url}`);
          const text = (await bodyText(up.url, dispatcher, timeoutMs, opts.signal)).toString('utf8');
          const n = newestReleases(text, up.pattern, c.version);
          ca.upstream = n.newest ? { status: 'ok', url: up.url, ...n } : { status: 'unreachable', url: up.url, reason: `the page has no match for ${up.pattern}` };
        } catch (e) {
          if (!(e instanceof Unreachable)) throw e;
          ca.upstream = { status: 'unreachable', url: up.url, reason: e.message };
        }
        if (ca.upstream.status === 'unreachable') report.unreachable.push({ component: c.name, what: 'upstream release listing', url: up.url, reason: ca.upstream.reason });
      }

      // distro revisions
      const dw = recipe.watch?.distro;
      if (dw) {
        const baseline = ca.patchSets.find((s) => s.distroVersion)?.distroVersion ?? `${c.version}-1`;
        const da: DistroAudit = { source: dw.source, baseline, suites: [], newer: [] };
        const found: Listed[] = [];
        for (const suite of dw.suites) {
          const security = /-security$|\/updates$/.test(suite);
          const r = await readSuite(suite, security ? archives.security : archives.main, dw.source, `this host's apt sources name no ${/-security$/.test(suite) ? 'security' : 'main'} archive`);
          da.suites.push(r.line);
          found.push(...r.entries);
          if (r.line.status === 'unreachable') report.unreachable.push({ component: c.name, what: `Sources index of ${suite}`, reason: r.line.reason });
        }
        const byVersion = new Map<string, { entry: SourceEntry; suite: string; root: string }>();
        for (const f of found) if (!byVersion.has(f.entry.version)) byVersion.set(f.entry.version, f);
        const versions = [...byVersion.keys()].sort(compareDebVersions);
        const newest = versions.at(-1);
        if (newest) da.newest = { version: newest, suite: byVersion.get(newest)!.suite };
        for (const v of versions.filter((x) => compareDebVersions(x, baseline) > 0).reverse()) {
          const { entry, suite, root } = byVersion.get(v)!;
          const rev: RevisionAudit = { version: v, suite, status: 'no-tarball', cves: [], resolved: [], pending: [] };
          const deb = entry.files.find((f) => /\.debian\.tar\.(xz|gz|bz2)$/.test(f.name));
          if (deb) {
            rev.file = deb.name;
            rev.url = `${root}/${entry.directory}/${encodeURIComponent(deb.name)}`;
            try {
              const got = await fetchArtifactResult(
                { file: deb.name, sha256: deb.sha256, size: deb.size || undefined, urls: [rev.url] },
                { distdir: opts.distdir, distro: false, retries: 0, timeoutMs, signal: opts.signal, onLog: log },
              );
              const changelog = await readTarMember(got.path, 'debian/changelog', opts.signal);
              if (changelog === undefined) throw new Unreachable(`${deb.name} has no debian/changelog`);
              const entries = parseChangelog(changelog).filter((e) => compareDebVersions(e.version, baseline) > 0);
              rev.status = 'read';
              rev.cves = [...new Set(entries.flatMap((e) => e.cves))].sort();
              rev.resolved = rev.cves.filter((x) => resolves.includes(x));
              rev.pending = rev.cves.filter((x) => !resolves.includes(x));
              for (const cve of rev.pending) {
                if (!report.pending.some((p) => p.component === c.name && p.cve === cve)) report.pending.push({ component: c.name, cve, revision: v, suite });
              }
            } catch (e) {
              if (e instanceof SourcesExhaustedError) {
                rev.status = 'unreachable';
                rev.reason = e.attempts.map((a) => a.reason.split('\n')[0]).join('; ') || e.message.split('\n')[0];
              } else if (e instanceof Unreachable) {
                rev.status = 'unreachable';
                rev.reason = e.message;
              } else if (e instanceof ForgeError && !(e instanceof MissingToolError) && e.exitCode === ExitCode.fetch) {
                rev.status = 'unreachable';
                rev.reason = e.message.split('\n')[0];
              } else throw e;
              report.listedUnreachable.push({ component: c.name, revision: v, suite, reason: rev.reason });
            }
          }
          da.newer.push(rev);
        }
        ca.distro = da;

        // Debian's development suites as a proxy for upstream releases
        const dev: DevelopmentAudit = { suites: [], newer: [] };
        const listed: Listed[] = [];
        for (const suite of DEVELOPMENT_SUITES) {
          const r = await readSuite(suite, archives.main, dw.source, "this host's apt sources name no main archive");
          dev.suites.push(r.line);
          listed.push(...r.entries);
          // no main archive at all is said once, by the distro suites above
          if (r.line.status === 'unreachable' && archives.main.length) report.unreachable.push({ component: c.name, what: `Sources index of ${suite}`, reason: r.line.reason });
        }
        // per upstream version newer than the pin: its newest Debian revision
        const byUpstream = new Map<string, { entry: SourceEntry; suite: string; root: string }>();
        for (const l of listed) {
          const v = debianUpstreamVersion(l.entry.version);
          if (compareDebVersions(v, c.version) <= 0) continue;
          const had = byUpstream.get(v);
          if (!had || compareDebVersions(l.entry.version, had.entry.version) > 0) byUpstream.set(v, l);
        }
        for (const v of [...byUpstream.keys()].sort(compareDebVersions).reverse()) {
          const { entry, suite, root } = byUpstream.get(v)!;
          const orig = entry.files.find((f) => /\.orig\.tar\.(gz|xz|bz2|zst)$/.test(f.name));
          const rel: DevelopmentRelease = { version: v, debVersion: entry.version, suite, fetchable: false };
          if (!orig) rel.reason = 'the index names no orig tarball';
          else {
            rel.file = orig.name;
            rel.url = `${root}/${entry.directory}/${encodeURIComponent(orig.name)}`;
            log(`checking ${rel.url}`);
            const reach = await probe(rel.url, dispatcher, timeoutMs, opts.signal);
            rel.fetchable = reach.ok;
            if (!reach.ok) rel.reason = reach.reason;
          }
          dev.newer.push(rel);
          report.newerReleases.push({ component: c.name, version: v, suite, fetchable: rel.fetchable });
        }
        ca.development = dev;
      }
      report.components.push(ca);
    }
  } finally {
    await close();
  }
  report.exitCode = report.pending.length ? ExitCode.securityFixPending : ExitCode.ok;
  return report;
}
