#!/usr/bin/env node
// Package checks: what a consumer of the published tarball gets.
//
//   npm run build && npm run check:package      (what .ci/run does)
//   npm run check:package -- --build            (rebuild dist/ first)
//
// Uses the existing dist/ (run `npm run build` first after changing src/ or operators/); builds
// only when dist/ lacks a file named in package.json, or with --build. Then, in a scratch folder
// under os.tmpdir() (kept when a check fails, or with RXTETHER_KEEP_TMP=1):
//
// 1. `npm pack`, and check the tarball's files and package.json (exports map, sideEffects, …).
// 2. `npm install` the tarball into a fresh consumer project, offline (`--legacy-peer-deps` so
//    npm fetches no peer); link `rxjs` from the repo's node_modules. `ws` is deliberately not
//    installed: it is an optional peer, so both entries must load without it.
// 3. dist/: rxjs and ws are imported, not bundled; every bare import is a declared peer or
//    dependency; only `rxtether/node`'s own files (not a shared chunk) import Node built-ins; relative imports resolve; each error class is declared once per format;
//    source maps embed their sources.
// 4. In child processes (probe.cjs), load every entry (`rxtether`, `rxtether/operators`,
//    `rxtether/node`, `rxtether/testing`) with `import` and with `require`: importing starts no timer, draws no random and touches no global; ESM and
//    CJS export the same names; every export of `rxtether/operators` is the very same object in
//    `rxtether` (so `instanceof` holds across entries), and so is every name another entry
//    shares with it; the branded guards work across the ESM and CJS copies.
// 5. Type-check a consumer (node16 ESM + CJS, bundler): the value exports declared in the
//    .d.ts/.d.cts files are exactly the runtime exports, and each export shared by the two
//    entries has mutually assignable types.
// 6. publint (--strict) and @arethetypeswrong/cli on the same tarball.
//
// Prints one line per check and a summary; exits 1 if any check fails.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const requireFromRoot = createRequire(path.join(ROOT, 'package.json'));

const ENTRIES = {
  '.': 'rxtether',
  './operators': 'rxtether/operators',
  './node': 'rxtether/node',
  './testing': 'rxtether/testing',
};
// The entries that carry the error classes and their guards.
const ERROR_ENTRIES = ['rxtether', 'rxtether/operators'];
// The only entry that may import Node built-ins (node:stream); the others load in browsers.
const NODE_ONLY_FILES = /^dist\/node\.c?js$/;
// Error classes the issue names explicitly; every other error class is found at runtime.
const REQUIRED_ERROR_CLASSES = ['ConnectionClosedError', 'HeartbeatTimeoutError'];
// Source signatures of rxjs and ws: finding one in dist/ means the dependency got bundled.
const BUNDLED_SIGNATURES = [
  { dep: 'rxjs', re: /\bclass\s+(Subscriber|SafeSubscriber|Observable|AsyncAction|Subject)\b/ },
  { dep: 'rxjs', re: /\bfunction\s+pipeFromArray\b/ },
  { dep: 'rxjs', re: /rxjs\/internal\// },
  { dep: 'ws', re: /\bclass\s+(WebSocket|WebSocketServer)\s+extends\s+EventEmitter\b/ },
  { dep: 'ws', re: /Sec-WebSocket-(Key|Accept)/ },
];
const TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------------
// Reporting

const results = [];

class CheckFailure extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckFailure(message);
}

function section(title) {
  console.log(`\n── ${title} ${'─'.repeat(Math.max(0, 70 - title.length))}`);
}

/** Runs one check; a failure is recorded and printed, and the run goes on. */
function check(name, fn) {
  try {
    const detail = fn();
    results.push({ name, ok: true });
    console.log(`  ok    ${name}${detail ? ` — ${detail}` : ''}`);
    return true;
  } catch (error) {
    const message = error instanceof CheckFailure ? error.message : String(error?.stack ?? error);
    results.push({ name, ok: false, message });
    console.log(`  FAIL  ${name}\n${indent(message, 8)}`);
    return false;
  }
}

