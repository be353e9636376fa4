// Package interop holds the interoperability tests of ssekit: every adapter
// (net/http, Gin, Echo v4 and v5, Fiber v2 and v3, nbio) serves the conformance
// scenarios (package conformance) to EventSource clients that nobody on this
// project wrote, and what they see is held to the scenarios' expectations:
//
//   - the npm package eventsource, under Node.js;
//   - undici's EventSource, under Node.js;
//   - headless Chromium's own EventSource, driven by playwright-core.
//
// The adapters built on net/http (net/http, Gin, Echo v4 and v5) are also
// served over HTTP/2 with TLS (columns ending in -h2): the server offers only
// h2 and checks that every request arrived over HTTP/2; the Node.js clients
// reach it through an undici Agent with allowH2 that trusts the test
// certificate, Chromium with --ignore-certificate-errors-spki-list naming
// the certificate's key (and no other).
//
// The clients live in node/ (package.json and package-lock.json pin their
// versions; node/runner.mjs drives them). The tests start one runner process
// per "go test" run, which launches Chromium once, and talk to it in JSON
// lines. Besides the scenarios, the tests check reconnection as browsers do
// it: the retry field, Last-Event-ID sent back on reconnect, a 204 answer
// ending reconnection, an error status or a wrong content type failing the
// connection for good, and close() ending the stream on the server.
//
// The tests need Node.js, Chromium (/usr/bin/chromium, or SSEKIT_CHROMIUM)
// and node/node_modules (npm ci --prefix interop/node); scripts/test installs
// them. They fail, rather than skip, when something is missing. With
// SSEKIT_INTEROP_MATRIX set, the pass matrix is also written there as
// Markdown.
package interop
