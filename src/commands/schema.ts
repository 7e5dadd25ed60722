import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonSchemas } from '../recipes/schema.ts';

/** Write the JSON Schemas generated from the zod recipe definitions. */
export async function run(flags: { out?: string }): Promise<number> {
  const schemas = jsonSchemas();
  if (!flags.out) {
    process.stdout.write(`${JSON.stringify(schemas, null, 2)}\n`);
    return 0;
  }
  mkdirSync(flags.out, { recursive: true });
  for (const [name, schema] of Object.entries(schemas)) {
    writeFileSync(path.join(flags.out, name), `${JSON.stringify(schema, null, 2)}\n`);
    process.stderr.write(`wrote ${path.join(flags.out, name)}\n`);
  }
  return 0;
}
