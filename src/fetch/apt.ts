// Distro archive discovery: which Debian-style archives does this host's apt configuration name?
// Mirrors are never hard-coded; they are read from the host's apt sources at run time:
//   <root>/etc/apt/sources.list, <root>/etc/apt/sources.list.d/*.list   (one-line format)
//   <root>/etc/apt/sources.list.d/*.sources                            (deb822 format)
// Files whose name contains ".disabled" are ignored. A source whose suites end in "-security"
// (or the old "<codename>/updates") is a security archive; every other one is a main archive.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** File the entry was read from (for messages). */
  file: string;
}

const isSecuritySuite = (s: string) => /-security$/.test(s) || /\/updates$/.test(s);

/** http(s) archive roots only (cdrom:, file:, mirror+file: ... are not downloadable here). */
function usableUri(u: string): string | undefined {
  const m = /^(?:tor\+)?(https?:\/\/.+)$/.exec(u.trim());
  if (!m) return undefined;
  return m[1]!.replace(/\/+$/, '');
}

/** Parse the one-line format: `deb [opt=val ...] uri suite [component ...]`. */
export function parseOneLine(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) continue;
    out.push({ types: [m[1]!], uris: [m[3]!], suites: [m[4]!], components: (m[5] ?? '').split(/\s+/).filter(Boolean), file });
  }
  return out;
}

/** Parse deb822 stanzas (`Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`), with folded lines. */
export function parseDeb822(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (/^\s*#/.test(raw)) continue;
      if (/^[ \t]/.test(raw)) {
        // continuation of the previous field
        if (last) fields[last] += ` ${raw.trim()}`;
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields[last] = m[2]!.trim();
    }
    if (!fields.uris) continue;
    if (fields.enabled && /^(no|false|0)$/i.test(fields.enabled)) continue;
    const list = (k: string) => (fields[k] ?? '').split(/\s+/).filter(Boolean);
    out.push({ types: list('types'), uris: list('uris'), suites: list('suites'), components: list('components'), file });
  }
  return out;
}

/** Every apt source entry of the host (or of a fake root, for tests). */
export function aptSources(root = '/'): AptSource[] {
  const etc = path.join(root, 'etc', 'apt');
  const files: { file: string; kind: 'list' | 'sources' }[] = [{ file: path.join(etc, 'sources.list'), kind: 'list' }];
  let names: string[] = [];
  try {
    names = readdirSync(path.join(etc, 'sources.list.d')).sort();
  } catch {
    // no sources.list.d
  }
  for (const n of names) {
    if (n.includes('.disabled')) continue;
    if (n.endsWith('.list')) files.push({ file: path.join(etc, 'sources.list.d', n), kind: 'list' });
    else if (n.endsWith('.sources')) files.push({ file: path.join(etc, 'sources.list.d', n), kind: 'sources' });
  }
  const out: AptSource[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f.file, 'utf8');
    } catch {
      continue;
    }
    out.push(...(f.kind === 'list' ? parseOneLine(text, f.file) : parseDeb822(text, f.file)));
  }
  return out;
}

/**
 * Archive roots named by the host's apt sources, in the order apt lists them, without duplicates:
 * `main` for regular suites, `security` for suites ending in -security. A pool file is then
 * `<root>/pool/<pool>/<file>`.
 */
export function aptArchives(root = '/'): { main: string[]; security: string[] } {
  const main: string[] = [];
  const security: string[] = [];
  for (const s of aptSources(root)) {
    if (!s.types.some((t) => t === 'deb' || t === 'deb-src')) continue;
    const sec = s.suites.length > 0 && s.suites.every(isSecuritySuite);
    const anySec = s.suites.some(isSecuritySuite);
    for (const u of s.uris) {
      const uri = usableUri(u);
      if (!uri) continue;
      if (anySec && !security.includes(uri)) security.push(uri);
      if (!sec && !main.includes(uri)) main.push(uri);
    }
  }
  return { main, security };
}
