/**
 * Serves examples/web on its own origin (as a real frontend would be), with /config.json
 * telling the page where the gateway is. Used by `npm run dev` and the browser test.
 */
import { serve, type ServerType } from '@hono/node-server';
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';

export interface ExamplePage {
  url: string;
  close(): Promise<void>;
}

export async function startExamplePage(gatewayUrl: () => string, port = 0): Promise<ExamplePage> {
  const html = readFileSync(new URL('../examples/web/index.html', import.meta.url), 'utf8');
  const app = new Hono();
  app.get('/', (c) => c.html(html));
  app.get('/config.json', (c) => c.json({ gateway: gatewayUrl() }));
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
