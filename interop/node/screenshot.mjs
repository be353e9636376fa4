// screenshot.mjs opens a page in headless Chromium, waits until a condition
// holds, prints what the page shows as one JSON line and saves a screenshot:
//
//   node screenshot.mjs URL PNG [WAIT_EXPRESSION] [TIMEOUT_MS]
//
// WAIT_EXPRESSION is JavaScript evaluated in the page until it is truthy
// (default: the document has loaded); TIMEOUT_MS bounds the whole run
// (default 15000). The JSON holds the title, the visible text, the text of
// every element with an id (by id), the rows of every table body (by id, as
// arrays of cell texts), and the console errors. It exits 1, after saving
// the screenshot it could take, when the condition never held.
import { launch } from './chromium.mjs';

const [url, png, waitExpr = 'document.readyState === "complete"', timeoutArg = '15000'] = process.argv.slice(2);
if (!url || !png) {
  console.error('usage: node screenshot.mjs URL PNG [WAIT_EXPRESSION] [TIMEOUT_MS]');
  process.exit(2);
}
const timeout = Number(timeoutArg);
const guard = setTimeout(() => {
  console.error(`screenshot.mjs: gave up after ${timeout + 10000}ms`);
  process.exit(1);
}, timeout + 10000);

const browser = await launch();
let code = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 860 }, deviceScaleFactor: 1 });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url, { timeout });
  let waitError = '';
  try {
    await page.waitForFunction(waitExpr, null, { timeout });
  } catch (e) {
    waitError = `the condition ${waitExpr} did not hold within ${timeout}ms: ${e.message.split('\n')[0]}`;
    code = 1;
  }
  // Let finite animations (a new row's flash) end, so the screenshot is settled.
  await page.evaluate(() => Promise.all(document.getAnimations()
    .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
    .map((a) => a.finished.catch(() => {}))).then(() => {}));
  const seen = await page.evaluate(() => {
    const ids = {};
    for (const el of document.querySelectorAll('[id]')) ids[el.id] = el.innerText ?? el.textContent;
    const tables = {};
    for (const tb of document.querySelectorAll('tbody[id]')) {
      tables[tb.id] = [...tb.rows].map((r) => [...r.cells].map((c) => c.innerText));
    }
    return { title: document.title, text: document.body.innerText, ids, tables };
  });
  await page.screenshot({ path: png, fullPage: true });
  process.stdout.write(JSON.stringify({ ...seen, consoleErrors, waitError }) + '\n');
} catch (e) {
  console.error(`screenshot.mjs: ${e && e.stack || e}`);
  code = 1;
} finally {
  await browser.close().catch(() => {});
  clearTimeout(guard);
}
process.exit(code);
