/** DESIGN 3: no import cycles in src/. The checker itself is checked on a made-up graph first. */
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ES module script without types
import { importCycles, importGraph } from '../scripts/import-cycles.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

t.test('the checker finds a cycle through three files, and none in a tree', async (t) => {
  const cyclic = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts', 'd.ts']], ['d.ts', []]]);
  t.same(importCycles(cyclic), [['a.ts', 'b.ts', 'c.ts']]);
  t.same(importCycles(new Map([['a.ts', ['b.ts', 'c.ts']], ['b.ts', ['c.ts']], ['c.ts', []]])), []);
});

t.test('src/ has no import cycle', async (t) => {
  const graph = importGraph(root);
  t.ok(graph.size > 50, `read ${graph.size} files of src/`);
  t.same(importCycles(graph), [], 'every cycle is listed; move the shared piece to a file both can import');
});
