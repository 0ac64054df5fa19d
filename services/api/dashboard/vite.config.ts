import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

/** The dashboard folder: the build works from any working directory. */
const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Writes `.gz` and `.br` copies beside each script and stylesheet: the api serves them to clients
 * that accept them (`preCompressed`), so it never compresses on the fly.
 */
function precompress(): Plugin {
  return {
    name: 'tidemark-precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir!;
      for (const [fileName, file] of Object.entries(bundle)) {
        if (!/\.(js|css)$/.test(fileName)) continue;
        const source = file.type === 'chunk' ? file.code : file.source;
        await writeFile(join(dir, `${fileName}.gz`), gzipSync(source, { level: 9 }));
        await writeFile(join(dir, `${fileName}.br`), brotliCompressSync(source));
      }
    },
  };
}

export default defineConfig({
  root,
  plugins: [preact(), precompress()],
  build: {
    outDir: join(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // `vite --config dashboard/vite.config.ts` next to a running api (npm start): same-origin calls.
    proxy: { '/api': 'http://127.0.0.1:3000' },
  },
});
