#!/usr/bin/env node
// Type-checks every ```ts block of README.md that imports rxtether, against the sources, so
// that the documentation cannot drift from the API. Run by `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = `${root}test/.readme-snippets`;
// Names the snippets use without defining them (an application's own values).
const preamble = [
  "declare const source$: import('rxjs').Observable<unknown>;",
  'declare function getToken(): string;',
].join('\n');

const blocks = [...readFileSync(`${root}README.md`, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1])
  .filter((code) => /from 'rxtether(\/(operators|node|testing))?'/.test(code));

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
blocks.forEach((code, i) => {
  const source = code
    .replaceAll("from 'rxtether'", "from '../../src/index.js'")
    .replaceAll("from 'rxtether/operators'", "from '../../operators/index.js'")
    .replaceAll("from 'rxtether/node'", "from '../../src/node/index.js'")
    .replaceAll("from 'rxtether/testing'", "from '../../src/testing/index.js'");
  writeFileSync(`${dir}/snippet-${i + 1}.ts`, `${preamble}\n${source}\nexport {};\n`);
});
writeFileSync(
  `${dir}/tsconfig.json`,
  JSON.stringify({ extends: '../../tsconfig.json', include: ['./*.ts'], compilerOptions: { noUnusedLocals: false } }),
);
const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${dir}/tsconfig.json`], {
  encoding: 'utf8',
});
rmSync(dir, { recursive: true, force: true });
if (tsc.status !== 0) {
  process.stdout.write(tsc.stdout + tsc.stderr);
  console.error(`README: a TypeScript snippet does not compile (snippet numbers count ts blocks that import rxtether)`);
  process.exit(1);
}
console.log(`README: ${blocks.length} TypeScript snippets type-check`);

// Snippets that a test runs word for word (between "---- README example start/end" markers):
// the README copy must be the same text, so the documented example is the tested one.
const runnable = ['test/testing/readme.test.ts'];
const readme = readFileSync(`${root}README.md`, 'utf8');
for (const file of runnable) {
  const text = readFileSync(`${root}${file}`, 'utf8');
  const match = text.match(/\/\/ ---- README example start\n([\s\S]*?)\/\/ ---- README example end/);
  if (!match) {
    console.error(`README: ${file} has no "---- README example start/end" markers`);
    process.exit(1);
  }
  if (!blocks.some((code) => code === match[1])) {
    console.error(`README: the example in ${file} differs from every ts block of README.md; copy it over`);
    process.exit(1);
  }
}
console.log(`README: ${runnable.length} example(s) match the tests that run them`);
