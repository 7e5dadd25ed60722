// The production configuration the packages ship (deb, rpm, FreeBSD port), in the layout users of
// Debian's and nginx.org's packages expect:
//
//   <confDir>/nginx.conf                  worker_processes auto; includes the directories below
//   <confDir>/modules-enabled/*.conf      load_module lines (main context)
//   <confDir>/conf.d/*.conf               http-level settings
//   <confDir>/conf.d/ktls.conf            kTLS profiles: ssl_conf_command Options KTLS; sendfile on;
//   <confDir>/snippets/tls.conf           TLS protocols/ciphers the kernel can offload
//   <confDir>/sites-available/default     plain HTTP server (enabled through sites-enabled/default)
//   <confDir>/sites-available/example-tls disabled example TLS server (ECDSA certificate)
//   <confDir>/sites-enabled/*             servers in use
//
// Pure text builders, below packaging and the smoke test: the packages ship them, the smoke test
// renders the same pieces for its own run (ktlsHttpConf, tlsSnippet, exampleTlsServer with its
// own listen address, certificate and root).
import type { BuildPlan, PlanInstall } from '../plan.ts';

/** What the shipped configuration depends on. */
export interface ConfInput {
  install: PlanInstall;
  ktls: boolean;
  /** the binary has ngx_http_v2_module */
  http2: boolean;
  /** the binary has ngx_http_ssl_module */
  ssl: boolean;
}

export const confInput = (plan: BuildPlan): ConfInput => ({
  install: plan.install,
  ktls: plan.ktls,
  http2: plan.nginxFlags.includes('--with-http_v2_module'),
  ssl: plan.nginxFlags.includes('--with-http_ssl_module'),
});

/**
 * TLS 1.2 suites whose record encryption Linux kTLS (and FreeBSD's ktls(4)) can offload: AES-GCM
 * and CHACHA20-POLY1305 with ECDHE. TLS 1.3's default suites (AES-128/256-GCM, CHACHA20-POLY1305)
 * are all offloadable, so they are not set (setting them needs ssl_conf_command, see below).
 */
export const KTLS_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

const indent = (text: string, by: string) =>
  text
    .split('\n')
    .map((l) => (l ? `${by}${l}` : l))
    .join('\n');

/** http-level kTLS switch (conf.d/ktls.conf of kTLS packages). */
export function ktlsHttpConf(): string {
  return `# Kernel TLS (nginx-forge ktls package): OpenSSL hands the record layer of every TLS
# connection to the kernel (Linux tls module / FreeBSD ktls(4)) and nginx sends files with
# SSL_sendfile. Needs HTTP/1.x (HTTP/2 responses never use sendfile) and a cipher the kernel
# offloads (AES-GCM, CHACHA20-POLY1305: see snippets/tls.conf).
#
# ssl_conf_command is an array directive: a server{} that sets any ssl_conf_command of its own
# does NOT inherit this line, and must repeat "ssl_conf_command Options KTLS;".
ssl_conf_command Options KTLS;
sendfile on;
`;
}

/** TLS settings for servers: protocols and ciphers the kernel can offload (snippets/tls.conf). */
export function tlsSnippet(): string {
  return `# TLS settings for a server{}: include snippets/tls.conf;
# TLS 1.2 and 1.3 only; every suite offered can be offloaded to kernel TLS.
ssl_protocols TLSv1.2 TLSv1.3;
ssl_ciphers ${KTLS_TLS12_CIPHERS.join(':')};
ssl_prefer_server_ciphers off;
ssl_session_cache shared:SSL:10m;
ssl_session_timeout 1d;
ssl_session_tickets off;
`;
}

export interface ExampleTlsServer {
  /** listen address, e.g. "443" or "127.0.0.1:8443" (the IPv6 twin only for a bare port) */
  listen: string;
  serverName: string;
  certificate: string;
  certificateKey: string;
  root: string;
  /** the snippet's text inline instead of "include <confDir>/snippets/tls.conf" (for configs without that file) */
  tls: 'include' | 'inline';
  confDir: string;
  http2: boolean;
}

/**
 * The example TLS server, the way the shipped sites-available/example-tls writes it. The smoke
 * test renders it with its own listen address, certificate and root and must prove kTLS with it.
 */
export function exampleTlsServer(o: ExampleTlsServer): string {
  const listen = /^\d+$/.test(o.listen) ? [`listen ${o.listen} ssl;`, `listen [::]:${o.listen} ssl;`] : [`listen ${o.listen} ssl;`];
  const tls = o.tls === 'include' ? `include ${o.confDir}/snippets/tls.conf;` : tlsSnippet().split('\n').filter((l) => l && !l.startsWith('#')).join('\n');
  return `server {
${indent(
  [
    ...listen,
    `server_name ${o.serverName};`,
    '',
    '# ECDSA (P-256) certificate and key, e.g. from certbot --key-type ecdsa',
    `ssl_certificate ${o.certificate};`,
    `ssl_certificate_key ${o.certificateKey};`,
    tls,
    ...(o.http2 ? ['', '# HTTP/2 responses are never sent with sendfile (no kTLS for them): keep it off', '# where large static files should go through the kernel', 'http2 off;'] : []),
    '',
    `root ${o.root};`,
    '',
    'location / {',
    '    try_files $uri $uri/ =404;',
    '}',
  ].join('\n'),
  '    ',
)}
}
`;
}

