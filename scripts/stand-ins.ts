/**
 * Local stand-ins for the external services of the example config (config/gateway.yaml),
 * so `npm run dev` works on a fresh machine: a VAT check, a CRM and a welcome mailer.
 * They check the API key the config sends and print each call (without secrets).
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';

export interface StandIns {
  url: string;
  close(): Promise<void>;
}

export async function startStandIns(port = 0, apiKey = process.env.VAT_API_KEY ?? 'dev-vat-api-key'): Promise<StandIns> {
  const app = new Hono();
  let contacts = 0;
  const log = (line: string) => console.error(`stand-ins: ${line}`);
  app.post('/vat/check', async (c) => {
    if (c.req.header('x-api-key') !== apiKey) return c.json({ error: 'bad api key' }, 401);
    const { vat_id: vat } = await c.req.json<{ vat_id: string }>();
    // A toy rule: EU-style ids are valid unless they start with XX.
    if (vat.startsWith('XX')) {
      log(`VAT ${vat} rejected`);
      return c.json({ errors: [{ pointer: '/fields/vat_id', message: 'This VAT number is not registered.' }] }, 422);
    }
    log(`VAT ${vat} ok`);
    return c.json({ valid: true });
  });
  app.post('/crm/contacts', async (c) => {
    const { email } = await c.req.json<{ email: string }>();
    const id = `crm_${++contacts}`;
    log(`CRM contact ${id} for ${email}`);
    return c.json({ id, segment: 'self-serve' }, 201);
  });
  app.post('/mail/welcome', async (c) => {
    const { to } = await c.req.json<{ to: string }>();
    log(`welcome mail to ${to} (idempotency key ${c.req.header('idempotency-key')})`);
    return c.json({ queued: true }, 202);
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return { url: `http://127.0.0.1:${actual}`, close: () => new Promise((r) => server.close(() => r())) };
}