function indent(text, n) {
  return String(text)
    .trimEnd()
    .split('\n')
    .map((line) => ' '.repeat(n) + line)
    .join('\n');
}

function list(names) {
  return names.length ? names.join(', ') : '(none)';
}

/** Names in `a` but not in `b`. */
function minus(a, b) {
  const set = new Set(b);
  return a.filter((x) => !set.has(x));
}

function sameNames(label, a, aName, b, bName) {
  const onlyA = minus(a, b);
  const onlyB = minus(b, a);
  assert(
    !onlyA.length && !onlyB.length,
    `${label}:\n  only in ${aName}: ${list(onlyA)}\n  only in ${bName}: ${list(onlyB)}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Runs a command to completion; throws a CheckFailure with its output when it fails. */
function run(command, args, { cwd = ROOT, allowFailure = false } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32' && /\.cmd$/.test(command),
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  const shown = [command === process.execPath ? 'node' : command, ...args.map((a) => path.basename(a) === a ? a : path.relative(cwd, a) || '.')].join(' ');
  if (result.error) throw new CheckFailure(`\`${shown}\` could not run: ${result.error.message}`);
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.status !== 0 && !allowFailure) {
    throw new CheckFailure(`\`${shown}\` exited with ${result.status ?? result.signal}:\n${indent(output, 2)}`);
  }
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', output };
}

/** npm: the one running this script (`npm run check:package`), else the one on PATH. */
function npm(args, options) {
  const execpath = process.env.npm_execpath;
  if (execpath && /\.[cm]?js$/.test(execpath)) return run(process.execPath, [execpath, ...args], options);
  return run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, options);
}

/** The `bin` script of an installed devDependency, run with this node. */
function runBin(pkgName, binName, args, options) {
  // Not require.resolve: publint's "exports" does not expose its package.json.
  const pkgJsonPath = path.join(ROOT, 'node_modules', pkgName, 'package.json');
  assert(fs.existsSync(pkgJsonPath), `${pkgName} is not installed (run npm ci)`);
  const { bin } = JSON.parse(fs.readFileSync(pkgJsonPath, 'utf8'));
  const script = typeof bin === 'string' ? bin : bin[binName];
  return run(process.execPath, [path.join(path.dirname(pkgJsonPath), script), ...args], options);
}

// ---------------------------------------------------------------------------------------------
// Files

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    return d.isDirectory() ? walk(full) : [full];
  });
}

