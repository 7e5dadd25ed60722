// Human and JSON views of a SmokeResult (the CLI prints them; the build can reuse them).
import type { SmokeResult } from './types.ts';

const sec = (ms?: number) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

export function formatHuman(r: SmokeResult): string {
  const e = r.env;
  const out: string[] = [];
  const ran = r.ciphers.length > 0;
  const where = !ran ? 'nothing was run' : r.mode === 'vm' ? `VM, guest kernel ${e.kernel}, boot ${sec(e.vmBootMs)}` : `native, kernel ${e.kernel}`;
  out.push(`kTLS smoke test: ${r.verdict}${r.verdict === 'PASS' && !r.passed ? ' (but a required proof failed)' : ''}  (${where}; ${sec(e.durationMs)} in all)`);
  out.push(`nginx ${e.nginx}: ${e.nginxVersion ?? '?'}, OpenSSL ${e.openssl ?? '?'} (kTLS compiled in: ${e.opensslKtls}), debug log: ${e.debug ? 'yes' : 'no'}`);
  if (e.tlsServer) out.push(`TLS server: ${e.tlsServer === 'shipped' ? "the packages' shipped configuration (conf.d/ktls.conf + sites-available/example-tls)" : 'pinned to the suites asked for (--ciphers outside the shipped snippet)'}`);
  out.push('');
  if (ran) out.push(...suiteTable(r), '');
  out.push('proofs:');
  const prow = Object.entries(r.proofs).map(([k, p]) => [p.ok ? 'ok' : p.required ? 'FAIL' : 'no', k, `${p.detail}${!p.ok && !p.required ? ' (reported only)' : ''}`]);
  out.push(...table(prow));
  out.push('', `reason: ${r.reason}`);
  if (r.next) out.push(`next:   ${r.next}`);
  out.push(`logs:   ${r.logs.dir}`);
  return `${out.join('\n')}\n`;
}

function suiteTable(r: SmokeResult): string[] {
  const e = r.env;
  const rows = [['protocol', 'suite', 'kTLS', 'TlsTxSw', 'BIO_get_ktls_send', 'SSL_sendfile', 'body', 'verdict']];
  for (const c of r.ciphers) {
    rows.push([
      c.protocol,
      c.suite,
      c.ktls ? 'yes' : 'no',
      c.tlsTxDelta === null || c.tlsTxDelta === undefined ? 'n/a' : `+${c.tlsTxDelta}`,
      e.debug ? (c.ktlsSendLine ? 'seen' : '-') : 'n/a',
      e.debug ? (c.sslSendfileCalls ? `${c.sslSendfileCalls}x ${c.sslSendfileBytes} B` : '-') : 'n/a',
      c.bodyOk ? 'ok' : 'BAD',
      c.verdict,
    ]);
  }
  return table(rows);
}

/** The documented JSON shape: {verdict, reason, next, mode, passed, proofs, ciphers, logs, env}. */
export function toJson(r: SmokeResult): Record<string, unknown> {
  return {
    verdict: r.verdict,
    reason: r.reason,
    next: r.next ?? null,
    mode: r.mode,
    passed: r.passed,
    proofs: r.proofs,
    ciphers: r.ciphers,
    logs: r.logs,
    env: r.env,
  };
}
