// chromium.mjs launches Debian's Chromium (not a browser build of
// playwright's own) for runner.mjs and screenshot.mjs.
import { chromium } from 'playwright-core';

// FLAGS are the flags this machine's Chromium needs: no sandbox (tests run as
// root), no GPU, and no network but loopback (background networking, QUIC,
// component updates and sync off, so that nothing tries to reach the outside).
// playwright-core gives each launch a fresh, empty --user-data-dir of its own
// and deletes it when the browser closes.
export const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// launch starts Chromium from SSEKIT_CHROMIUM, or /usr/bin/chromium. With
// SSEKIT_INTEROP_SPKI (the base64 SHA-256 of the public key of the interop
// tests' HTTP/2 servers), Chromium trusts certificates of that key, and only
// those (--ignore-certificate-errors-spki-list).
export function launch() {
  const executablePath = process.env.SSEKIT_CHROMIUM || '/usr/bin/chromium';
  const args = [...FLAGS];
  if (process.env.SSEKIT_INTEROP_SPKI) args.push(`--ignore-certificate-errors-spki-list=${process.env.SSEKIT_INTEROP_SPKI}`);
  return chromium.launch({ executablePath, headless: true, args, timeout: 60_000 });
}
