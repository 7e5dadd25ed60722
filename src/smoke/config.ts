// nginx.conf for the smoke run. Every path is explicit (pid, logs, all temp paths), so a binary
// built for /etc/nginx, /var/lib/nginx, /var/log/nginx, /run/nginx.pid touches none of them when
// started with `-p <work> -c <conf> -e <errorlog>`. The TLS server is the packages' own shipped
// configuration (conf/nginx.ts) whenever it offers the suites asked for: the kTLS proofs
// are then proofs of what users install.
import type { Suite } from './suites.ts';
import type { SmokeModule } from './types.ts';
import { tempPathDirectives } from '../nginxconf.ts';
import { KTLS_TLS12_CIPHERS, shippedTlsHttp } from '../conf/nginx.ts';

export interface ConfigParams {
  /** scratch directory nginx serves from and writes to (tmpfs in the VM) */
  work: string;
  /** directory holding nginx.conf, cert.pem and key.pem */
  io: string;
  tlsPort: number;
  httpPort: number;
  upstreamPort: number;
  suites: Suite[];
  /** `user` directive when started as root (workers must not keep root's capabilities) */
  user?: { name: string; group: string };
  /** include `ssl_conf_command Options KTLS;` (default true) */
  ktlsOption?: boolean;
  /** error_log level: debug (default) or info (a binary without --with-debug logs no debug lines) */
  logLevel?: 'debug' | 'info';
  /** third-party modules: load_module lines, and a location pair per encoding module */
  modules?: SmokeModule[];
  /** also listen for QUIC (HTTP/3) on the TLS port's number (UDP): the smoke run's HTTP/3 request */
  quic?: boolean;
}

/** The TLS server's `listen <addr> ssl;` line gets a QUIC twin on the same address (UDP). */
function withQuic(server: string, p: ConfigParams): string {
  if (!p.quic) return server;
  const addr = `127.0.0.1:${p.tlsPort}`;
  return server.replace(new RegExp(`^([ \\t]*)listen ${addr.replace(/\./g, '\\.')} ssl;$`, 'm'), `$&\n$1# added by the smoke test for its one HTTP/3 request (not in the shipped file)\n$1listen ${addr} quic;`);
}

/** The URL paths and scratch directory of a module's encoding proof. */
export function moduleUrls(m: Pick<SmokeModule, 'name'>, work: string) {
  return { dir: `${work}/mod/${m.name}`, dynamic: `/mod/${m.name}/dyn/`, static: `/mod/${m.name}/static/` };
}

function moduleLocations(p: ConfigParams): string {
  return (p.modules ?? [])
    .filter((m) => m.encoding)
    .map((m) => {
      const u = moduleUrls(m, p.work);
      const block = (url: string, directives: string[]) => `
        location ${url} {
            alias ${u.dir}/;
            gzip off;
${directives.map((d) => `            ${d}
`).join('')}        }`;
      return `
        # ${m.displayName}: ${m.encoding!.token} on the fly${m.encoding!.static.length ? ' and pre-compressed' : ''}${block(u.dynamic, m.encoding!.dynamic)}${m.encoding!.static.length ? block(u.static, m.encoding!.static) : ''}`;
    })
    .join('');
}

export const GZIP_LEVELS = [1, 5, 9] as const;
export const GZIP_SIZES = { small: 100, large: 1024 * 1024 } as const;

/** Layout of the scratch directory, shared by the config and the probe script. */
export function workPaths(work: string) {
  return {
    html: `${work}/html`,
    gz: `${work}/gz`,
    out: `${work}/out`,
    logs: `${work}/logs`,
    errorLog: `${work}/logs/error.log`,
    accessLog: `${work}/logs/access.log`,
    pid: `${work}/nginx.pid`,
    tmp: `${work}/tmp`,
  };
}

/** TLS 1.3 suites OpenSSL 3 offers by default (what a server without `Ciphersuites` negotiates). */
const TLS13_DEFAULT = new Set(['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256']);

/**
 * Which TLS server the run serves: `shipped` is the packages' own configuration (conf.d/ktls.conf
 * at http level, then the example TLS server of sites-available/example-tls with this run's
 * address, certificate and root), used whenever it offers every suite asked for: the client picks
 * the suite, as a browser would. `custom` pins the server to the suites asked for (--ciphers with
 * a suite the shipped snippet does not offer, e.g. TLS_AES_128_CCM_SHA256).
 */
