// Run extractArchive in a separate process, as the CLI does (inside vitest the worker's own
// handles keep the event loop alive, which hides a pending wait that nothing holds open):
//   node --import tsx test/helpers/extractChild.ts <archive> <destParent> <topdir>
// Prints {"dest": ...} on success, {"error": ..., "hint": ...} and exit 4 on failure.
import { extractArchive } from '../../src/archive/extract.ts';
import { isForgeError } from '../../src/errors.ts';

const [archive, destParent, topdir] = process.argv.slice(2) as [string, string, string];
try {
  const dest = await extractArchive(archive, destParent, topdir);
  process.stdout.write(`${JSON.stringify({ dest })}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: (e as Error).message, hint: isForgeError(e) ? e.hint : undefined })}\n`);
  process.exitCode = isForgeError(e) ? e.exitCode : 1;
}
