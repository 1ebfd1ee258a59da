// Generates the types of Herald's HTTP routes from its OpenAPI document:
//   node tools/generate-http.mjs <openapi.json> [<output file, default src/generated/http.ts>]
// openapi-typescript writes `paths` (each route's parameters, request body and every response by status,
// errors typed as the `Problem` schema) and `components`; openapi-fetch (src/http.ts) is typed with them.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import openapiTS, { astToString } from 'openapi-typescript';

const [documentPath, output = 'src/generated/http.ts'] = process.argv.slice(2);
if (!documentPath) {
  console.error('usage: node tools/generate-http.mjs <openapi.json> [<output file>]');
  process.exit(2);
}
const version = createRequire(import.meta.url)('openapi-typescript/package.json').version;
const HEADER = `// Generated from Herald's OpenAPI document by tools/generate-http.mjs (openapi-typescript ${version}): do not edit.\n`;

const document = JSON.parse(await readFile(documentPath, 'utf8'));
if (!document.openapi || !document.paths || !document.components?.schemas?.Problem) {
  throw new Error(`${documentPath} is not Herald's OpenAPI document (no paths, or no Problem schema)`);
}
const ast = await openapiTS(document, {
  exportType: false, // interfaces, as the AsyncAPI models are
  alphabetize: true, // the same document gives the same file, whatever order its keys come in
});
const staging = `${output}.generating`;
await writeFile(staging, HEADER + astToString(ast).trimEnd() + '\n');
await rename(staging, output);
console.log(`${output}: ${Object.keys(document.paths).length} paths`);
