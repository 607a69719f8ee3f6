import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rxtether-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('importing rxtether', () => {
  it('should start no timer, open no handle and add no global, also when creating a connection', async () => {
    // Bundle the sources (rxjs stays external, resolved from the repo), then import them in a
    // fresh process so nothing this test runner loaded can hide a side effect.
    const out = await build({
      entryPoints: [join(root, 'src/index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      external: ['rxjs', 'ws'],
      write: false,
      logLevel: 'silent',
    });
    const entry = join(root, 'node_modules', '.rxtether-import-check.mjs');
    writeFileSync(entry, out.outputFiles[0]!.text);
    const script = `
      const globalsBefore = Object.keys(globalThis);
      const handlesBefore = process.getActiveResourcesInfo();
      const mod = await import(${JSON.stringify(entry)});
      mod.connect({ url: 'ws://127.0.0.1:9/' });
      // Let the module loader finish closing the file it read (a transient 'CloseReq').
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      console.log(JSON.stringify({
        exports: Object.keys(mod),
        newGlobals: Object.keys(globalThis).filter((k) => !globalsBefore.includes(k)),
        handlesBefore,
        handlesAfter: process.getActiveResourcesInfo(),
      }));
      process.exit(0); // a leaked timer must fail the assertions below, not hang this test
    `;
    try {
      const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
      const result = JSON.parse(stdout.trim());
      expect(result.exports).toContain('connect');
      expect(result.exports).toContain('ConnectionClosedError');
      expect(result.newGlobals).toEqual([]);
      expect(result.handlesAfter).toEqual(result.handlesBefore);
      expect(result.handlesAfter).not.toContain('Timeout');
    } finally {
      rmSync(entry, { force: true });
    }
  });
});
