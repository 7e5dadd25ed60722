// Small readers for Debian's formats, as audit needs them (no maintained npm library covers
// them: the few that exist are unmaintained or read only one of them):
//   - deb822 control paragraphs (Sources indexes): `Field: value` with folded continuation lines;
//   - Debian version comparison, dpkg's algorithm (epoch, upstream, revision; "~" sorts first);
//   - debian/changelog entries: `pkg (version) suite; urgency=...`, body, ` -- maintainer  date`.

/** One paragraph of a control file; field names lower-cased, continuation lines joined with "\n". */
export type Paragraph = Record<string, string>;

export function parseControl(text: string): Paragraph[] {
  const out: Paragraph[] = [];
  let cur: Paragraph = {};
  let last: string | undefined;
  const flush = () => {
    if (Object.keys(cur).length) out.push(cur);
    cur = {};
    last = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (line.startsWith('#')) continue;
    if (/^[ \t]/.test(line)) {
      if (last) cur[last] += `\n${line.trim() === '.' ? '' : line.trim()}`;
      continue;
    }
    const m = /^([!-9;-~][!-9;-~]*):[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    last = m[1]!.toLowerCase();
    cur[last] = m[2]!.trim();
  }
  flush();
  return out;
}

export interface SourceEntry {
  package: string;
  version: string;
  /** pool directory relative to the archive root, e.g. "pool/main/n/nginx" */
  directory: string;
  /** files of the source package with their sha256 (Checksums-Sha256) */
  files: { name: string; sha256: string; size: number }[];
}

/** Source package stanzas of a Sources index. */
export function parseSources(text: string): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const p of parseControl(text)) {
    if (!p.package || !p.version) continue;
    const files = (p['checksums-sha256'] ?? '')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 3 && /^[0-9a-f]{64}$/.test(f[0]!))
      .map(([sha256, size, name]) => ({ name: name!, sha256: sha256!, size: Number(size) }));
    out.push({ package: p.package, version: p.version, directory: p.directory ?? '', files });
  }
  return out;
}

// ---- version comparison (dpkg's verrevcmp) ----

function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c >= '0' && c <= '9') return 0;
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

export function parseDebVersion(v: string): { epoch: number; upstream: string; revision: string } {
  const colon = v.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(v.slice(0, colon)) ? Number(v.slice(0, colon)) : 0;
  const rest = colon > 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash >= 0 ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) } : { epoch, upstream: rest, revision: '' };
}

/** <0, 0, >0 as dpkg --compare-versions a lt/eq/gt b. */
export function compareDebVersions(a: string, b: string): number {
  const x = parseDebVersion(a);
  const y = parseDebVersion(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
}

// ---- debian/changelog ----

export interface ChangelogEntry {
  package: string;
  version: string;
  distributions: string;
  urgency?: string;
  /** the change lines between the header and the trailer */
  body: string;
  /** CVE ids the entry names */
  cves: string[];
}

const CVE_RE = /CVE-\d{4}-\d{4,}/g;

export const cvesIn = (text: string): string[] => [...new Set(text.match(CVE_RE) ?? [])];

export function parseChangelog(text: string): ChangelogEntry[] {
  const out: ChangelogEntry[] = [];
  let cur: ChangelogEntry | undefined;
  const lines: string[] = [];
  const finish = () => {
    if (!cur) return;
    cur.body = lines.join('\n').trim();
    cur.cves = cvesIn(cur.body);
    out.push(cur);
    cur = undefined;
    lines.length = 0;
  };
  for (const line of text.split(/\r?\n/)) {
    const h = /^([a-z0-9][a-z0-9.+-]+) \(([^ )]+)\) ([^;]*);(.*)$/.exec(line);
    if (h) {
      finish();
      cur = { package: h[1]!, version: h[2]!, distributions: h[3]!.trim(), urgency: /urgency=(\w+)/.exec(h[4]!)?.[1], body: '', cves: [] };
      continue;
    }
    if (!cur) continue;
    if (/^ -- /.test(line)) {
      finish();
      continue;
    }
    lines.push(line);
  }
  finish();
  return out;
}
