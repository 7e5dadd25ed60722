// Pure parts of the packages: install paths from the plan, the shipped configuration, the systemd
// unit, the RPM spec and %files. The packages themselves are built in the e2e tests
// (package-deb.e2e.test.ts, package-rpm.e2e.test.ts), where `nginx -t` runs on this configuration.
import { describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import { installPaths } from '../src/recipes/resolve.ts';
import { confInput, exampleTlsServer, shippedTlsHttp, ktlsHttpConf, KTLS_TLS12_CIPHERS, nginxConf, shippedConf, tlsSnippet } from '../src/conf/nginx.ts';
import { logrotate, systemdUnit } from '../src/package/service.ts';
import { filesSection, rpmLicense, rpmlintrc, rpmSpec } from '../src/package/rpm.ts';

const ktls = planFromFlags({ profile: 'ktls' }, false);
const userspace = planFromFlags({ profile: 'userspace' }, false);

describe('plan.install', () => {
  it('carries the profile\'s paths and the directories derived from them, one place each', () => {
    const i = ktls.install;
    expect(i.sbin).toBe('/usr/sbin/nginx');
    expect(i.conf).toBe('/etc/nginx/nginx.conf');
    expect(i.confDir).toBe('/etc/nginx');
    expect(i.modules).toBe('/usr/lib/nginx/modules');
    expect(i.pid).toBe('/run/nginx.pid');
    expect(i.logDirs).toEqual(['/var/log/nginx']);
    expect(i.tempDirs).toEqual(['/var/lib/nginx']);
    expect(i.runDirs).toEqual(['/run', '/run/lock']);
    expect(i.temp.client_body_temp_path).toBe('/var/lib/nginx/body');
    expect(i.html).toBe('/usr/share/nginx/html');
    expect([i.user, i.group, i.service]).toEqual(['nginx', 'nginx', 'nginx']);
  });

  it('agrees with the configure arguments nginx is built with', () => {
    const args = new Map(ktls.configureArgs.filter((a) => a.includes('=')).map((a) => a.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(args.get('--sbin-path')).toBe(ktls.install.sbin);
    expect(args.get('--conf-path')).toBe(ktls.install.conf);
    expect(args.get('--pid-path')).toBe(ktls.install.pid);
    expect(args.get('--http-scgi-temp-path')).toBe(ktls.install.temp.scgi_temp_path);
  });

  it('falls back to nginx\'s own defaults under the prefix for paths a profile leaves out', () => {
    const i = installPaths('/opt/nginx', { 'conf-path': '/etc/x/nginx.conf', 'error-log-path': 'logs/err.log' });
    expect(i.sbin).toBe('/opt/nginx/sbin/nginx');
    expect(i.confDir).toBe('/etc/x');
    expect(i.errorLog).toBe('/opt/nginx/logs/err.log');
    expect(i.pid).toBe('/opt/nginx/logs/nginx.pid');
    expect(i.temp.proxy_temp_path).toBe('/opt/nginx/proxy_temp');
    expect(i.tempDirs).toEqual(['/opt/nginx']);
    expect(i.logDirs).toEqual(['/opt/nginx/logs']);
  });
});

describe('shipped configuration', () => {
  it('uses the Debian / nginx.org layout', () => {
    const conf = nginxConf(confInput(ktls));
    expect(conf).toMatch(/^user nginx;$/m);
    expect(conf).toMatch(/^worker_processes auto;$/m);
    expect(conf).toMatch(/^pid \/run\/nginx\.pid;$/m);
    expect(conf).toContain('include /etc/nginx/modules-enabled/*.conf;');
    expect(conf).toContain('include /etc/nginx/conf.d/*.conf;');
    expect(conf).toContain('include /etc/nginx/sites-enabled/*;');
    expect(conf).toContain('include /etc/nginx/mime.types;');
    // main-context include before events{}, the http includes inside http{}
    expect(conf.indexOf('include /etc/nginx/modules-enabled')).toBeLessThan(conf.indexOf('events {'));
    expect(conf.indexOf('include /etc/nginx/sites-enabled')).toBeGreaterThan(conf.indexOf('http {'));
  });

  it('turns kTLS on at http level for kTLS packages only, with sendfile in one place', () => {
    const k = shippedConf(confInput(ktls));
    expect(k.files['conf.d/ktls.conf']).toMatch(/^ssl_conf_command Options KTLS;$/m);
    expect(k.files['conf.d/ktls.conf']).toMatch(/^sendfile on;$/m);
    // nginx rejects a second "sendfile" in the same http{} ("directive is duplicate")
    expect(k.files['nginx.conf']).not.toMatch(/^\s*sendfile on;/m);
    const u = shippedConf(confInput(userspace));
    expect(u.files['conf.d/ktls.conf']).toBeUndefined();
    expect(u.files['nginx.conf']).toMatch(/^\s*sendfile on;$/m);
    expect(Object.values(u.files).join('\n')).not.toMatch(/^\s*ssl_conf_command/m);
  });

  it('ships the example TLS server disabled, and the default site enabled by a link', () => {
    const k = shippedConf(confInput(ktls));
    expect(k.files['sites-available/example-tls']).toBeDefined();
    expect(Object.keys(k.symlinks)).toEqual(['sites-enabled/default']);
    expect(k.symlinks['sites-enabled/default']).toBe('../sites-available/default');
    expect(k.dirs).toEqual(expect.arrayContaining(['conf.d', 'modules-enabled', 'sites-available', 'sites-enabled', 'snippets']));
  });

  it('offers only ciphers the kernel offloads, and does not shadow the http-level KTLS option', () => {
    const snippet = tlsSnippet();
    expect(snippet).toMatch(/^ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    for (const c of KTLS_TLS12_CIPHERS) expect(c).toMatch(/-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    // any ssl_conf_command in a server{} would stop the http-level "Options KTLS" being inherited
    const server = exampleTlsServer({ listen: '443', serverName: 'example.com', certificate: '/c.crt', certificateKey: '/c.key', root: '/srv', tls: 'include', confDir: '/etc/nginx', http2: true });
    expect(server).not.toContain('ssl_conf_command');
    expect(server).toContain('include /etc/nginx/snippets/tls.conf;');
    expect(server).toContain('listen [::]:443 ssl;');
    expect(server).toContain('ssl_certificate /c.crt;');
    expect(ktlsHttpConf()).toContain('does NOT inherit');
  });

  it('renders the example server inline for a run of its own (the smoke test\'s use)', () => {
    const server = exampleTlsServer({ listen: '127.0.0.1:8443', serverName: 'localhost', certificate: '/io/cert.pem', certificateKey: '/io/key.pem', root: '/w/html', tls: 'inline', confDir: '/unused', http2: false });
    expect(server).toContain('listen 127.0.0.1:8443 ssl;');
    expect(server).not.toContain('[::]');
    expect(server).not.toContain('include');
    expect(server).toContain(`ssl_ciphers ${KTLS_TLS12_CIPHERS.join(':')};`);
  });
});

describe('shippedTlsHttp (for the smoke test)', () => {
  it('is conf.d/ktls.conf verbatim followed by the example server rendered for the run', () => {
    const t = shippedTlsHttp({ ktls: true, listen: '127.0.0.1:8443', certificate: '/io/cert.pem', certificateKey: '/io/key.pem', root: '/w/html' });
    expect(t.startsWith(ktlsHttpConf())).toBe(true);
    expect(t.match(/^\s*ssl_conf_command/gm)).toHaveLength(1);
    expect(t.match(/^\s*sendfile on;$/gm)).toHaveLength(1);
    expect(t).toContain('listen 127.0.0.1:8443 ssl;');
    expect(t).toContain('ssl_certificate_key /io/key.pem;');
    expect(shippedTlsHttp({ ktls: false, listen: '1', certificate: 'c', certificateKey: 'k', root: 'r' })).not.toContain('ssl_conf_command');
  });
});

describe('systemd unit and logrotate', () => {
  it('runs nginx -t before start and reload, sandboxed, with modprobe tls outside the sandbox', () => {
    const unit = systemdUnit(ktls);
    expect(unit).toContain('ExecStartPre=-+/sbin/modprobe -q tls');
    expect(unit).toContain('ExecStartPre=/usr/sbin/nginx -t -q');
    expect(unit).toContain('PIDFile=/run/nginx.pid');
    for (const o of ['NoNewPrivileges=yes', 'ProtectSystem=full', 'ProtectHome=yes', 'PrivateTmp=yes', 'ProtectKernelModules=yes']) expect(unit).toContain(o);
    expect(unit).toMatch(/^CapabilityBoundingSet=.*CAP_NET_BIND_SERVICE.*CAP_SETUID.*CAP_SETGID/m);
    // PCRE2's JIT needs writable+executable memory
    expect(unit).not.toContain('MemoryDenyWriteExecute');
    expect(systemdUnit(userspace)).not.toContain('modprobe');
  });

  it('stops gracefully (QUIT) with the tool each distribution family has: start-stop-daemon on Debian, kill(1) on RPM', () => {
    expect(systemdUnit(ktls)).toContain('ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid');
    // RPM distributions have no start-stop-daemon: the QUIT would silently become systemd's SIGTERM
    for (const unit of [systemdUnit(ktls, undefined, 'rpm'), systemdUnit(ktls, ktls.variants[0], 'rpm')]) {
      expect(unit).not.toContain('start-stop-daemon');
      expect(unit.split('\n').filter((l) => l.startsWith('ExecStop'))).toEqual(['ExecStop=/bin/kill -s QUIT $MAINPID']);
    }
  });

  it('rotates the log directories of the plan and signals the pid file', () => {
    const l = logrotate(ktls, 'adm');
    expect(l.startsWith('/var/log/nginx/*.log {')).toBe(true);
    expect(l).toContain('create 0640 nginx adm');
    expect(l).toContain('kill -USR1 "$(cat /run/nginx.pid)"');
  });
});

describe('RPM spec', () => {
  const entries = [
    { rel: 'etc', kind: 'dir' as const },
    { rel: 'etc/nginx', kind: 'dir' as const },
    { rel: 'etc/nginx/nginx.conf', kind: 'file' as const },
    { rel: 'etc/nginx/sites-enabled/default', kind: 'symlink' as const },
    { rel: 'usr/sbin/nginx', kind: 'file' as const },
    { rel: 'usr/share/doc/nginx-forge-ktls/sbom.cdx.json', kind: 'file' as const },
    { rel: 'usr/share/licenses/nginx-forge-ktls/openssl/LICENSE.txt', kind: 'file' as const },
    { rel: 'var/lib/nginx', kind: 'dir' as const },
    { rel: 'var/log', kind: 'dir' as const },
    { rel: 'var/log/nginx', kind: 'dir' as const },
  ];

  it('lists configs as %config(noreplace), licenses and docs, owned dirs only', () => {
    const files = filesSection(ktls, entries, 'nginx-forge-ktls');
    expect(files).toEqual([
      '%dir /etc/nginx',
      '%config(noreplace) /etc/nginx/nginx.conf',
      '/etc/nginx/sites-enabled/default',
      '%attr(0755,root,root) /usr/sbin/nginx',
      '%doc /usr/share/doc/nginx-forge-ktls/sbom.cdx.json',
      '%license /usr/share/licenses/nginx-forge-ktls/openssl/LICENSE.txt',
      '%dir %attr(0750,nginx,nginx) /var/lib/nginx',
      '%dir %attr(0750,root,root) /var/log/nginx',
    ]);
  });

  it('creates the user in %pre, fixes the build for reproducibility, names every license', () => {
    const spec = rpmSpec({ plan: ktls, pkg: 'nginx-forge-ktls', release: 1, who: 'A <a@b.invalid>', epoch: 1767225600, files: ['/usr/sbin/nginx'], treeDir: '/t' });
    expect(spec).toMatch(/^Name: +nginx-forge-ktls$/m);
    expect(spec).toMatch(/^Version: +1\.26\.3$/m);
    expect(spec).toMatch(/^%pre\n#.*\ngetent group nginx >\/dev\/null \|\| groupadd -r nginx$/m);
    expect(spec).toContain('useradd -r -g nginx -d /var/lib/nginx -s /sbin/nologin');
    expect(spec).toContain('%global clamp_mtime_to_source_date_epoch 1');
    expect(spec).toContain('%global use_source_date_epoch_as_buildtime 1');
    expect(spec).toContain('cp -a /t/. %{buildroot}/');
    expect(spec).toContain('* Thu Jan 01 2026 A <a@b.invalid> - 1.26.3-1');
    expect(rpmLicense(ktls)).toBe('BSD-2-Clause AND Apache-2.0 AND BSD-3-Clause WITH PCRE2-exception AND Zlib');
  });

  it('gives a reason for every rpmlint filter', () => {
    const rc = rpmlintrc(ktls, 'nginx-forge-ktls').split('\n');
    const filters = rc.filter((l) => l.startsWith('addFilter('));
    expect(filters.length).toBeGreaterThan(3);
    for (const f of filters) expect(rc[rc.indexOf(f) - 1], f).toMatch(/^# /);
  });
});