/** /etc/nginx/nginx.conf */
export function nginxConf(c: ConfInput): string {
  const i = c.install;
  return `# nginx.conf shipped by nginx-forge (Debian / nginx.org package layout).
# Servers go into ${i.confDir}/sites-available/ and are enabled by a link in sites-enabled/;
# http-level settings go into conf.d/*.conf; dynamic modules into modules-enabled/*.conf.

user ${i.user};
worker_processes auto;
pid ${i.pid};
error_log ${i.errorLog};
include ${i.confDir}/modules-enabled/*.conf;

events {
    worker_connections 1024;
}

http {
${c.ktls ? '    # sendfile on: in conf.d/ktls.conf, next to the kTLS switch it belongs to\n' : '    sendfile on;\n'}    tcp_nopush on;
    types_hash_max_size 2048;
    server_tokens off;

    include ${i.confDir}/mime.types;
    default_type application/octet-stream;

    access_log ${i.accessLog};

    gzip on;

    include ${i.confDir}/conf.d/*.conf;
    include ${i.confDir}/sites-enabled/*;
}
`;
}

/** sites-available/default: the plain HTTP server enabled on install. */
export function defaultSite(c: ConfInput): string {
  return `# Default server: the welcome page on port 80. Disable with
#   rm ${c.install.confDir}/sites-enabled/default
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    server_name _;

    root ${c.install.html};
    index index.html;

    location / {
        try_files $uri $uri/ =404;
    }
}
`;
}

/** sites-available/example-tls: NOT enabled; how to write a TLS server that uses kTLS. */
export function exampleTlsSite(c: ConfInput): string {
  const head = c.ktls
    ? [
        '# Example TLS server (disabled). kTLS is switched on for every TLS server by',
        `# ${c.install.confDir}/conf.d/ktls.conf; this server keeps to what the kernel offloads.`,
      ]
    : ['# Example TLS server (disabled).'];
  return `${head.join('\n')}
# Enable it: put a certificate and key in place, then
#   ln -s ../sites-available/example-tls ${c.install.confDir}/sites-enabled/example-tls
#   nginx -t && systemctl reload nginx
${exampleTlsServer({
  listen: '443',
  serverName: 'example.com',
  certificate: `${c.install.confDir}/ssl/example.com.ecdsa.crt`,
  certificateKey: `${c.install.confDir}/ssl/example.com.ecdsa.key`,
  root: c.install.html,
  tls: 'include',
  confDir: c.install.confDir,
  http2: c.http2,
})}`;
}

/** Every file of the shipped configuration, relative to the conf directory (directories end in "/"). */
export function shippedConf(c: ConfInput): { files: Record<string, string>; symlinks: Record<string, string>; dirs: string[] } {
  const files: Record<string, string> = {
    'nginx.conf': nginxConf(c),
    'sites-available/default': defaultSite(c),
  };
  if (c.ssl) {
    files['snippets/tls.conf'] = tlsSnippet();
    files['sites-available/example-tls'] = exampleTlsSite(c);
  }
  if (c.ktls) files['conf.d/ktls.conf'] = ktlsHttpConf();
  return {
    files,
    symlinks: { 'sites-enabled/default': '../sites-available/default' },
    dirs: ['conf.d', 'modules-available', 'modules-enabled', 'sites-available', 'sites-enabled', 'snippets'],
  };
}

/**
 * For the smoke test: the http-level text a kTLS package's configuration puts in front of a TLS
 * server (conf.d/ktls.conf, verbatim) followed by the example TLS server rendered for this run
 * (its listen address, certificate and root; the TLS snippet inline). Put it inside http {} with
 * no other ssl_conf_command or sendfile at http level; the kTLS proofs must then hold for it.
 */
export function shippedTlsHttp(o: { ktls: boolean; listen: string; certificate: string; certificateKey: string; root: string; serverName?: string }): string {
  const server = exampleTlsServer({
    listen: o.listen,
    serverName: o.serverName ?? 'localhost',
    certificate: o.certificate,
    certificateKey: o.certificateKey,
    root: o.root,
    tls: 'inline',
    confDir: '',
    http2: false,
  });
  return `${o.ktls ? `${ktlsHttpConf()}\n` : 'sendfile on;\n\n'}${server}`;
}
