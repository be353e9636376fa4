// runner.mjs drives three independent EventSource implementations for the Go
// interop tests (interop/*_test.go): the npm package eventsource, undici's
// EventSource, and headless Chromium's own EventSource through playwright-core.
//
// Protocol: JSON lines. Once ready (Chromium launched) it writes
//   {"ready":true,"versions":{...}}
// then, for each request line read from stdin
//   {"id":1,"client":"eventsource"|"undici"|"chromium","url":"http://127.0.0.1:port/path",
//    "page":"http://127.0.0.1:port/page-on-the-same-origin" (chromium only),
//    "events":["hello","message"],"count":4,"waitEnd":true,"untilClosed":false,
//    "lingerMs":0,"timeoutMs":10000,"headers":{"Last-Event-ID":"41"} (eventsource only),
//    "ca":"-----BEGIN CERTIFICATE-----..." (an https URL served over HTTP/2)}
// it writes one line, in any order (requests run concurrently):
//   {"id":1,"events":[{"type","data","lastEventId","t"}],"opens":[t],
//    "errors":[{"t","readyState","code","message"}],"readyState":2,"ended":true,
//    "timedOut":false,"error":""}
// Times t are milliseconds since the EventSource was created.
//
// A request ends when count events have arrived (and, with waitEnd, the
// connection then ended: an error event with readyState CONNECTING); with
// untilClosed, when the connection failed for good (an error event with
// readyState CLOSED), lingerMs later, so that a client that would reconnect
// anyway is seen doing it; or at timeoutMs. The EventSource is closed then.
// Chromium runs once per process (one browser, a bounded pool of pages).
//
// HTTP/2: with "ca" (the PEM certificate the test server's certificate is
// signed by, for an https URL), undici's EventSource and npm eventsource (through
// undici's fetch) connect with an undici Agent that offers h2 (allowH2) and
// trusts that certificate only; Chromium trusts it through
// --ignore-certificate-errors-spki-list (chromium.mjs; the Go test passes the
// key's hash in SSEKIT_INTEROP_SPKI) and offers h2 on TLS by itself. The Go
// test checks on the server that the requests did arrive over HTTP/2.
//
// Environment: SSEKIT_CHROMIUM (default /usr/bin/chromium), SSEKIT_INTEROP_PAGES
// (Chromium pages used in parallel, default 4).
//
// Node.js: the machine's own (v20 here). eventsource 5.1.5 declares engines
// node >=22.12.0, so `npm ci` warns (EBADENGINE), but it passes every case on
// Node 20.20.2, where it uses Node's built-in fetch; so no node@22 package is
// pulled in. undici 7.30.2 needs >=20.18.1, playwright-core 1.65.1 >=20.

import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { EventSource as NpmEventSource } from 'eventsource';
import { EventSource as UndiciEventSource, Agent, fetch as undiciFetch } from 'undici';
import { launch } from './chromium.mjs';

// watch opens an EventSource with open(url) and records what it sees, as
// described at the top of this file. It is also run inside Chromium's pages,
// so it uses nothing but its arguments and the web platform.
async function watch(open, req) {
  const start = performance.now();
  const now = () => Math.round((performance.now() - start) * 10) / 10;
  const res = { events: [], opens: [], errors: [], readyState: -1, ended: false, timedOut: false, error: '' };
  let es;
  try {
    es = open(req.url);
  } catch (e) {
    res.error = 'new EventSource: ' + String(e && e.message || e);
    return res;
  }
  await new Promise((resolve) => {
    let done = false;
    let timer;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (why === 'timeout') res.timedOut = true;
      res.readyState = es.readyState;
      es.close();
      resolve();
    };
    timer = setTimeout(() => finish('timeout'), req.timeoutMs);
    const enough = () => res.events.length >= req.count;
    const types = new Set([...(req.events || []), 'message']);
    for (const type of types) {
      es.addEventListener(type, (e) => {
        if (done) return;
        res.events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId, t: now() });
        if (!req.untilClosed && !req.waitEnd && enough()) finish('count');
      });
    }
    es.addEventListener('open', () => { if (!done) res.opens.push(now()); });
    es.addEventListener('error', (e) => {
      if (done) return;
      const err = { t: now(), readyState: es.readyState };
      if (e && typeof e.code === 'number') err.code = e.code;
      if (e && typeof e.message === 'string' && e.message) err.message = e.message;
      res.errors.push(err);
      if (es.readyState === 2) { // CLOSED: failed for good
        if (req.untilClosed && req.lingerMs > 0) {
          clearTimeout(timer);
          timer = setTimeout(() => finish('linger'), req.lingerMs);
        } else {
          finish('closed');
        }
        return;
      }
      if (!req.untilClosed && req.waitEnd && enough()) { // the response ended after the events
        res.ended = true;
        finish('end');
      }
    });
  });
  return res;
}

