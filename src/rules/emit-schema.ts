// Generates profiles/schema.json from the zod definition (schema.ts), so the
// file editors validate against can never drift from what the loader accepts.
// A unit test compares the committed file with this output. Regenerate with
//   UPDATE_SCHEMA=1 npx vitest run test/unit/rules/builtin.test.ts
// (or, after a build, node dist/rules/emit-schema.js).

import * as z from 'zod';
import { ProfileSchema } from './schema.js';

/** A `${name}` parameter placeholder, allowed wherever a value is (params.ts substitutes it before validation). */
const PLACEHOLDER = { type: 'string', pattern: '^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$', description: 'a parameter: ${name}' };

type Json = Record<string, unknown>;

/**
 * Lets every constrained leaf (numbers, booleans, enums, patterns) also be a
 * placeholder, so editors do not flag `times: ${times}` in a parameterised
 * profile. The `params` block itself is left strict.
 */
function allowPlaceholders(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((n) => allowPlaceholders(n));
  if (node === null || typeof node !== 'object') return node;
  const o = node as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    out[k] = k === 'params' && key === 'properties' ? v : allowPlaceholders(v, k);
  }
  const t = o['type'];
  const leaf = (t !== undefined && t !== 'object' && t !== 'array') || 'enum' in o || 'const' in o;
  const constrained = t !== 'string' || 'enum' in o || 'const' in o || 'pattern' in o;
  if (leaf && constrained) {
    const { description, ...rest } = out;
    return description !== undefined ? { description, anyOf: [rest, PLACEHOLDER] } : { anyOf: [rest, PLACEHOLDER] };
  }
  return out;
}

/** The JSON Schema (draft 2020-12) of a profile as written by a person (input form). */
export function profileJsonSchema(): Json {
  const schema = z.toJSONSchema(ProfileSchema, { io: 'input', target: 'draft-2020-12' }) as Json;
  const { $schema, ...body } = schema;
  return {
    $schema,
    $id: 'https://github.com/tcpmitm/tcpmitm/profiles/schema.json',
    ...(allowPlaceholders(body) as Json),
  };
}

/** The exact text of profiles/schema.json. */
export function profileSchemaText(): string {
  return JSON.stringify(profileJsonSchema(), null, 2) + '\n';
}

// Run as a script: write the file next to the built-in profiles.
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  const { writeFileSync } = await import('node:fs');
  const { profilesDir } = await import('./load.js');
  const target = `${profilesDir()}schema.json`;
  writeFileSync(target, profileSchemaText());
  process.stdout.write(`wrote ${target}\n`);
}
