// Hashes by content: sha256 of bytes, and of a value by its stable JSON (sorted object keys, so a
// key never depends on property order). A leaf module: the planner's keys, the patch stage's
// checks and the chroot cache all hash with it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Stable JSON (sorted object keys) so a key never depends on property order. */
/** sha256 (hex) of a file's bytes. */
export const sha256File = (file: string): string => sha256Hex(readFileSync(file));

export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const hashOf = (v: unknown): string => sha256Hex(stableJson(v));
