'use strict';
// Child process of check-package.mjs, copied into the scratch consumer project so that
// `rxtether` resolves to the installed tarball (from inside the repo it would resolve to the
// repo itself). Usage: node probe.cjs esm|cjs REPORT_FILE
//
// Loads every entry (`rxtether`, `rxtether/operators`, `rxtether/node`, `rxtether/testing`) the way a consumer does — `import()`
// in esm mode, `require()` in cjs mode — and writes a JSON report: what importing changed in
// the process (timers, globals, listeners, calls to timer/random functions) and what the
// entries export. check-package.mjs makes the assertions; this file only observes.

const fs = require('node:fs');

const [mode, reportFile] = process.argv.slice(2);
if ((mode !== 'esm' && mode !== 'cjs') || !reportFile) {
  throw new Error('usage: node probe.cjs esm|cjs REPORT_FILE');
}

const ENTRIES = ['rxtether', 'rxtether/operators', 'rxtether/node', 'rxtether/testing'];

// Built-ins whose own properties importing must leave alone (prototype pollution, polyfills).
const INTRINSICS = {
  globalThis,
  Object, 'Object.prototype': Object.prototype,
  'Array.prototype': Array.prototype,
  'Function.prototype': Function.prototype,
  Promise, 'Promise.prototype': Promise.prototype,
  Error, 'Error.prototype': Error.prototype,
  Symbol, 'String.prototype': String.prototype,
  Math, JSON, Reflect,
};

/** Own keys with their descriptors' identities, so a replaced value counts as a change. */
function describe(target) {
  const out = new Map();
  for (const key of Reflect.ownKeys(target)) {
    const d = Object.getOwnPropertyDescriptor(target, key);
    out.set(key, d && ('value' in d ? { value: d.value } : { get: d.get, set: d.set }));
  }
  return out;
}

function snapshot() {
  const intrinsics = {};
  for (const [name, target] of Object.entries(INTRINSICS)) intrinsics[name] = describe(target);
  const listeners = {};
  for (const event of process.eventNames()) listeners[String(event)] = process.listenerCount(event);
  return { resources: process.getActiveResourcesInfo(), intrinsics, listeners };
}

