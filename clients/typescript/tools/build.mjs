// Builds the package a frontend installs: dist/herald-client.js (one ES module, minified, by esbuild) and
// dist/types/ (the declarations, by tsc), then reports the bundle's size minified and gzipped and fails when
// it is over the budget.  node tools/build.mjs [--budget <bytes gzipped>]
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

import { build } from 'esbuild';

/** The most the bundle may weigh, minified and gzipped: a client that shares one stream among tabs is small. */
export const BUDGET_GZIPPED_BYTES = 5 * 1024;

const budgetFlag = process.argv.indexOf('--budget');
const budget = budgetFlag >= 0 ? Number(process.argv[budgetFlag + 1]) : BUDGET_GZIPPED_BYTES;
const BUNDLE = 'dist/herald-client.js';

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/stream.ts'],
  outfile: BUNDLE,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

const minified = await readFile(BUNDLE);
const gzipped = gzipSync(minified, { level: 9 }).length;
console.log(`${BUNDLE}: ${minified.length} bytes minified, ${gzipped} bytes gzipped (budget ${budget})`);
if (gzipped > budget) {
  console.error(`${BUNDLE} is over its budget: ${gzipped} > ${budget} bytes gzipped`);
  process.exit(1);
}
