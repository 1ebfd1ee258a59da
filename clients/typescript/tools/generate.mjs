// Generates the TypeScript client's types from Herald's AsyncAPI document:
//   node tools/generate.mjs <asyncapi.json> [<output directory, default src/generated>]
// Modelina (the AsyncAPI Initiative's model generator) writes one interface per payload schema the document
// names; this script adds events.ts, the map from each event name to its payload type, which the hand-written
// stream wrapper (src/stream.ts) is typed with. Its models/ and events.ts are replaced once all of them are made.
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import { TS_DESCRIPTION_PRESET, TypeScriptFileGenerator } from '@asyncapi/modelina';

const [documentPath, outputDir = 'src/generated'] = process.argv.slice(2);
if (!documentPath) {
  console.error('usage: node tools/generate.mjs <asyncapi.json> [<output directory>]');
  process.exit(2);
}
const modelina = createRequire(import.meta.url)('@asyncapi/modelina/package.json').version;
const HEADER = `// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina ${modelina}): do not edit.\n`;

const document = JSON.parse(await readFile(documentPath, 'utf8'));
const messages = document.components?.messages ?? {};
if (Object.keys(messages).length === 0) {
  throw new Error(`${documentPath} describes no messages: is it Herald's AsyncAPI document?`);
}

/** The message's routing, from Herald's `x-herald-*` extensions; null for the stream's own signals. */
function audienceOf(message) {
  const category = message['x-herald-category'];
  const audience = message['x-herald-audience'];
  if (category === undefined || audience === undefined) return null;
  const group = audience.group ?? null;
  return {
    category,
    everyone: audience.everyone === true,
    user: audience.user ?? null,
    group: group && { kind: group.kind ?? null, kindField: group.kind_field ?? null, field: group.field },
  };
}

const staging = await mkdtemp(path.join(path.dirname(path.resolve(outputDir)), '.generating-'));
let made = '';
try {
  const modelsDir = path.join(staging, 'models');
  await mkdir(modelsDir);

  const generator = new TypeScriptFileGenerator({
    modelType: 'interface', // payloads are plain JSON objects, not classes to marshal
    enumType: 'union', // `'shutdown' | 'session_revoked'`: what JSON.parse returns, nothing to convert
    rawPropertyNames: true, // keep `event_id` as it is on the wire (the default would rename it eventId)
    moduleSystem: 'ESM',
    presets: [TS_DESCRIPTION_PRESET],
  });
  await generator.generateToFiles(structuredClone(document), modelsDir, { exportType: 'named' }, true);
  // Every model is a type: imported and exported as one, so consumers with verbatimModuleSyntax compile it.
  for (const file of await readdir(modelsDir)) {
    const target = path.join(modelsDir, file);
    const source = (await readFile(target, 'utf8'))
      .replace(/^import \{/gm, 'import type {')
      .replace(/^export \{/gm, 'export type {');
    await writeFile(target, HEADER + source.trimEnd() + '\n');
  }

  // Each message's payload is a $ref to a named schema, and Modelina named its model after that schema.
  const events = Object.entries(messages).map(([name, message]) => {
    const ref = message.payload?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/components/schemas/')) {
      throw new Error(`message ${name} has no named payload schema; the document must name every payload`);
    }
    return {
      name,
      type: ref.slice('#/components/schemas/'.length),
      summary: message.summary ?? '',
      resumable: 'id' in (message.headers?.properties ?? {}),
      audience: audienceOf(message),
    };
  });
  const types = [...new Set(events.map((event) => event.type))];
  const models = new Set((await readdir(modelsDir)).map((file) => path.basename(file, '.ts')));
  const missing = types.filter((type) => !models.has(type));
  if (missing.length > 0) {
    throw new Error(`Modelina made no model for ${missing.join(', ')} (does it read AsyncAPI ${document.asyncapi}?)`);
  }
  const address = document.channels?.events?.address;
  const lines = [
    HEADER,
    ...types.map((type) => `import type { ${type} } from './models/${type}';`),
    '',
    `export type { ${types.join(', ')} };`,
    '',
    '/** The path of the stream, after the server\'s address. */',
    `export const STREAM_PATH = ${JSON.stringify(address)};`,
    '',
    '/** Every event the stream sends, by its SSE `event:` name, with the type of its `data:` payload. */',
    'export interface HeraldEventMap {',
    ...events.flatMap((event) => [`  /** ${event.summary.replaceAll('*/', '*\\/')} */`, `  ${JSON.stringify(event.name)}: ${event.type};`]),
    '}',
    '',
    '/** The name of an event the stream sends. */',
    'export type HeraldEventName = keyof HeraldEventMap;',
    '',
    '/** Every event name, in the order of the document. */',
    `export const EVENT_NAMES: readonly HeraldEventName[] = ${JSON.stringify(events.map((event) => event.name))};`,
    '',
    '/** Whether an event carries an `id:` to resume from (`stream.end` does not: the last id stays). */',
    'export const RESUMABLE: Readonly<Record<HeraldEventName, boolean>> = {',
    ...events.map((event) => `  ${JSON.stringify(event.name)}: ${event.resumable},`),
    '};',
    '',
    '/** Who an event is for (its category, and the payload fields naming its user and group): how a tab that',
    ' * shares another tab\'s stream keeps only the events its own filter would have let through. None for the',
    ' * stream\'s own signals. */',
    'export interface Audience {',
    '  category: string;',
    '  everyone: boolean;',
    '  user: string | null;',
    '  group: { kind: string | null; kindField: string | null; field: string } | null;',
    '}',
    '',
    'export const AUDIENCES: Readonly<Record<HeraldEventName, Audience | null>> = {',
    ...events.map((event) => `  ${JSON.stringify(event.name)}: ${JSON.stringify(event.audience)},`),
    '};',
    '',
  ];
  await writeFile(path.join(staging, 'events.ts'), lines.join('\n'));
  made = `${types.length} payload types for ${events.length} events`;
} catch (error) {
  await rm(staging, { recursive: true, force: true }); // the committed files stay as they were
  throw error;
}
// Only what this script makes is replaced: the directory also holds the HTTP types (tools/generate-http.mjs).
await mkdir(outputDir, { recursive: true });
for (const made of ['models', 'events.ts']) {
  await rm(path.join(outputDir, made), { recursive: true, force: true });
  await rename(path.join(staging, made), path.join(outputDir, made));
}
await rm(staging, { recursive: true, force: true });
console.log(`${outputDir}: ${made}`);