// Semaphore bounds concurrent work.
class Semaphore {
  constructor(n) { this.n = n; this.waiting = []; }
  async acquire() {
    if (this.n > 0) { this.n--; return; }
    await new Promise((resolve) => this.waiting.push(resolve));
  }
  release() {
    const next = this.waiting.shift();
    if (next) next(); else this.n++;
  }
}

function pkgVersion(name) {
  const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

// eventsource's own fetch is globalThis.fetch; extra headers (only for the
// first request of the last-event-id scenario) go through a wrapper. With an
// h2 agent, its requests go through undici's fetch on that agent.
function openNpm(req, agent) {
  return (url) => {
    if (!req.headers && !agent) return new NpmEventSource(url);
    const f = agent ? (input, init) => undiciFetch(input, { ...init, dispatcher: agent }) : fetch;
    return new NpmEventSource(url, {
      fetch: (input, init) => f(input, { ...init, headers: { ...(init && init.headers), ...(req.headers || {}) } }),
    });
  };
}

// h2Agent returns an undici Agent that offers HTTP/2 (ALPN h2) and trusts ca
// only, or null without ca.
function h2Agent(req) {
  if (!req.ca) return null;
  return new Agent({ allowH2: true, connect: { ca: req.ca } });
}

// withAgent runs f with the request's h2 agent (or null), then destroys it.
async function withAgent(req, f) {
  const agent = h2Agent(req);
  try {
    return await f(agent);
  } finally {
    if (agent) await agent.destroy().catch(() => {});
  }
}

async function main() {
  const pages = Number(process.env.SSEKIT_INTEROP_PAGES || 4);
  const browser = await launch();
  const context = await browser.newContext();
  const pool = [];
  for (let i = 0; i < pages; i++) pool.push(await context.newPage());
  const pageSem = new Semaphore(pages);

  const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
  out({
    ready: true,
    versions: {
      node: process.version,
      eventsource: pkgVersion('eventsource'),
      undici: pkgVersion('undici'),
      'playwright-core': pkgVersion('playwright-core'),
      chromium: browser.version(),
    },
  });

  // inPage runs one case in a page of the pool. A page whose case failed
  // (a navigation that timed out may still be under way) is replaced, so
  // that it cannot interrupt the navigation of the next case.
  const inPage = async (req) => {
    await pageSem.acquire();
    let page = pool.pop();
    let ok = false;
    try {
      await page.goto(req.page, { timeout: req.timeoutMs });
      const src = `(${watch.toString()})((url) => new EventSource(url), ${JSON.stringify(req)})`;
      const res = await page.evaluate(src);
      ok = true;
      return res;
    } finally {
      if (!ok) {
        await page.close().catch(() => {});
        page = await context.newPage();
      }
      pool.push(page);
      pageSem.release();
    }
  };

  const handle = async (req) => {
    switch (req.client) {
      case 'eventsource': return withAgent(req, (agent) => watch(openNpm(req, agent), req));
      case 'undici': return withAgent(req, (agent) => watch((url) => agent ? new UndiciEventSource(url, { dispatcher: agent }) : new UndiciEventSource(url), req));
      case 'chromium': return inPage(req);
      default: throw new Error(`unknown client ${JSON.stringify(req.client)}`);
    }
  };

  // bounded runs handle(req) and gives up (with an error) a little after
  // req.timeoutMs, whatever the client does.
  const bounded = (req) => new Promise((resolve) => {
    const guard = setTimeout(() => resolve({ error: `runner: no result within ${req.timeoutMs + 5000}ms` }), req.timeoutMs + 5000);
    handle(req).then(resolve, (e) => resolve({ error: String(e && e.stack || e) })).finally(() => clearTimeout(guard));
  });

  const inflight = new Set();
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      out({ id: -1, error: `runner: bad request line: ${e.message}` });
      return;
    }
    const p = bounded(req).then((res) => out({ ...res, id: req.id }));
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  });
  // stdin closed: the Go test is done. Finish what runs, close Chromium, exit.
  rl.on('close', async () => {
    await Promise.allSettled([...inflight]);
    await browser.close().catch(() => {});
    process.exit(0);
  });
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ ready: false, error: String(e && e.stack || e) }) + '\n');
  process.exit(1);
});
