// Builds the package a frontend installs: dist/herald-client.js (one ES module, minified, by esbuild) and
// dist/types/ (the declarations, by tsc), then reports the bundle's size minified and gzipped and fails when
// it is over the budget.  node tools/build.mjs [--budget <bytes gzipped>] [--out <directory, default dist>]
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { build } from 'esbuild';

/** The most the bundle may weigh, minified and gzipped: a client that shares one stream among tabs is small
 *  (under 4 KiB), and openapi-fetch, the typed HTTP calls, adds 2.6 KiB of its own. */
export const BUDGET_GZIPPED_BYTES = 6.5 * 1024;

const flag = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const budget = Number(flag('--budget') ?? BUDGET_GZIPPED_BYTES);
const out = flag('--out') ?? 'dist';
const BUNDLE = path.join(out, 'herald-client.js');

await rm(out, { recursive: true, force: true });
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
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', path.join(out, 'types')], {
  stdio: 'inherit',
});

const minified = await readFile(BUNDLE);
const gzipped = gzipSync(minified, { level: 9 }).length;
console.log(`${BUNDLE}: ${minified.length} bytes minified, ${gzipped} bytes gzipped (budget ${budget})`);
if (gzipped > budget) {
  console.error(`${BUNDLE} is over its budget: ${gzipped} > ${budget} bytes gzipped`);
  process.exit(1);
}
