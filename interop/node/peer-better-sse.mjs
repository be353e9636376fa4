// better-sse on Express 5: session.push(data, event, id) for each event,
// resuming after session.lastId (its reading of Last-Event-ID), then the
// response ends.
import express from 'express';
import { createSession } from 'better-sse';
import { after, listening, pace } from './peers-events.mjs';

const app = express();
app.get('/sse', async (req, res) => {
  const session = await createSession(req, res);
  for (const e of after(session.lastId)) {
    if (!session.isConnected) return;
    session.push(e.data, e.event ?? 'message', e.id);
    await pace(20);
  }
  res.end();
});
const server = app.listen(0, '127.0.0.1', () => listening(server.address().port));