export function tlsServerKind(suites: Suite[]): 'shipped' | 'custom' {
  const tls12 = new Set<string>(KTLS_TLS12_CIPHERS);
  return suites.every((s) => (s.protocol === 'TLSv1.3' ? TLS13_DEFAULT.has(s.name) : tls12.has(s.name))) ? 'shipped' : 'custom';
}

function customTlsServer(p: ConfigParams, w: ReturnType<typeof workPaths>): string {
  const tls13 = p.suites.filter((s) => s.protocol === 'TLSv1.3').map((s) => s.name);
  const tls12 = p.suites.filter((s) => s.protocol === 'TLSv1.2').map((s) => s.name);
  return `    sendfile on;

    # kTLS: HTTP/1.1 only (HTTP/2 never calls SSL_sendfile), sendfile on, OpenSSL's KTLS option
    server {
        listen 127.0.0.1:${p.tlsPort} ssl;
        server_name localhost;
        ssl_certificate ${p.io}/cert.pem;
        ssl_certificate_key ${p.io}/key.pem;
        ssl_protocols ${[tls12.length ? 'TLSv1.2' : '', tls13.length ? 'TLSv1.3' : ''].filter(Boolean).join(' ') || 'TLSv1.2 TLSv1.3'};
${tls12.length ? `        ssl_ciphers ${tls12.join(':')};\n` : ''}${tls13.length ? `        ssl_conf_command Ciphersuites ${tls13.join(':')};\n` : ''}${p.ktlsOption === false ? '' : '        ssl_conf_command Options KTLS;\n'}        ssl_session_cache off;
        ssl_session_tickets off;
        root ${w.html};

        location / {
        }
    }`;
}

function shippedTlsServer(p: ConfigParams, w: ReturnType<typeof workPaths>): string {
  const text = shippedTlsHttp({ ktls: p.ktlsOption !== false, listen: `127.0.0.1:${p.tlsPort}`, certificate: `${p.io}/cert.pem`, certificateKey: `${p.io}/key.pem`, root: w.html });
  return `    # the packages' configuration: conf.d/ktls.conf and sites-available/example-tls, as shipped
${text
  .trimEnd()
  .split('\n')
  .map((l) => (l ? `    ${l}` : l))
  .join('\n')}`;
}

export function renderConfig(p: ConfigParams): string {
  const w = workPaths(p.work);
  const gzipLocations = GZIP_LEVELS.map(
    (l) => `
        location /gz${l}/ {
            alias ${w.gz}/;
            gzip_comp_level ${l};
        }
        location /px${l}/ {
            proxy_pass http://127.0.0.1:${p.upstreamPort}/raw/;
            gzip_comp_level ${l};
        }`,
  ).join('');
  const loads = (p.modules ?? []).flatMap((m) => m.load.map((so) => `load_module ${so};\n`)).join('');
  return `# generated by nginx-forge smoke
${loads}${p.user ? `user ${p.user.name} ${p.user.group};\n` : ''}worker_processes 1;
daemon on;
master_process on;
pid ${w.pid};
lock_file ${p.work}/nginx.lock;
error_log ${w.errorLog} ${p.logLevel ?? 'debug'};
pcre_jit on;

events {
    worker_connections 64;
}

http {
    access_log ${w.accessLog};
${tempPathDirectives(w.tmp)}

    types {
        text/plain txt;
        application/octet-stream bin;
    }
    default_type application/octet-stream;
    tcp_nopush on;
    keepalive_timeout 5s;

${withQuic(tlsServerKind(p.suites) === 'shipped' ? shippedTlsServer(p, w) : customTlsServer(p, w), p)}

    # gzip (zlib-ng) over static and proxied responses, PCRE2 JIT regex location
    server {
        listen 127.0.0.1:${p.httpPort};
        server_name localhost;
        gzip on;
        gzip_types text/plain application/octet-stream;
        gzip_min_length 1;
        gzip_proxied any;
        gzip_vary off;
${gzipLocations}
${moduleLocations(p)}

        location ~ ^/re/(?<x>[a-z]+)$ {
            return 200 "re:$x\\n";
        }

        location = /health {
            return 200 "ok\\n";
        }
    }

    # upstream for the proxied gzip responses (no compression here)
    server {
        listen 127.0.0.1:${p.upstreamPort};
        server_name localhost;
        gzip off;

        location /raw/ {
            alias ${w.gz}/;
        }
    }
}
`;
}
