// Builds the console into dist/: the page, fingerprinted JS and CSS, gzip copies, and
// assets.rs, the table the console component embeds with include_bytes!.
// Fails when the shipped JS + CSS, compressed, exceed the budget.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET_GZIP_BYTES = 150 * 1024;
const dist = new URL('./dist/', import.meta.url);

const result = await build({
  entryPoints: ['src/main.jsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: 'out',
  entryNames: 'app',
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
});

const hash = (bytes) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const gzip = (bytes) => gzipSync(bytes, { level: 9 });

const files = []; // {file, path, type, bytes}
for (const out of result.outputFiles) {
  const ext = out.path.endsWith('.css') ? 'css' : 'js';
  const type = ext === 'css' ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
  const file = `app-${hash(out.contents)}.${ext}`;
  files.push({ file, path: `/assets/${file}`, type, bytes: Buffer.from(out.contents) });
}
const script = files.find((f) => f.file.endsWith('.js'));
const style = files.find((f) => f.file.endsWith('.css'));
const page = readFileSync(new URL('./src/index.html', import.meta.url), 'utf8')
  .replace('%SCRIPT%', script.path)
  .replace('%STYLE%', style.path);
files.unshift({ file: 'index.html', path: '/', type: 'text/html; charset=utf-8', bytes: Buffer.from(page) });

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
let shipped = 0;
const entries = files.map(({ file, path, type, bytes }) => {
  const gz = gzip(bytes);
  writeFileSync(new URL(file, dist), bytes);
  writeFileSync(new URL(`${file}.gz`, dist), gz);
  if (file !== 'index.html') shipped += gz.length;
  console.error(`console: ${path} ${bytes.length} B, gzip ${gz.length} B`);
  return `    Asset {
        path: ${JSON.stringify(path)},
        content_type: ${JSON.stringify(type)},
        body: include_bytes!(${JSON.stringify(file)}),
        gzip: include_bytes!(${JSON.stringify(`${file}.gz`)}),
        etag: ${JSON.stringify(hash(bytes))},
    },`;
});
writeFileSync(
  new URL('assets.rs', dist),
  `// Written by web/build.mjs: the console's files, embedded.\npub const ASSETS: &[Asset] = &[\n${entries.join('\n')}\n];\n`,
);
console.error(`console: JS + CSS gzip ${shipped} B (budget ${BUDGET_GZIP_BYTES} B)`);
if (shipped > BUDGET_GZIP_BYTES) {
  console.error('console: over the size budget');
  process.exit(1);
}
