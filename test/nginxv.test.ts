// `nginx -V` parsed in one place (issue 20, item 3): the verify stage, the smoke test and the
// serve benchmark read the same fields from src/nginxv.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nginxInfo } from '../src/bench/machine.ts';
import { configureValue, hasConfigureArg, parseNginxV, splitConfigureLine, tlsMajorMinor } from '../src/nginxv.ts';
import { interpretBinary } from '../src/smoke/binary.ts';

const DISTRO = `nginx version: nginx/1.22.1
built with OpenSSL 3.0.22 25 Aug 2026 (running with OpenSSL 3.0.19 27 Jan 2026)
TLS SNI support enabled
configure arguments: --with-cc-opt='-g -O2 -fPIC' --prefix=/usr/share/nginx --with-debug --with-pcre-jit
`;
const FORGE = `nginx version: nginx/1.26.3
built by gcc 14.2.0 (Debian 14.2.0-19)
built with OpenSSL 3.5.7 9 Jun 2026
TLS SNI support enabled
configure arguments: --prefix=/usr/share/nginx --with-openssl=../openssl-3.5.7 --with-openssl-opt='enable-ktls no-docs' --with-http_ssl_module\r
`;

describe('parseNginxV', () => {
  it('version, compiler, TLS library built with and running with, configure arguments as printed', () => {
    expect(parseNginxV(DISTRO)).toMatchObject({
      versionLine: 'nginx version: nginx/1.22.1',
      product: 'nginx/1.22.1',
      version: '1.22.1',
      tls: { library: 'OpenSSL', builtText: 'OpenSSL 3.0.22 25 Aug 2026', built: '3.0.22', runningText: 'OpenSSL 3.0.19 27 Jan 2026', running: '3.0.19' },
      configureLine: "--with-cc-opt='-g -O2 -fPIC' --prefix=/usr/share/nginx --with-debug --with-pcre-jit",
      configureArgs: ["--with-cc-opt='-g -O2 -fPIC'", '--prefix=/usr/share/nginx', '--with-debug', '--with-pcre-jit'],
    });
    const f = parseNginxV(FORGE);
    expect(f.builtBy).toBe('gcc 14.2.0 (Debian 14.2.0-19)');
    expect(f.tls).toEqual({ library: 'OpenSSL', builtText: 'OpenSSL 3.5.7 9 Jun 2026', built: '3.5.7' });
    expect(f.configureLineFull).toBe("configure arguments: --prefix=/usr/share/nginx --with-openssl=../openssl-3.5.7 --with-openssl-opt='enable-ktls no-docs' --with-http_ssl_module");
    expect(configureValue(f, '--with-openssl-opt')).toBe('enable-ktls no-docs');
    expect(configureValue(f, '--with-openssl')).toBe('../openssl-3.5.7');
    expect(configureValue(f, '--with-cc-opt')).toBeUndefined();
    expect(hasConfigureArg(f, '--with-openssl')).toBe(true);
    expect(hasConfigureArg(f, '--with-debug')).toBe(false);
    expect(tlsMajorMinor(f)).toEqual([3, 5]);
    expect(tlsMajorMinor(parseNginxV(DISTRO))).toEqual([3, 0]);
  });

  it('no TLS library, another server, nothing at all', () => {
    const plain = parseNginxV('nginx version: nginx/1.26.3\nconfigure arguments:\n');
    expect(plain.tls).toBeUndefined();
    expect(plain.configureArgs).toEqual([]);
    expect(parseNginxV('nginx version: freenginx/1.27.0\n')).toMatchObject({ product: 'freenginx/1.27.0', version: '1.27.0' });
    expect(parseNginxV('usage: foo')).toMatchObject({ versionLine: undefined, version: undefined, configureLine: '', configureArgs: [] });
    expect(splitConfigureLine("--a=1 --b='x y' --c")).toEqual(['--a=1', "--b='x y'", '--c']);
  });

  it('the smoke test and the serve benchmark read the same fields', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'nginxv-'));
    try {
      const bin = path.join(dir, 'nginx');
      writeFileSync(bin, `#!/bin/sh\ncat >&2 <<'V'\n${DISTRO}V\n`);
      chmodSync(bin, 0o755);
      const bench = nginxInfo(bin);
      expect(bench).toMatchObject({ version: 'nginx/1.22.1', openssl: 'OpenSSL 3.0.22 25 Aug 2026 (running with OpenSSL 3.0.19 27 Jan 2026)', opensslVersion: '3.0.22', configureArgs: parseNginxV(DISTRO).configureLine });
      const smoke = interpretBinary(bin, DISTRO, { path: bin, sha256: '0'.repeat(64), elf: true, data: Buffer.alloc(0), imports: [] });
      expect(smoke).toMatchObject({ version: '1.22.1', opensslBuilt: '3.0.22', opensslRunning: '3.0.19', configureArgs: bench.configureArgs, debug: true, claims: { pcreJit: true } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
