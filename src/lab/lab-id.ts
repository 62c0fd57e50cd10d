// What a lab id may be (pure). An id becomes namespace names (<id>-c …), a
// registry file name (<id>.json) and a trace instance name (tcpmitm-<id>), so
// every path that takes one checks it here: no "/", no "..", nothing that
// could name a file or a namespace that is not the lab's own.

import { UsageError } from '../cli/errors.js';

/** 1–12 characters of a-z, 0-9 and _: with "-c" it stays within a namespace name, and a path component. */
const LAB_ID_RE = /^[a-z0-9][a-z0-9_]{0,11}$/;

export const LAB_ID_RULE = 'use 1–12 characters of a-z, 0-9 and _, starting with a letter or digit';

export function isLabId(id: string): boolean {
  return LAB_ID_RE.test(id);
}

/** Returns `id` when it is a lab id; otherwise throws E_USAGE (exit 2) quoting it. */
export function checkLabId(id: string): string {
  if (!isLabId(id)) throw new UsageError(`'${id}' is not a lab id`, LAB_ID_RULE);
  return id;
}
