// A throwaway ECDSA P-256 certificate for 127.0.0.1/localhost, made with the openssl CLI.
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';

export async function makeCertificate(dir: string, ctx: RunContext): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run(ctx, 'openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=nginx-forge smoke test',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}
