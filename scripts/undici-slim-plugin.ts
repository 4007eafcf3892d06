import type { Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * esbuild plugin: the Node transport (src/runtime/node-transport.ts) takes `Pool` and `errors`
 * from undici, but undici's index requires all of undici (fetch, WebSocket, EventSource, the
 * cache and mock agents, …: about 1 MiB of the bundle), and a bundled CommonJS index runs
 * every one of those requires at start-up. Imports of `undici` from our own code get a module
 * that requires just those two, after doing what undici's index does for every dispatcher
 * (attach `request` and the other API methods to `Dispatcher.prototype`).
 */
export function undiciPoolOnly(): Plugin {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('undici/package.json'));
  const lib = (path: string) => JSON.stringify(join(root, 'lib', path));
  return {
    name: 'undici-pool-only',
    setup(build) {
      build.onResolve({ filter: /^undici$/ }, (args) =>
        /[\\/]node_modules[\\/]/.test(args.importer) ? undefined : { path: 'undici-pool-only', namespace: 'undici-pool-only' },
      );
      build.onLoad({ filter: /^undici-pool-only$/, namespace: 'undici-pool-only' }, () => ({
        contents: [
          `const Dispatcher = require(${lib('dispatcher/dispatcher.js')});`,
          `Object.assign(Dispatcher.prototype, require(${lib('api/index.js')}));`,
          `module.exports = { Pool: require(${lib('dispatcher/pool.js')}), errors: require(${lib('core/errors.js')}) };`,
        ].join('\n'),
        loader: 'js',
        resolveDir: root,
      }));
    },
  };
}
