// Hono's streamSSE on @hono/node-server (the stack Danet runs on): each event
// written with stream.writeSSE, resuming after Last-Event-ID.
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { serve } from '@hono/node-server';
import { after, listening } from './peers-events.mjs';

const app = new Hono();
app.get('/sse', (c) =>
  streamSSE(c, async (stream) => {
    for (const e of after(c.req.header('Last-Event-ID'))) {
      await stream.writeSSE({ id: e.id, event: e.event, data: e.data });
      await stream.sleep(20);
    }
  }),
);
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => listening(info.port));
