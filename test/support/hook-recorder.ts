import { createServer, type Server } from 'node:http';

/**
 * A loopback HTTP server that records what Kratos's own web_hook sends it, so tests can see
 * what reached Kratos (e.g. transient_payload). `GET /recorded` lists the bodies received.
 */
export interface HookRecorder {
  url: string;
  close(): Promise<void>;
}

export async function startHookRecorder(): Promise<HookRecorder> {
  const received: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/recorded') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
        return;
      }
      try {
        received.push(JSON.parse(body));
      } catch {
        received.push(body);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** What the recorder at `url` has received. */
export async function recordedHooks(url: string): Promise<Array<{ identity_id: string; transient_payload: Record<string, unknown> | null }>> {
  return (await (await fetch(`${url}/recorded`)).json()) as Array<{ identity_id: string; transient_payload: Record<string, unknown> | null }>;
}

/** The Kratos config overlay that adds the recording web_hook before the session hook. */
export function recordingHookOverlay(recorderUrl: string): Record<string, unknown> {
  const jsonnet = 'function(ctx) { identity_id: ctx.identity.id, transient_payload: if std.objectHas(ctx.flow, "transient_payload") then ctx.flow.transient_payload else null }';
  return {
    selfservice: {
      flows: {
        registration: {
          after: {
            password: {
              hooks: [
                { hook: 'web_hook', config: { url: `${recorderUrl}/hook`, method: 'POST', body: `base64://${btoa(jsonnet)}` } },
                { hook: 'session' },
              ],
            },
          },
        },
      },
    },
  };
}
