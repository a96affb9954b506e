// Fill ODK XForms headless with ODK's own form engine (@getodk/xforms-engine, the engine of
// ODK Web Forms), the way a phone does: load the form, answer questions in order, let the engine
// recompute every calculation, relevance and constraint, and print what it computed together
// with the submission XML it would send.
//
// Protocol (all JSON, UTF-8):
//   node fill.mjs            reads all of stdin: one request object -> one response object,
//                            or an array of requests -> an array of responses.
//   node fill.mjs --lines    reads one request per line and writes one response per line, in
//                            order, until stdin closes (used by tests/engine/engine.py to keep
//                            one Node process for a whole test session).
//
// Request:
//   {
//     "id": any (echoed back),
//     "xform": "<h:html ...>",                   compiled XForm XML
//     "attachments": {"households.csv": {"text": "..."} | {"base64": "..."}},   form media
//     "repeats": {"/data/member": 3, "/data/member[2]/child": 1},   instance counts, set first
//     "answers": [                                applied in order
//       {"path": "/data/x" | "x" | "member[2]/age", "value": "3" | 3 | ["a", "b"] | null},
//       {"path": "/data/photo", "file": {"name": "a.jpg", "base64": "...", "type": "image/jpeg"}},
//       {"repeat": "/data/member", "count": 2}
//     ],
//     "allow_irrelevant": false,   answering a question the form hides is an error unless true
//     "preload": {"deviceID": "...", "username": "...", "phoneNumber": "...", "email": "..."}
//   }
// Response:
//   {"id", "ok": true, "nodes": [{"path", "name", "type", "value_type", "value", "relevant",
//     "required", "readonly", "valid", "violation": null | {"condition", "message"}}],
//    (every node in document order, attributes too: "/data/meta/entity/@id", name "@id"),
//    "violations": [{"path", "condition", "message"}], "valid": bool,
//    "payload_status": "ready" | "pending", "submission_xml": "...", "instance_id": "uuid:...",
//    "submission_files": {"a.jpg": "<base64>"}}
//   or {"id", "ok": false, "error": "message", "stack": "..."}.

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { JSDOM } from 'jsdom';

// Keep stdout for the protocol only: anything the engine logs goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

// The engine needs a DOM; Node has none. It also probes `window` to decide it runs in a browser,
// so `window` itself is deliberately not defined.
const dom = new JSDOM('<!DOCTYPE html><html><head></head><body></body></html>');
for (const name of [
  'DOMParser',
  'XMLSerializer',
  'Node',
  'Element',
  'Document',
  'XPathResult',
  'Attr',
  'Text',
  'CharacterData',
  'Comment',
  'ProcessingInstruction',
  'DocumentFragment',
  'NodeFilter',
]) {
  globalThis[name] = dom.window[name];
}
globalThis.document = dom.window.document;

// The engine's bundled XPath parser (tree-sitter compiled with Emscripten) takes the Node code
// path and looks for CommonJS globals that an ES module lacks.
const require = createRequire(import.meta.url);
const enginePath = require.resolve('@getodk/xforms-engine');
globalThis.__dirname = dirname(enginePath);
globalThis.__filename = enginePath;
globalThis.require = require;

const { loadForm } = await import('@getodk/xforms-engine');

const DEFAULT_PRELOAD = { deviceID: 'qingling-engine-test' };
const FORM_CACHE_SIZE = 32;
const formCache = new Map();

class RequestError extends Error {}

function decodeAttachment(name, spec) {
  if (typeof spec === 'string') return Buffer.from(spec, 'utf8');
  if (spec && typeof spec.text === 'string') return Buffer.from(spec.text, 'utf8');
  if (spec && typeof spec.base64 === 'string') return Buffer.from(spec.base64, 'base64');
  throw new RequestError(`attachment ${name}: give {"text": ...} or {"base64": ...}`);
}