function countBy(list) {
  const counts = new Map();
  for (const item of list) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

function diff(before, after) {
  const newResources = [];
  const a = countBy(after.resources);
  const b = countBy(before.resources);
  for (const [type, n] of a) for (let i = b.get(type) ?? 0; i < n; i++) newResources.push(type);

  const changedGlobals = [];
  for (const [name, beforeProps] of Object.entries(before.intrinsics)) {
    const afterProps = after.intrinsics[name];
    const label = (key) => `${name === 'globalThis' ? 'globalThis' : name}[${String(key)}]`;
    for (const [key, d] of afterProps) {
      const old = beforeProps.get(key);
      if (!old) changedGlobals.push(`added ${label(key)}`);
      else if (!Object.is(old.value, d.value) || old.get !== d.get || old.set !== d.set) changedGlobals.push(`replaced ${label(key)}`);
    }
    for (const key of beforeProps.keys()) if (!afterProps.has(key)) changedGlobals.push(`deleted ${label(key)}`);
  }

  const newListeners = [];
  for (const [event, n] of Object.entries(after.listeners)) {
    if (n > (before.listeners[event] ?? 0)) newListeners.push(`process.on('${event}') ×${n - (before.listeners[event] ?? 0)}`);
  }
  return { newResources, changedGlobals, newListeners };
}

/**
 * Counts calls to functions that start timers or draw randomness while the entries load.
 * Resources alone would miss an unref'd timer or a cleared one.
 */
function instrument() {
  const calls = [];
  const restores = [];
  const wrap = (owner, key, label) => {
    const original = owner?.[key];
    if (typeof original !== 'function') return;
    const wrapper = function (...args) {
      calls.push(label);
      return Reflect.apply(original, this, args);
    };
    owner[key] = wrapper;
    restores.push(() => {
      owner[key] = original;
    });
  };
  wrap(globalThis, 'setTimeout', 'setTimeout');
  wrap(globalThis, 'setInterval', 'setInterval');
  wrap(globalThis, 'setImmediate', 'setImmediate');
  wrap(Math, 'random', 'Math.random');
  wrap(globalThis.crypto, 'getRandomValues', 'crypto.getRandomValues');
  wrap(globalThis.crypto, 'randomUUID', 'crypto.randomUUID');
  return {
    calls,
    restore: () => {
      for (const restore of restores.reverse()) restore();
    },
  };
}

function exportsOf(ns) {
  return Object.keys(ns).filter((k) => k !== '__esModule').sort();
}

function isErrorClass(value) {
  return typeof value === 'function' && value.prototype instanceof Error;
}

async function load(how) {
  const out = {};
  for (const entry of ENTRIES) out[entry] = how === 'esm' ? await import(entry) : require(entry);
  return out;
}

async function main() {
  // Settle anything the bootstrap itself left pending before the first snapshot.
  await new Promise((resolve) => setImmediate(resolve));
  const before = snapshot();
  const watch = instrument();
  let modules;
  try {
    modules = await load(mode);
  } finally {
    watch.restore();
  }
  // The ESM loader closes the files it read asynchronously (`CloseReq`): let pending I/O
  // finish. A timer stays listed (an unref'd or already-fired one is caught by `calls`).
  for (let i = 0; i < 50 && process.getActiveResourcesInfo().some((r) => /^(CloseReq|FSReq)/.test(r)); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const after = snapshot();

  const [root, operators] = ENTRIES.map((e) => modules[e]);
  const report = {
    mode,
    node: process.version,
    sideEffects: { ...diff(before, after), calls: watch.calls },
    exports: Object.fromEntries(ENTRIES.map((e) => [e, exportsOf(modules[e])])),
    errorClasses: Object.fromEntries(ENTRIES.map((e) => [e, exportsOf(modules[e]).filter((k) => isErrorClass(modules[e][k]))])),
    // Names `rxtether/operators` exports whose value is not the very same object in `rxtether`.
    notShared: exportsOf(operators).filter((k) => !(k in root) || root[k] !== operators[k]),
    // Names the other entries share with `rxtether` whose values are different objects.
    notSharedElsewhere: ENTRIES.slice(2).flatMap((e) => exportsOf(modules[e]).filter((k) => k in root && root[k] !== modules[e][k]).map((k) => `${e}: ${k}`)),
    // `instanceof` across the entries, on an object made without calling the constructor.
    instanceofAcross: exportsOf(operators)
      .filter((k) => isErrorClass(operators[k]) && isErrorClass(root[k]))
      .map((k) => ({ name: k, ok: Object.create(operators[k].prototype) instanceof root[k] && Object.create(root[k].prototype) instanceof operators[k] })),
  };

  if (mode === 'esm') {
    // Dual-package hazard: a process that loads both formats has two copies of each class,
    // so `instanceof` cannot hold between them; the branded `isXxxError()` guards must.
    const cjs = require('rxtether');
    const esm = root;
    const result = { distinctCopies: esm.ConnectionClosedError !== cjs.ConnectionClosedError };
    try {
      result.cjsGuardOnEsmError = cjs.isConnectionClosedError(new esm.ConnectionClosedError(1006, '', false));
      result.esmGuardOnCjsError = esm.isConnectionClosedError(new cjs.ConnectionClosedError(1006, '', false));
    } catch (error) {
      result.error = String(error?.stack ?? error);
    }
    report.dualPackage = result;
  }

  fs.writeFileSync(reportFile, JSON.stringify(report, null, 2));
}

// Exit explicitly: a timer started by the import must not keep the probe alive.
main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`probe (${mode}) failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
