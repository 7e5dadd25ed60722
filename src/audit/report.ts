// Text rendering of an audit report (the JSON form is the report object itself).
import type { AuditReport, ComponentAudit } from './index.ts';

const list = (xs: string[], max = 12) => (xs.length > max ? `${xs.slice(0, max).join(', ')}, … (${xs.length} in all)` : xs.join(', '));

function upstreamLine(c: ComponentAudit): string {
  const u = c.upstream;
  if (u.status === 'not-watched') return 'upstream  not watched (the recipe has no watch.upstream)';
  if (u.status === 'unreachable') return `upstream  UNREACHABLE ${u.url}: ${u.reason} (not known to be up to date)`;
  const series = u.newestInSeries && u.newestInSeries !== u.newest ? `, newest in the pinned series ${u.newestInSeries}` : '';
  const state = u.newest === c.version ? 'pinned version is the newest' : `newest ${u.newest}${series}`;
  return `upstream  ${state}  (${u.url})`;
}

export function renderAudit(r: AuditReport): string {
  const out: string[] = [];
  out.push(`audit of profile ${r.profile}`);
  out.push(`  archives (from ${r.archives.from}): main ${r.archives.main.join(' ') || '(none)'}; security ${r.archives.security.join(' ') || '(none)'}`);
  for (const c of r.components) {
    out.push('');
    const sets = c.patchSets.map((s) => `${s.name} ${s.distroVersion ?? s.file} (${s.patches} patches)`).join(', ');
    out.push(`${c.name} ${c.version}${sets ? `  + ${sets}` : ''}`);
    if (c.resolves.length) out.push(`  resolves  ${c.resolves.length} CVEs: ${list(c.resolves)}`);
    out.push(`  ${upstreamLine(c)}`);
    const d = c.distro;
    if (!d) {
      out.push('  distro    not watched (no distro source package to follow)');
      continue;
    }
    const suites = d.suites.map((s) => (s.status === 'ok' ? `${s.suite}: ${s.newest ?? 'not listed'}` : `${s.suite}: UNREACHABLE (${s.reason})`)).join('; ');
    out.push(`  distro    ${d.source}, baseline ${d.baseline}; ${suites}`);
    if (!d.newer.length && d.suites.some((s) => s.status === 'ok')) out.push('            no newer revision listed');
    const dev = c.development;
    if (dev) {
      const suites = dev.suites.map((s) => (s.status === 'ok' ? `${s.suite}: ${s.newest ?? 'not listed'}` : `${s.suite}: UNREACHABLE (${s.reason})`)).join('; ');
      out.push(`  releases  Debian's development suites (a proxy for upstream): ${suites}`);
      if (!dev.newer.length && dev.suites.some((s) => s.status === 'ok')) out.push('            no upstream version newer than the pin listed');
      for (const n of dev.newer) {
        const where = n.url ? ` (${n.url})` : '';
        out.push(`  release   ${n.version} newer than the pin (${n.debVersion} in ${n.suite}): ${n.fetchable ? 'fetchable here' : `NOT fetchable here: ${n.reason}`}${where}`);
      }
    }
    for (const n of d.newer) {
      if (n.status === 'read') {
        const parts = [n.resolved.length ? `already resolved: ${list(n.resolved)}` : '', n.pending.length ? `NOT APPLIED: ${list(n.pending)}` : ''].filter(Boolean);
        out.push(`  newer     ${n.version} (${n.suite}): changelog names ${n.cves.length ? list(n.cves) : 'no CVE'}${parts.length ? `; ${parts.join('; ')}` : ''}`);
      } else if (n.status === 'unreachable') {
        out.push(`  newer     ${n.version} (${n.suite}): listed but unreachable (${n.file}: ${n.reason}); its fixes cannot be read here`);
      } else {
        out.push(`  newer     ${n.version} (${n.suite}): the index names no debian tarball`);
      }
    }
  }
  out.push('');
  if (r.pending.length) {
    out.push(`PENDING: ${r.pending.length} security fix(es) available but not applied:`);
    for (const p of r.pending) out.push(`  ${p.component}: ${p.cve} (in ${p.revision}, ${p.suite})`);
    out.push('  pin the newer revision\'s patch set in recipes/components/<name>.json (see README, "Refreshing pins")');
  } else {
    out.push('no reachable security fix is left unapplied');
  }
  if (r.listedUnreachable.length) {
    out.push(`listed but unreachable: ${r.listedUnreachable.map((x) => `${x.component} ${x.revision}`).join(', ')} (run audit where the archive serves them)`);
  }
  if (r.newerReleases.length) {
    const fmt = (xs: typeof r.newerReleases) => xs.map((x) => `${x.component} ${x.version}`).join(', ');
    const yes = r.newerReleases.filter((x) => x.fetchable);
    const no = r.newerReleases.filter((x) => !x.fetchable);
    out.push(`newer upstream releases (Debian testing/unstable): ${yes.length ? `fetchable here: ${fmt(yes)}` : 'none fetchable here'}${no.length ? `; not fetchable here: ${fmt(no)}` : ''}`);
  }
  if (r.unreachable.length) out.push(`unreachable sources: ${r.unreachable.length} (${[...new Set(r.unreachable.map((u) => u.url ?? u.what))].join(', ')})`);
  return `${out.join('\n')}\n`;
}