// Form media are addressed as jr://file/NAME, jr://file-csv/NAME, jr://images/NAME...: the
// file name is the last path segment, as in the manifest a server sends to Collect.
function attachmentFetcher(attachments) {
  const files = new Map();
  for (const [name, spec] of Object.entries(attachments ?? {})) {
    files.set(name, decodeAttachment(name, spec));
  }
  return async (url) => {
    const href = String(url.href ?? url);
    const name = decodeURIComponent(href.split('/').pop());
    const data = files.get(name);
    if (data === undefined) {
      return new Response(`form attachment ${name} was not given`, { status: 404 });
    }
    return new Response(data, { status: 200 });
  };
}

function cacheKey(xform, attachments) {
  const parts = [xform];
  for (const name of Object.keys(attachments ?? {}).sort()) {
    parts.push(name, JSON.stringify(attachments[name]));
  }
  return parts.join('\u0000');
}

async function loadCached(xform, attachments) {
  const key = cacheKey(xform, attachments);
  const hit = formCache.get(key);
  if (hit) {
    formCache.delete(key);
    formCache.set(key, hit);
    return hit;
  }
  const result = await loadForm(xform, { fetchFormAttachment: attachmentFetcher(attachments) });
  if (result.status === 'failure') {
    const cause = result.error?.message ?? String(result.error);
    throw new RequestError(`the engine could not load the form: ${cause}`);
  }
  formCache.set(key, result);
  if (formCache.size > FORM_CACHE_SIZE) formCache.delete(formCache.keys().next().value);
  return result;
}

function children(node) {
  const kids = node.currentState.children;
  return Array.isArray(kids) ? kids : [];
}

function nameOf(node) {
  const ref = node.currentState.reference;
  const last = ref.slice(ref.lastIndexOf('/') + 1);
  return last.replace(/\[\d+\]$/, '');
}

function isRange(node) {
  return node.nodeType.startsWith('repeat-range');
}

function* walk(node) {
  yield node;
  for (const child of children(node)) yield* walk(child);
}

// Every node and its attributes (e.g. an entity's @id), for reporting; attributes cannot be answered.
function* walkWithAttributes(node) {
  yield node;
  for (const attribute of node.currentState.attributes ?? []) yield attribute;
  for (const child of children(node)) yield* walkWithAttributes(child);
}

function parsePath(path, rootName) {
  let text = String(path).trim();
  if (!text.startsWith('/')) text = `/${rootName}/${text}`;
  const steps = text
    .split('/')
    .slice(1)
    .map((step) => {
      const match = /^([^[\]]+)(?:\[(\d+)\])?$/.exec(step);
      if (!match) throw new RequestError(`bad path step "${step}" in ${path}`);
      return { name: match[1], index: match[2] === undefined ? null : Number(match[2]) };
    });
  if (steps[0].name !== rootName) {
    throw new RequestError(`path ${path} does not start at the form's root /${rootName}`);
  }
  return steps;
}

// Field name -> nodes, per instance; rebuilt after repeat instances are added or removed.
const nameIndexes = new WeakMap();

function nodesNamed(root, name) {
  let index = nameIndexes.get(root);
  if (index === undefined) {
    index = new Map();
    for (const node of walk(root)) {
      if (node === root) continue;
      const key = nameOf(node);
      if (!index.has(key)) index.set(key, []);
      index.get(key).push(node);
    }
    nameIndexes.set(root, index);
  }
  return index.get(name) ?? [];
}

function setRepeatCount(range, count, path) {
  if (range.nodeType !== 'repeat-range:uncontrolled') {
    throw new RequestError(
      `${path} is a repeat whose count the form computes (repeat_count); answer that question instead`,
    );
  }
  const current = children(range).length;
  if (count > current) range.addInstances(current - 1, count - current);
  else if (count < current) range.removeInstances(count, current - count);
  if (count !== current) nameIndexes.delete(range.root);
}

