// Provenance of the real build (issue 22, item 5), on the shared e2e build: `build --until
// artifacts` (every stage cached by then) into an --out of its own with a keygen key writes the
// signed statement of the real tarball, manifest and SBOM; verify-provenance accepts it, its
// resolved dependencies are the sources manifest.json says were used, and a flipped byte in the
// tarball fails it (exit 5).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.ts';
import { builtSummary, forge, TEST_DIST } from './helpers/builtNginx.ts';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('provenance of the real ktls build', () => {
  it('signs the real artifacts, names the sources the build used, and a flipped byte in the tarball fails verify-provenance', async () => {
    const s = await builtSummary('ktls');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'nf-prov-e2e-'));
    try {
      const keys = path.join(tmp, 'release');
      expect((await forge(['cache', 'keygen', '--out', keys])).exitCode).toBe(0);
      const out = path.join(TEST_DIST, 'dist-ktls-provenance');
      rmSync(out, { recursive: true, force: true });
      const r = await forge(['build', '--profile', 'ktls', '--until', 'artifacts', '--out', out, '--provenance-key', `${keys}.key`, '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.stages.filter((x: { status: string }) => x.status === 'built')).toEqual([]);
      const tarball = j.artifacts.find((a: string) => a.endsWith('.tar.gz'));
      // the same bytes as the shared build's tarball
      expect(sha(tarball)).toBe(sha(s.artifacts.find((a) => a.endsWith('.tar.gz'))!));

      const st = JSON.parse(Buffer.from(JSON.parse(readFileSync(j.provenance, 'utf8')).payload, 'base64').toString());
      expect(st.subject).toContainEqual({ name: path.basename(tarball), digest: { sha256: sha(tarball) } });
      const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
      const deps = st.predicate.buildDefinition.resolvedDependencies;
      for (const c of manifest.components) {
        expect(deps, c.name).toContainEqual(expect.objectContaining({ name: c.source.file, digest: { sha256: c.source.sha256 } }));
      }
      expect(st.predicate.buildDefinition.internalParameters.configureArgs).toEqual(manifest.configureArgs);

      const ok = await forge(['verify-provenance', j.provenance, '--key', `${keys}.pub`]);
      expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
      const bytes = readFileSync(tarball);
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01;
      writeFileSync(tarball, bytes);
      const bad = await forge(['verify-provenance', j.provenance, '--key', `${keys}.pub`]);
      expect(bad.exitCode).toBe(ExitCode.verify);
      expect(bad.stderr).toContain(`${path.basename(tarball)} has sha256 ${sha(tarball)}`);
      rmSync(out, { recursive: true, force: true });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30 * 60_000);
});