/** Every file path that package.json points at (exports, main, module, types, typesVersions). */
function targetsOf(pkg) {
  const out = new Set();
  const visit = (value) => {
    if (typeof value === 'string') out.add(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(pkg.exports);
  visit(pkg.typesVersions);
  for (const field of ['main', 'module', 'types', 'typings']) visit(pkg[field]);
  return [...out].filter((t) => !t.includes('*')).map((t) => path.posix.normalize(t));
}

/** Module specifiers in built JS: static and dynamic imports, re-exports, require(). */
function specifiersOf(code) {
  const out = new Set();
  const patterns = [
    /\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.add(m[1]);
  return [...out];
}

function packageNameOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Packages the repo's sources import for their runtime values (not `import type`). */
function runtimeImportsOfSources() {
  const files = ['src', 'operators']
    .map((d) => path.join(ROOT, d))
    .filter((d) => fs.existsSync(d))
    .flatMap(walk)
    .filter((f) => /\.[cm]?tsx?$/.test(f) && !/\.d\.[cm]?ts$/.test(f) && !/\.test(-d)?\.ts$/.test(f));
  const out = new Set();
  const re = /^\s*(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const file of files) {
    for (const m of fs.readFileSync(file, 'utf8').matchAll(re)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith('.') && !spec.startsWith('/')) out.add(packageNameOf(spec));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The checks

function ensureBuilt(pkg) {
  const missing = targetsOf(pkg).filter((t) => t !== 'package.json' && !fs.existsSync(path.join(ROOT, t)));
  const forced = process.argv.includes('--build');
  if (!forced && !missing.length) {
    console.log('Using the existing dist/ (run `npm run build` first, or pass --build, after changing the sources).');
    return;
  }
  console.log(forced ? 'Building (--build)…' : `dist/ lacks ${list(missing)}: building…`);
  npm(['run', 'build']);
}

function checkTarball(packed, pkg) {
  const files = packed.files.map((f) => f.path.replace(/\\/g, '/'));
  check('tarball holds only dist/ and package metadata', () => {
    const stray = files.filter((f) => !f.startsWith('dist/') && !/^(package\.json|README[^/]*|LICEN[CS]E[^/]*|CHANGELOG[^/]*)$/i.test(f));
    assert(!stray.length, `unexpected files in the tarball: ${list(stray)} (package.json "files" is ${JSON.stringify(pkg.files)})`);
    const sources = files.filter((f) => /\.[cm]?tsx?$/.test(f) && !/\.d\.[cm]?ts$/.test(f));
    assert(!sources.length, `TypeScript sources in the tarball: ${list(sources)}`);
    return `${files.length} files, ${(packed.size / 1024).toFixed(1)} kB packed`;
  });
  check('every file package.json points at is in the tarball', () => {
    const missing = targetsOf(pkg).filter((t) => !files.includes(t));
    assert(!missing.length, `missing from the tarball: ${list(missing)}`);
  });
}

function checkManifest(pkg) {
  check('package.json: type, sideEffects, files, peers', () => {
    assert(pkg.type === 'module', `"type" must be "module", is ${JSON.stringify(pkg.type)}`);
    assert(pkg.sideEffects === false, `"sideEffects" must be false, is ${JSON.stringify(pkg.sideEffects)}`);
    assert(JSON.stringify(pkg.files) === '["dist"]', `"files" must be ["dist"], is ${JSON.stringify(pkg.files)}`);
    for (const dep of ['rxjs', 'ws']) {
      assert(pkg.peerDependencies?.[dep], `${dep} must be a peerDependency`);
      assert(!pkg.dependencies?.[dep], `${dep} must not be a dependency (it is a peer)`);
    }
    assert(pkg.peerDependenciesMeta?.ws?.optional === true, 'the ws peer must be optional (browsers do not need it)');
  });
  check(`package.json: exports map for ${Object.keys(ENTRIES).map((e) => `"${e}"`).join(', ')}`, () => {
    const problems = [];
    for (const subpath of Object.keys(ENTRIES)) {
      const entry = pkg.exports?.[subpath];
      if (!entry || typeof entry !== 'object') {
        problems.push(`exports["${subpath}"] is missing`);
        continue;
      }
      for (const [condition, types, js] of [['import', '.d.ts', '.js'], ['require', '.d.cts', '.cjs']]) {
        const c = entry[condition];
        if (!c || typeof c !== 'object') {
          problems.push(`exports["${subpath}"].${condition} is missing`);
          continue;
        }
        if (Object.keys(c)[0] !== 'types') problems.push(`exports["${subpath}"].${condition}: "types" must come first`);
        if (!c.types?.endsWith(types)) problems.push(`exports["${subpath}"].${condition}.types must be a ${types} file, is ${c.types}`);
        if (!c.default?.endsWith(js) || c.default.endsWith(`.d${js}`)) problems.push(`exports["${subpath}"].${condition}.default must be a ${js} file, is ${c.default}`);
      }
    }
    assert(!problems.length, problems.join('\n'));
  });
}

function checkDist(installed, pkg, sourceImports) {
  const distDir = path.join(installed, 'dist');
  const all = walk(distDir);
  const js = all.filter((f) => /\.[cm]?js$/.test(f));
  const rel = (f) => path.relative(installed, f).replace(/\\/g, '/');
  const code = new Map(js.map((f) => [f, fs.readFileSync(f, 'utf8')]));
  const declared = new Set([
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.optionalDependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);

  check('rxjs and ws are not bundled', () => {
    const found = [];
    for (const [file, text] of code) {
      for (const { dep, re } of BUNDLED_SIGNATURES) {
        const m = text.match(re);
        if (m) found.push(`${rel(file)} contains ${dep} source: ${JSON.stringify(m[0])}`);
      }
    }
    assert(!found.length, `${found.join('\n')}\n(keep them in tsup's "external")`);
  });

  check('dist imports only declared peers/dependencies, and its relative imports resolve', () => {
    const problems = [];
    for (const [file, text] of code) {
      for (const spec of specifiersOf(text)) {
        if (spec.startsWith('.')) {
          if (!fs.existsSync(path.resolve(path.dirname(file), spec))) problems.push(`${rel(file)}: "${spec}" does not exist`);
        } else if (spec.startsWith('node:') || builtinModules.includes(spec)) {
          if (!NODE_ONLY_FILES.test(rel(file))) {
            problems.push(`${rel(file)}: imports the Node built-in "${spec}"; only rxtether/node may (the other entries and shared chunks load in browsers)`);
          }
        } else if (!declared.has(packageNameOf(spec))) {
          problems.push(`${rel(file)}: imports "${spec}", which package.json does not declare`);
        } else if (/^rxjs\/internal\b/.test(spec)) {
          problems.push(`${rel(file)}: imports "${spec}"; only public rxjs entry points are allowed`);
        }
      }
    }
    assert(!problems.length, problems.join('\n'));
  });

  check('rxjs and ws are imported as externals wherever the sources use them', () => {
    const details = [];
    const problems = [];
    for (const dep of ['rxjs', 'ws']) {
      const esm = [...code].filter(([f, t]) => f.endsWith('.js') && specifiersOf(t).some((s) => packageNameOf(s) === dep));
      const cjs = [...code].filter(([f, t]) => f.endsWith('.cjs') && /\brequire\s*\(\s*["']/.test(t) && specifiersOf(t).some((s) => packageNameOf(s) === dep));
      if (sourceImports.has(dep)) {
        if (!esm.length) problems.push(`src/ or operators/ import ${dep}, but no ESM file in dist/ has \`from "${dep}"\``);
        if (!cjs.length) problems.push(`src/ or operators/ import ${dep}, but no CJS file in dist/ has \`require("${dep}")\``);
      }
      details.push(`${dep}: ${sourceImports.has(dep) ? `imported by ${esm.length} ESM / ${cjs.length} CJS files` : 'not used by the sources yet'}`);
    }
    assert(!problems.length, problems.join('\n'));
    return details.join('; ');
  });

  check('source maps embed their sources (src/ is not published)', () => {
    const bad = all
      .filter((f) => f.endsWith('.map'))
      .filter((f) => {
        const map = readJson(f);
        if (!map.sources?.length) return false; // an entry that only re-exports a chunk
        return !Array.isArray(map.sourcesContent) || map.sourcesContent.length !== map.sources.length || map.sourcesContent.some((s) => typeof s !== 'string');
      });
    assert(!bad.length, `no sourcesContent in ${list(bad.map(rel))}`);
  });

  return { code, rel };
}

function checkSharedOnce(dist, errorClasses) {
  check('each error class is declared once per format (a shared chunk)', () => {
    const problems = [];
    for (const [format, ext] of [['ESM', '.js'], ['CJS', '.cjs']]) {
      for (const name of errorClasses) {
        const re = new RegExp(`\\bclass\\s+${name}\\b|\\b${name}\\s*=\\s*class\\b`, 'g');
        const where = [...dist.code].flatMap(([f, t]) => (f.endsWith(ext) ? [...t.matchAll(re)].map(() => dist.rel(f)) : []));
        if (where.length !== 1) problems.push(`${format}: ${name} is declared ${where.length} times${where.length ? ` (${where.join(', ')})` : ''}`);
      }
    }
    assert(!problems.length, `${problems.join('\n')}\n(tsup needs splitting: true for both formats)`);
    return `${errorClasses.length} classes`;
  });
}

function probe(consumer, mode) {
  const reportFile = path.join(consumer, `probe-${mode}.json`);
  const result = run(process.execPath, ['probe.cjs', mode, reportFile], { cwd: consumer });
  assert(!result.output.trim(), `importing the package printed output:\n${indent(result.output, 2)}`);
  return readJson(reportFile);
}

function checkRuntime(label, report) {
  check(`${label}: importing starts no timer and touches no global`, () => {
    const { newResources, changedGlobals, newListeners, calls } = report.sideEffects;
    const problems = [];
    if (newResources.length) problems.push(`new active resources: ${list(newResources)}`);
    if (calls.length) problems.push(`called while loading: ${list(calls)}`);
    if (changedGlobals.length) problems.push(`globals changed: ${list(changedGlobals)}`);
    if (newListeners.length) problems.push(`listeners added: ${list(newListeners)}`);
    assert(!problems.length, problems.join('\n'));
  });
  check(`${label}: exports shared with rxtether are the very same objects`, () => {
    const root = report.exports['rxtether'];
    const ops = report.exports['rxtether/operators'];
    assert(root.length && ops.length, `an entry exports nothing: rxtether [${list(root)}], rxtether/operators [${list(ops)}]`);
    assert(!report.notShared.length, `not the same object (or missing) in rxtether: ${list(report.notShared)}`);
    assert(!report.notSharedElsewhere.length, `exported by rxtether too, but a different object: ${list(report.notSharedElsewhere)}`);
    for (const entry of ERROR_ENTRIES) {
      const missing = minus(REQUIRED_ERROR_CLASSES, report.errorClasses[entry]);
      assert(!missing.length, `${entry} does not export the error classes ${list(missing)}`);
      const guards = report.errorClasses[entry].map((c) => `is${c}`);
      const missingGuards = minus(guards, report.exports[entry]);
      assert(!missingGuards.length, `${entry} lacks the guards ${list(missingGuards)}`);
    }
    const broken = report.instanceofAcross.filter((x) => !x.ok).map((x) => x.name);
    assert(!broken.length, `instanceof fails across the entries for ${list(broken)}`);
    return `${ops.length} shared exports, ${report.errorClasses['rxtether/operators'].length} error classes, instanceof holds`;
  });
}

function checkEsmCjsAgree(esm, cjs) {
  check('ESM and CJS export the same names', () => {
    for (const entry of Object.values(ENTRIES)) {
      sameNames(entry, esm.exports[entry], 'import', cjs.exports[entry], 'require');
    }
    return Object.values(ENTRIES).map((e) => `${e}: ${esm.exports[e].length}`).join(', ');
  });
  check('branded guards work across the ESM and CJS copies (dual-package hazard)', () => {
    const d = esm.dualPackage;
    assert(!d.error, `constructing ConnectionClosedError failed: ${d.error}`);
    assert(d.cjsGuardOnEsmError && d.esmGuardOnCjsError, `isConnectionClosedError: CJS guard on an ESM error → ${d.cjsGuardOnEsmError}, ESM guard on a CJS error → ${d.esmGuardOnCjsError}`);
  });
}

function checkTypes(consumer, esm, cjs) {
  const ts = requireFromRoot('typescript');
  const shared = esm.exports['rxtether/operators'].filter((n) => esm.exports['rxtether'].includes(n));
  const body = [
    'type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;',
    ...shared.map((n) => `export const sameType_${n}: Mutual<typeof root.${n}, typeof ops.${n}> = true;`),
    '',
  ].join('\n');
  const esmHeader = [
    "import * as root from 'rxtether';",
    "import * as ops from 'rxtether/operators';",
    "import * as nodeEntry from 'rxtether/node';",
    "import * as testing from 'rxtether/testing';",
    'export { nodeEntry, testing };',
    '',
  ].join('\n');
  const cjsHeader = [
    "import root = require('rxtether');",
    "import ops = require('rxtether/operators');",
    "import nodeEntry = require('rxtether/node');",
    "import testing = require('rxtether/testing');",
    'export { nodeEntry, testing };',
    '',
  ].join('\n');
  const files = {
    'types-node16.mts': { text: esmHeader + body, runtime: esm, label: 'node16 ESM' },
    'types-node16.cts': { text: cjsHeader + body, runtime: cjs, label: 'node16 CJS' },
    'types-bundler.ts': { text: esmHeader + body, runtime: esm, label: 'bundler' },
  };
  for (const [name, { text }] of Object.entries(files)) fs.writeFileSync(path.join(consumer, name), text);

  const base = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    // rxtether/node's declarations name node:stream types; a Node consumer has @types/node.
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    target: ts.ScriptTarget.ES2022,
  };
  const programs = [
    { label: 'node16', roots: ['types-node16.mts', 'types-node16.cts'], options: { ...base, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 } },
    { label: 'bundler', roots: ['types-bundler.ts'], options: { ...base, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler } },
  ];

  for (const { label, roots, options } of programs) {
    const program = ts.createProgram(roots.map((r) => path.join(consumer, r)), options);
    check(`types (${label}): a consumer type-checks, shared exports have the same types`, () => {
      const diagnostics = ts.getPreEmitDiagnostics(program);
      assert(
        !diagnostics.length,
        diagnostics
          .map((d) => {
            const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
            if (!d.file) return message;
            const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
            const source = d.file.text.split('\n')[line]?.trim();
            return `${path.relative(consumer, d.file.fileName)}:${line + 1}: ${message}\n    ${source}`;
          })
          .join('\n'),
      );
      return `${shared.length} shared exports`;
    });
    const checker = program.getTypeChecker();
    for (const root of roots) {
      const { runtime, label: fileLabel } = files[root];
      check(`types (${fileLabel}): declared value exports = runtime exports`, () => {
        const sourceFile = program.getSourceFile(path.join(consumer, root));
        const specifiers = sourceFile.statements.flatMap((s) =>
          ts.isImportDeclaration(s) ? [s.moduleSpecifier] : ts.isImportEqualsDeclaration(s) && ts.isExternalModuleReference(s.moduleReference) ? [s.moduleReference.expression] : [],
        );
        const counts = [];
        for (const specifier of specifiers) {
          const entry = specifier.text;
          const moduleSymbol = checker.getSymbolAtLocation(specifier);
          assert(moduleSymbol, `${entry}: TypeScript cannot resolve its types`);
          const exported = checker.getExportsOfModule(moduleSymbol).map((s) => {
            const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
            return { name: s.name, value: (target.flags & ts.SymbolFlags.Value) !== 0 };
          });
          const values = exported.filter((e) => e.value).map((e) => e.name).sort();
          sameNames(`${entry}`, values, 'the types', runtime.exports[entry], 'the runtime');
          counts.push(`${entry}: ${values.length} values + ${exported.length - values.length} types`);
        }
        return counts.join(', ');
      });
    }
  }
}

function checkLinters(tarball) {
  let attwTable = '';
  check('publint --strict', () => {
    const { output } = runBin('publint', 'publint', ['run', tarball, '--strict']);
    return output.trim().split('\n').filter((l) => !/^npm warn/i.test(l)).pop();
  });
  // No rule is ignored: attw reports no false positive for this layout. If one appears, add
  // `--ignore-rules <rule>` here with a comment saying why it does not apply.
  check('@arethetypeswrong/cli (node10, node16 CJS/ESM, bundler)', () => {
    const result = runBin('@arethetypeswrong/cli', 'attw', [tarball, '--format', 'ascii', '--no-color', '--no-emoji'], { allowFailure: true });
    const table = result.stdout.trim().replace(/^\*+$/gm, '').replace(/\n{2,}/g, '\n');
    assert(result.status === 0, `attw found problems:\n${indent(table, 2)}`);
    attwTable = table;
    return 'no problems';
  });
  if (attwTable) console.log(indent(attwTable, 8));
}

// ---------------------------------------------------------------------------------------------

function main() {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxtether-package-'));
  let aborted = false;
  const step = (name, fn) => {
    if (aborted) return undefined;
    let value;
    if (!check(name, () => {
      value = fn();
      return value?.detail;
    })) aborted = true;
    return value;
  };

  try {
    section('build');
    step('dist/ is built', () => ensureBuilt(pkg));

    section('pack');
    const packed = step('npm pack', () => {
      const { stdout } = npm(['pack', '--json', '--pack-destination', tmp]);
      const start = stdout.search(/^\[/m);
      const info = JSON.parse(stdout.slice(start))[0];
      return { ...info, tarball: path.join(tmp, info.filename), detail: info.filename };
    });
    if (packed) {
      checkTarball(packed, pkg);
      checkManifest(pkg);
    }

    section('install into a consumer project');
    const consumer = path.join(tmp, 'consumer');
    const installed = path.join(consumer, 'node_modules', 'rxtether');
    step('npm install <tarball> (offline), link rxjs from the repo', () => {
      fs.mkdirSync(consumer);
      fs.writeFileSync(path.join(consumer, 'package.json'), `${JSON.stringify({ name: 'rxtether-consumer', version: '0.0.0', private: true }, null, 2)}\n`);
      npm(['install', packed.tarball, '--prefix', consumer, '--offline', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--legacy-peer-deps', '--ignore-scripts'], { cwd: consumer });
      assert(fs.existsSync(path.join(installed, 'package.json')), `npm install did not create ${installed}`);
      const rxjs = fs.realpathSync(path.dirname(requireFromRoot.resolve('rxjs/package.json')));
      fs.symlinkSync(rxjs, path.join(consumer, 'node_modules', 'rxjs'), 'junction');
      fs.copyFileSync(path.join(HERE, 'probe.cjs'), path.join(consumer, 'probe.cjs'));
      return { detail: `rxjs ${readJson(path.join(rxjs, 'package.json')).version}, no ws` };
    });

    let dist;
    if (!aborted) {
      section('dist/');
      dist = checkDist(installed, readJson(path.join(installed, 'package.json')), runtimeImportsOfSources());
    }

    section('runtime (child processes)');
    const esm = step('import both entries (ESM)', () => probe(consumer, 'esm'));
    const cjs = step('require both entries (CJS)', () => probe(consumer, 'cjs'));
    if (!aborted) {
      checkRuntime('ESM', esm);
      checkRuntime('CJS', cjs);
      checkEsmCjsAgree(esm, cjs);
      checkSharedOnce(dist, [...new Set([...esm.errorClasses['rxtether'], ...esm.errorClasses['rxtether/operators']])]);

      section('types');
      checkTypes(consumer, esm, cjs);
    }

    if (packed) {
      section('publint, attw');
      checkLinters(packed.tarball);
    }
  } finally {
    const failed = results.filter((r) => !r.ok);
    section('summary');
    if (failed.length) {
      console.log(`FAILED: ${failed.length} of ${results.length} package checks${aborted ? ' (later checks skipped)' : ''}:`);
      for (const f of failed) console.log(`  - ${f.name}`);
      console.log(`Scratch folder kept for inspection: ${tmp}`);
      process.exitCode = 1;
    } else {
      console.log(`All ${results.length} package checks passed.`);
      if (process.env.RXTETHER_KEEP_TMP) console.log(`Scratch folder kept: ${tmp}`);
      else fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

main();