// Resolve "/data/a/b[2]/c" step by step from the root. A repeat step without an index means the
// only instance; a step past the last instance adds instances, as a user tapping "add" would.
function resolvePath(root, path) {
  const steps = parsePath(path, nameOf(root));
  let node = root;
  for (let i = 1; i < steps.length; i += 1) {
    const { name, index } = steps[i];
    const next = children(node).find((child) => nameOf(child) === name);
    if (!next) {
      const known = children(node).map(nameOf).join(', ');
      throw new RequestError(`no node "${name}" under ${node.currentState.reference} (has: ${known})`);
    }
    if (!isRange(next)) {
      if (index !== null && index !== 1) {
        throw new RequestError(`${name} in ${path} is not a repeat, index [${index}] is wrong`);
      }
      node = next;
      continue;
    }
    const isLast = i === steps.length - 1;
    if (isLast && index === null) return next;
    const count = children(next).length;
    let wanted = index;
    if (wanted === null) {
      if (count > 1) {
        throw new RequestError(
          `${path}: repeat ${next.currentState.reference} has ${count} instances; say which, e.g. ${name}[1]`,
        );
      }
      wanted = 1;
    }
    if (wanted < 1) throw new RequestError(`${path}: repeat indexes start at 1`);
    if (wanted > count) setRepeatCount(next, wanted, next.currentState.reference);
    node = children(next)[wanted - 1];
  }
  return node;
}

function resolveRef(root, ref) {
  const text = String(ref).trim();
  if (text.includes('/')) return resolvePath(root, text);
  const matches = nodesNamed(root, text);
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw new RequestError(`the form has no field named "${text}"`);
  const where = matches.map((node) => node.currentState.reference).join(', ');
  throw new RequestError(`field name "${text}" is ambiguous (${where}); give its path`);
}

function toText(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}

function answer(root, step, allowIrrelevant) {
  if (step.repeat !== undefined) {
    const range = resolvePath(root, step.repeat);
    if (!isRange(range)) throw new RequestError(`${step.repeat} is not a repeat`);
    setRepeatCount(range, Number(step.count), step.repeat);
    return;
  }
  const node = resolveRef(root, step.path);
  const ref = node.currentState.reference;
  if (!allowIrrelevant && !node.currentState.relevant) {
    throw new RequestError(`${ref} is not relevant (the form hides it) when answering it`);
  }
  if (node.currentState.readonly) {
    throw new RequestError(`${ref} is read-only on the device and cannot be answered`);
  }
  const { value } = step;
  switch (node.nodeType) {
    case 'select': {
      let values;
      if (Array.isArray(value)) values = value.map(toText);
      else if (value === null || value === undefined || value === '') values = [];
      else values = node.selectType === 'select' ? toText(value).split(/\s+/) : [toText(value)];
      for (const v of values) {
        if (node.getValueOption(v) === null) {
          const offered = node.currentState.valueOptions.map((item) => item.value).join(', ');
          throw new RequestError(`${ref} offers no choice "${v}" (offers: ${offered})`);
        }
      }
      if (node.selectType === 'select') node.selectValues(values);
      else if (values.length > 1) throw new RequestError(`${ref} is select_one; got ${values.length} values`);
      else node.selectValue(values[0] ?? null);
      return;
    }
    case 'rank':
      node.setValues(Array.isArray(value) ? value.map(toText) : toText(value).split(/\s+/));
      return;
    case 'trigger':
      node.setValue(value === true || value === 'OK' || value === 'true');
      return;
    case 'upload': {
      if (step.file === undefined || step.file === null) {
        node.setValue(null);
        return;
      }
      const { name, type } = step.file;
      const bytes = decodeAttachment(name, step.file);
      node.setValue(new File([bytes], name, { type: type ?? 'application/octet-stream' }));
      return;
    }
    case 'input':
    case 'range':
      // Every input codec (int, decimal, date, geopoint...) parses the same text a phone stores.
      node.setValue(value === null || value === undefined ? null : toText(value));
      return;
    default:
      throw new RequestError(`${ref} is a ${node.nodeType} node, which a user cannot answer`);
  }
}

