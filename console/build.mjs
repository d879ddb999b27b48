// Bundles the console into OUT_DIR (default crates/hype-console/assets):
// index.html, app.js and app.css, minified, without source maps, the same
// bytes for the same sources and lock (scripts/build-console.sh --check).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../crates/hype-console/assets'));
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(here, 'src/main.jsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  // Preact's MIT licence asks for its notice in copies.
  banner: { js: '/*! hype console; includes Preact (MIT License, Copyright (c) 2015-present Jason Miller) and rrweb (MIT License, Copyright (c) 2018 Contributors (https://github.com/rrweb-io/rrweb/graphs/contributors) and SmartX Inc.) */' },
  charset: 'utf8',
  logLevel: 'warning',
});
// The record script hyped injects into recorded pages (hype-console's
// RECORD_SCRIPT); rrweb's MIT licence asks for its notice too.
await build({
  entryPoints: { record: join(here, 'src/record.js') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110'],
  legalComments: 'none',
  banner: { js: '/*! hype recorder; includes rrweb (MIT License, Copyright (c) 2018 Contributors (https://github.com/rrweb-io/rrweb/graphs/contributors) and SmartX Inc.) */' },
  charset: 'utf8',
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
