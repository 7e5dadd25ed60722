// distinfo: TIMESTAMP, then SHA256 and (when known) SIZE of every distfile.
import type { PortDistfile } from './distfiles.ts';

export function portDistinfo(epoch: number, distfiles: PortDistfile[]): string {
  const distinfo = [`TIMESTAMP = ${epoch}`];
  for (const d of distfiles) {
    distinfo.push(`SHA256 (${d.file}) = ${d.sha256}`);
    if (d.size !== undefined) distinfo.push(`SIZE (${d.file}) = ${d.size}`);
  }
  return `${distinfo.join('\n')}\n`;
}