function violationOf(node) {
  const violation = node.validationState?.violation;
  if (!violation) return null;
  return { condition: violation.condition, message: violation.message?.asString ?? null };
}

function describe(node) {
  const state = node.currentState;
  if (node.nodeType === 'attribute') {
    return {
      path: state.reference,
      name: nameOf(node),
      type: 'attribute',
      value_type: null,
      value: state.value ?? '',
      relevant: state.relevant,
      required: false,
      readonly: true,
      valid: true,
      violation: null,
    };
  }
  const leaf = state.children === null;
  const violation = leaf ? violationOf(node) : null;
  return {
    path: state.reference,
    name: nameOf(node),
    type: node.nodeType,
    value_type: node.valueType ?? null,
    value: leaf ? (state.instanceValue ?? '') : null,
    relevant: state.relevant,
    required: state.required,
    readonly: state.readonly,
    valid: violation === null,
    violation,
  };
}

async function fill(request) {
  if (typeof request.xform !== 'string' || request.xform === '') {
    throw new RequestError('request has no "xform" string');
  }
  const form = await loadCached(request.xform, request.attachments);
  const instance = form.createInstance({
    preloadProperties: { ...DEFAULT_PRELOAD, ...(request.preload ?? {}) },
  });
  const { root } = instance;
  const repeats = Object.entries(request.repeats ?? {}).sort(
    ([a], [b]) => a.split('/').length - b.split('/').length,
  );
  for (const [path, count] of repeats) {
    const range = resolvePath(root, path);
    if (!isRange(range)) throw new RequestError(`${path} is not a repeat`);
    setRepeatCount(range, Number(count), path);
  }
  for (const step of request.answers ?? []) {
    try {
      answer(root, step, request.allow_irrelevant === true);
    } catch (error) {
      const what = step.repeat !== undefined ? `repeat ${step.repeat}` : `answer ${step.path}`;
      error.message = `${what}: ${error.message}`;
      throw error;
    }
  }

  const nodes = [...walkWithAttributes(root)].map(describe);
  const violations = root.validationState.violations.map((item) => ({
    path: item.reference,
    condition: item.violation.condition,
    message: item.violation.message?.asString ?? null,
  }));
  const payload = await root.prepareInstancePayload();
  const data = payload.data[0];
  const submissionXml = await data.get('xml_submission_file').text();
  const submissionFiles = {};
  for (const [name, file] of data.entries()) {
    if (name === 'xml_submission_file') continue;
    submissionFiles[name] = Buffer.from(await file.arrayBuffer()).toString('base64');
  }
  const idNode = nodes.find((node) => /\/meta\/instanceID$/.test(node.path));
  return {
    ok: true,
    nodes,
    violations,
    valid: violations.length === 0,
    payload_status: payload.status,
    submission_xml: submissionXml,
    instance_id: idNode ? idNode.value : null,
    submission_files: submissionFiles,
  };
}

async function handle(request) {
  const id = request?.id ?? null;
  try {
    return { id, ...(await fill(request)) };
  } catch (error) {
    return {
      id,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      stack: error instanceof RequestError ? null : (error?.stack ?? null),
    };
  }
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function write(line) {
  return new Promise((resolve) => {
    if (process.stdout.write(`${line}\n`)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

async function main() {
  if (process.argv.includes('--lines')) {
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      let request;
      try {
        request = JSON.parse(line);
      } catch (error) {
        await write(JSON.stringify({ id: null, ok: false, error: `bad JSON: ${error.message}` }));
        continue;
      }
      await write(JSON.stringify(await handle(request)));
    }
    return;
  }
  const input = JSON.parse(await readAll(process.stdin));
  if (Array.isArray(input)) {
    const out = [];
    for (const request of input) out.push(await handle(request));
    await write(JSON.stringify(out));
  } else {
    await write(JSON.stringify(await handle(input)));
  }
}

await main();
