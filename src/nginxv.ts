// `nginx -V`, parsed once: the verify stage, the smoke test and the serve benchmark read the
// same fields from here. nginx prints (src/core/nginx.c):
//   nginx version: nginx/1.26.3
//   built by gcc 14.2.0 (Debian 14.2.0-19)
//   built with OpenSSL 3.5.7 9 Jun 2026            (or: ... (running with OpenSSL 3.0.19 27 Jan 2026))
//   TLS SNI support enabled
//   configure arguments: --prefix=/usr/share/nginx --with-openssl-opt='enable-ktls no-docs' ...
// Values with spaces are single-quoted in the configure line (configure's own quoting).

export interface NginxV {
  /** what was parsed */
  text: string;
  /** the whole "nginx version: …" line, undefined when there is none */
  versionLine?: string;
  /** "nginx/1.26.3": the server's name and version as it prints them (NGINX_VER) */
  product?: string;
  /** "1.26.3" */
  version?: string;
  /** "gcc 14.2.0 (Debian 14.2.0-19)" */
  builtBy?: string;
  /** the TLS library it was built with, and the one it runs with when that differs (a shared libssl) */
  tls?: {
    /** "OpenSSL", "BoringSSL", "LibreSSL" */
    library: string;
    /** "OpenSSL 3.5.7 9 Jun 2026" */
    builtText: string;
    /** "3.5.7" (the first word after the library's name) */
    built?: string;
    runningText?: string;
    running?: string;
  };
  /** the whole "configure arguments:" line, undefined when there is none */
  configureLineFull?: string;
  /** what follows "configure arguments: " ('' when there is no such line) */
  configureLine: string;
  /** the configure arguments as printed, quotes kept ("--with-cc-opt='-g -O2'") */
  configureArgs: string[];
}

/** `configure arguments: ...` split into arguments as nginx prints them (values with spaces quoted). */
export function splitConfigureLine(line: string): string[] {
  return [...line.matchAll(/(?:[^\s']+|'[^']*')+/g)].map((m) => m[0]);
}

export function parseNginxV(text: string): NginxV {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const versionLine = lines.find((l) => l.startsWith('nginx version: '));
  const product = versionLine ? /^nginx version: (\S+)/.exec(versionLine)?.[1] : undefined;
  const configureLineFull = lines.find((l) => l.startsWith('configure arguments:'));
  const configureLine = configureLineFull ? configureLineFull.slice('configure arguments:'.length).trim() : '';
  const builtBy = lines.find((l) => l.startsWith('built by '))?.slice('built by '.length);
  const withLine = lines.find((l) => /^built with \S/.test(l));
  let tls: NginxV['tls'];
  if (withLine) {
    const m = /^built with ((\S+)(?: (\S+))?[^(]*?)(?: \(running with ((\S+)(?: (\S+))?[^)]*)\))?\s*$/.exec(withLine);
    if (m) tls = { library: m[2]!, builtText: m[1]!.trim(), built: m[3], ...(m[4] ? { runningText: m[4].trim(), running: m[6] } : {}) };
  }
  return {
    text,
    versionLine,
    product,
    version: product ? /\/(\S+)$/.exec(product)?.[1] : undefined,
    builtBy,
    tls,
    configureLineFull,
    configureLine,
    configureArgs: splitConfigureLine(configureLine),
  };
}

/** The value of `--name=value` in the configure arguments (quotes removed), undefined when absent. */
export function configureValue(v: Pick<NginxV, 'configureArgs'>, name: string): string | undefined {
  const a = v.configureArgs.find((x) => x.startsWith(`${name}=`));
  if (a === undefined) return undefined;
  const raw = a.slice(name.length + 1);
  return raw.replace(/'([^']*)'/g, '$1');
}

/** A configure flag given as such (`--with-debug`) or with a value (`--with-openssl=…`). */
export function hasConfigureArg(v: Pick<NginxV, 'configureArgs'>, name: string): boolean {
  return v.configureArgs.some((x) => x === name || x.startsWith(`${name}=`));
}

/** major and minor of the TLS library it runs with (else the one it was built with). */
export function tlsMajorMinor(v: Pick<NginxV, 'tls'>): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(v.tls?.running ?? v.tls?.built ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
