// Generates exercises/schema.json from the zod definition (schema.ts), as
// profiles/schema.json is generated from the profile's, so what editors
// validate against never drifts from what the loader accepts. A unit test
// compares the committed file with this output. Regenerate with
//   UPDATE_SCHEMA=1 npx vitest run test/unit/exercise/builtin.test.ts

import * as z from 'zod';
import { ExerciseSchema } from './schema.js';

type Json = Record<string, unknown>;

/** The JSON Schema (draft 2020-12) of an exercise as a person writes it (input form). */
export function exerciseJsonSchema(): Json {
  const { $schema, ...body } = z.toJSONSchema(ExerciseSchema, { io: 'input', target: 'draft-2020-12' }) as Json;
  return { $schema, $id: 'https://github.com/tcpmitm/tcpmitm/exercises/schema.json', ...body };
}

/** The exact text of exercises/schema.json. */
export function exerciseSchemaText(): string {
  return JSON.stringify(exerciseJsonSchema(), null, 2) + '\n';
}
