// Run fetchArtifact in a separate process (for the two-processes lock test):
//   node --import tsx test/helpers/fetchChild.ts '<json: { artifact, opts }>'
// Prints {"path": ...} on success, {"error": ...} and exit 1 on failure.
import { fetchArtifact, type FetchOptions } from '../../src/fetch/index.ts';
import type { FileArtifact } from '../../src/recipes/schema.ts';

const { artifact, opts } = JSON.parse(process.argv[2]!) as { artifact: FileArtifact; opts: FetchOptions };
try {
  const path = await fetchArtifact(artifact, opts);
  process.stdout.write(`${JSON.stringify({ path })}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: (e as Error).message })}\n`);
  process.exitCode = 1;
}
