// Validates an AsyncAPI document with the official parser: node tools/validate.mjs <asyncapi.json>
// Prints each diagnostic as a JSON line ({severity, code, message, path}); exits 1 on any error or warning.
import { readFile } from 'node:fs/promises';

import { Parser } from '@asyncapi/parser';

const SEVERITIES = ['error', 'warning', 'info', 'hint'];
const [documentPath] = process.argv.slice(2);
if (!documentPath) {
  console.error('usage: node tools/validate.mjs <asyncapi.json>');
  process.exit(2);
}
const { diagnostics } = await new Parser().parse(await readFile(documentPath, 'utf8'));
for (const diagnostic of diagnostics) {
  const { severity, code, message, path } = diagnostic;
  console.log(JSON.stringify({ severity: SEVERITIES[severity] ?? String(severity), code, message, path }));
}
process.exit(diagnostics.some((diagnostic) => diagnostic.severity <= 1) ? 1 : 0);
