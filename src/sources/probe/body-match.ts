/**
 * A probe's `match:` pattern, compiled by RE2JS (RE2 ported to JavaScript):
 * matching takes time linear in the text whatever the pattern, so a pattern
 * from a configuration, a CSV file or a table row cannot stall the recorder.
 * V8's own RegExp backtracks: `^(a+)+$` on a 27-byte body held the whole
 * process for 2.6 s. Why RE2JS and not the native or WASM builds of RE2:
 * bench/regex.bench.mjs, BENCHMARKS.md section 10.
 *
 * The syntax is RE2's; JavaScript's own spellings (`\uXXXX`, `(?<name>…)`,
 * `\/`) are translated. What RE2 cannot run in linear time (lookahead,
 * lookbehind, backreferences, atomic groups) is refused, naming the construct
 * and a form RE2 accepts.
 */
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

export interface BodyMatch {
  /** The pattern as written. */
  readonly source: string;
  /** The text of the first match, or undefined when there is none. */
  find(text: string): string | undefined;
  /**
   * Every match, left to right, as Python's re.findall gives them (DAC joined
   * them into stats.regex_mach): the whole match, or the group's text when the
   * pattern has exactly one group. `count` is every match found; `matches`
   * holds them while their text stays under `maxChars`, so a pattern that
   * matches every character cannot fill the memory (the count shows the rest).
   */
  findAll(text: string, maxChars: number): { matches: string[]; count: number };
}

type Engine = typeof RE2JS;
let engine: Engine | undefined;
// Loaded at the first pattern, not at start: most commands never compile one.
const re2js = (): Engine => (engine ??= (createRequire(import.meta.url)('re2js') as { RE2JS: Engine }).RE2JS);

// Compiling costs 0.1-1 ms a pattern (BENCHMARKS.md section 10): targets read again
// at every refresh reuse what was compiled. Bounded, oldest dropped first.
const compiled = new Map<string, BodyMatch>();
const CACHE_SIZE = 10_000;

/** The compiled pattern, or what is wrong with it (to follow `match: `). */
export function compileBodyMatch(pattern: string): BodyMatch | string {
  const hit = compiled.get(pattern);
  if (hit) return hit;
  const unsupported = unsupportedConstruct(pattern);
  if (unsupported) return `${JSON.stringify(pattern)} uses ${unsupported.what}, which nsr's regular expressions (RE2 syntax, matched in linear time so that no pattern can stall the recorder) do not have; ${unsupported.instead}`;
  let re: RE2JS;
  try {
    const RE2JS = re2js();
    re = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, '');
    return `Invalid regular expression ${JSON.stringify(pattern)}: ${why} (RE2 syntax: https://github.com/google/re2/wiki/Syntax)`;
  }
  const match: BodyMatch = {
    source: pattern,
    find: (text) => {
      const m = re.exec(text);
      return m ? String(m[0]) : undefined;
    },
    findAll: (text, maxChars) => {
      const m = re.matcher(text);
      const group = m.groupCount() === 1 ? 1 : 0;
      const matches: string[] = [];
      let count = 0;
      let chars = 0;
      // find() steps past an empty match by itself, so this ends on any pattern.
      while (m.find()) {
        count++;
        const found = m.group(group) ?? '';
        chars += found.length;
        if (chars <= maxChars) matches.push(found);
      }
      return { matches, count };
    },
  };
  compiled.set(pattern, match);
  if (compiled.size > CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  return match;
}

/**
 * The first construct RE2 lacks, outside character classes, with advice. Found
 * here rather than from RE2's error, which names a lookbehind an "invalid named
 * capture", and because the translation of JavaScript syntax would turn `\k<a>`
 * into the letters "k<a>" without a word.
 */
function unsupportedConstruct(p: string): { what: string; instead: string } | undefined {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const e = p[i + 1];
      if (!inClass && e >= '1' && e <= '9') return { what: `a backreference (\\${e})`, instead: 'repeat the group\'s pattern instead of referring to it, e.g. (\\w+)=\\1 → (\\w+)=(\\w+) (it then accepts any second word: check the exact text with a literal where it matters)' };
      // Anywhere, even in a class: the translation would turn it into the letters "k<…>".
      if (e === 'k' && p[i + 2] === '<') return { what: 'a named backreference (\\k<…>)', instead: 'repeat the group\'s pattern instead of referring to it, e.g. (?<w>\\w+)=\\k<w> → (?<w>\\w+)=\\w+' };
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      // As in JavaScript (the syntax translated), a `]` right after `[` or `[^` ends the class.
      inClass = true;
      if (p[i + 1] === '^') i++;
      continue;
    }
    if (c !== '(' || p[i + 1] !== '?') continue;
    const head = p.slice(i, i + 4);
    if (head.startsWith('(?=')) return { what: 'a lookahead (?=…)', instead: 'match the text itself, e.g. foo(?=bar) → foobar (the match then includes "bar")' };
    if (head.startsWith('(?!')) return { what: 'a negative lookahead (?!…)', instead: 'match the text you expect instead, or exclude characters with a class, e.g. error(?!s) → error([^s]|$)' };
    if (head.startsWith('(?<=')) return { what: 'a lookbehind (?<=…)', instead: 'match the text itself, e.g. (?<=id=)\\d+ → id=\\d+ (the match then includes "id=")' };
    if (head.startsWith('(?<!')) return { what: 'a negative lookbehind (?<!…)', instead: 'match the text you expect instead, or exclude characters with a class, e.g. (?<!no)ok → (^|[^o])ok' };
    if (head.startsWith('(?>')) return { what: 'an atomic group (?>…)', instead: 'write it as a plain group (?:…): RE2 never backtracks, so atomic groups are not needed' };
  }
  return undefined;
}
