// A built-in profile or exercise printed for the user to save elsewhere
// (`profiles show NAME > mine.yaml`): its `yaml-language-server:
// $schema=./schema.json` line names the schema beside the built-in file, which
// is not beside the copy. The copy is pointed at the installed schema instead,
// by absolute path, which an editor opens from wherever the copy is saved.

const RELATIVE_SCHEMA_LINE = /^(#\s*yaml-language-server:\s*\$schema=)\.\/schema\.json[ \t]*$/m;

/** `text` with its relative schema comment pointed at `schemaPath`; a text without one is unchanged. */
export function schemaCommentAt(text: string, schemaPath: string): string {
  return text.replace(RELATIVE_SCHEMA_LINE, `$1${schemaPath}`);
}
