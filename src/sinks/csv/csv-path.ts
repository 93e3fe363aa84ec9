/**
 * The path syntax of the CSV sink's `rows:` and `columns:` (a small subset of
 * JSONPath, so it reads as people expect):
 *
 *   src_ip                 member `src_ip` of the row
 *   path[0].node           member `node` of the first element of member `path`
 *   path[-1].node          negative indexes count from the end (-1: the last)
 *   ["first hop"].node     a quoted key (JSON string) for names with other characters
 *   $.timestamp            from the record's root instead of the row
 *   $                      the whole record;  @  the row itself (rows of plain values)
 *
 * Bare keys are letters, digits, `_` and `-`. Parsed once at load time; the
 * sink walks the record's bytes with the steps (json-spans.ts `spanAtPath`).
 */
import type { PathStep } from '../../json/json-spans.js';

export interface JsonPath {
  /** From the record's root (`$…`) rather than from the row. */
  root: boolean;
  steps: PathStep[];
  /** As written in the configuration (for events and errors). */
  text: string;
}

export const PATH_SYNTAX = 'a path such as src_ip, path[0].node, path[-1].node, ["a key"] or $.timestamp ($. starts at the record, @ is the row itself)';

const BARE_KEY = /^[A-Za-z0-9_-]+/;
const INDEX = /^\[(-?(?:0|[1-9]\d*))\]/;
/** `["…"]`: a JSON string between brackets; the string's own escapes are JSON's. */
const QUOTED_KEY = /^\[("(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")\]/;

/** The path, or what is wrong with it (position and what was expected there). */
export function parsePath(text: string): { path: JsonPath } | { error: string } {
  if (text === '@') return { path: { root: false, steps: [], text } };
  if (text === '') return { error: 'the path is empty; expected a key such as src_ip, or $ for the record' };
  const steps: PathStep[] = [];
  let rest = text;
  const root = text.startsWith('$');
  if (root) rest = text.slice(1);
  else {
    // A relative path starts with a key (no dot before it) or a bracket.
    const m = BARE_KEY.exec(rest);
    if (m) {
      steps.push(m[0]);
      rest = rest.slice(m[0].length);
    } else if (!rest.startsWith('[')) return { error: at(text, rest, 'a key (letters, digits, _ or -), a bracket such as [0] or ["a key"], $ or @') };
  }
  while (rest.length > 0) {
    if (rest.startsWith('.')) {
      const m = BARE_KEY.exec(rest.slice(1));
      if (!m) return { error: at(text, rest.slice(1), 'a key after the dot (letters, digits, _ or -; other names as ["a key"])') };
      steps.push(m[0]);
      rest = rest.slice(1 + m[0].length);
      continue;
    }
    const index = INDEX.exec(rest);
    if (index) {
      steps.push(Number(index[1]));
      rest = rest.slice(index[0].length);
      continue;
    }
    const quoted = QUOTED_KEY.exec(rest);
    if (quoted) {
      steps.push(JSON.parse(quoted[1]) as string);
      rest = rest.slice(quoted[0].length);
      continue;
    }
    return { error: at(text, rest, rest.startsWith('[') ? 'an index such as [0] or [-1], or a quoted key such as ["a key"]' : '.key, [index] or ["a key"]') };
  }
  if (steps.some((s) => typeof s === 'number' && !Number.isSafeInteger(s))) return { error: 'an index is too large' };
  return { path: { root, steps, text } };
}

function at(text: string, rest: string, expected: string): string {
  const pos = text.length - rest.length;
  return rest.length === 0 ? `it ends early; expected ${expected} at the end` : `at character ${pos + 1} (${JSON.stringify(rest.slice(0, 12))}): expected ${expected}`;
}
