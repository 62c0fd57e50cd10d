// An exercise's own programs (lab.clientCommand, lab.serverCommand): shell
// commands run in the lab's namespaces as `tcpmitm lab --client/--server`
// runs them, with placeholders for what only the run knows — where the
// exercise file is (its programs sit beside it) and the lab's addresses.
// Pure: the command text and the run's facts in, the command out.

/** What a command may name: `{{dir}}` the exercise file's directory; the lab's addresses; the server's port. */
export const COMMAND_PLACEHOLDERS = ['dir', 'client', 'server', 'port'] as const;
export type CommandFacts = Readonly<Record<(typeof COMMAND_PLACEHOLDERS)[number], string>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_-]*)\s*\}\}/g;

/** Placeholders in `command` that name nothing (for the loader's problems). */
export function unknownPlaceholders(command: string): string[] {
  return [...command.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((n) => !(COMMAND_PLACEHOLDERS as readonly string[]).includes(n));
}

/** A word for `sh -c`: single-quoted unless it is plainly safe (a path may hold spaces). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command with its placeholders filled in, each as one shell word. */
export function resolveCommand(command: string, facts: CommandFacts): string {
  return command.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(facts, name) ? shellWord(facts[name as keyof CommandFacts]) : whole));
}
