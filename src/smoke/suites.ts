// The cipher matrix: which suites the smoke test downloads the file with.
import { UsageError } from '../errors.ts';

export interface Suite {
  protocol: 'TLSv1.3' | 'TLSv1.2';
  /** OpenSSL name: TLS 1.3 ciphersuite (TLS_...) or TLS 1.2 cipher (ECDHE-...). */
  name: string;
}

/** The suite whose offload decides PASS (what a default client and server negotiate). */
export const DEFAULT_SUITE: Suite = { protocol: 'TLSv1.3', name: 'TLS_AES_128_GCM_SHA256' };

export const MATRIX: Suite[] = [
  DEFAULT_SUITE,
  { protocol: 'TLSv1.3', name: 'TLS_AES_256_GCM_SHA384' },
  { protocol: 'TLSv1.3', name: 'TLS_CHACHA20_POLY1305_SHA256' },
  { protocol: 'TLSv1.2', name: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
  { protocol: 'TLSv1.2', name: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
];

/** TLS 1.3 suite names start with TLS_; everything else is a TLS 1.2 cipher (ECDSA certificate). */
export function suiteOf(name: string): Suite {
  const n = name.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(n)) {
    throw new UsageError(`--ciphers: "${name}" is not a cipher suite name`, 'use OpenSSL names, e.g. TLS_AES_128_GCM_SHA256,ECDHE-ECDSA-AES128-GCM-SHA256');
  }
  if (n.startsWith('TLS_')) return { protocol: 'TLSv1.3', name: n };
  if (!n.startsWith('ECDHE-ECDSA-')) {
    throw new UsageError(
      `--ciphers: "${n}" cannot be negotiated with the smoke test's ECDSA P-256 certificate`,
      'TLS 1.2 suites must be ECDHE-ECDSA-* (e.g. ECDHE-ECDSA-AES128-GCM-SHA256); TLS 1.3 suites start with TLS_',
    );
  }
  return { protocol: 'TLSv1.2', name: n };
}

/** Suites from --ciphers (comma separated and/or repeated), default the full matrix; no duplicates. */
export function parseSuites(list?: string[] | string): Suite[] {
  const names = (Array.isArray(list) ? list : list ? [list] : [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return [...MATRIX];
  const out: Suite[] = [];
  for (const n of names) {
    const s = suiteOf(n);
    if (!out.some((o) => o.name === s.name)) out.push(s);
  }
  return out;
}

/** The suite that decides the overall verdict: the default one when tested, else the first. */
export function primarySuite(suites: Suite[]): Suite {
  return suites.find((s) => s.name === DEFAULT_SUITE.name) ?? suites[0]!;
}
