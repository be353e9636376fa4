// Package remote is the scenario protocol: the conformance suite's scenarios
// in a form that checks an SSE server written in any language, over HTTP
// only. The server answers each scenario's route under one base URL exactly
// as the reference does; docs/protocol.md (generated from [Scenarios] by
// [WriteProtocol]) gives the rules, every route and the reference's bytes.
//
// [Check] runs the remote form of each scenario against such a server and
// reports a [Result] per scenario; [ProtocolHandler] serves the reference
// routes through an adapter built on net/http. The sseconform command
// (cmd/sseconform) wraps both. Adapters written in Go use package
// conformance instead, which checks more (the producer's side, goroutine
// leaks, HTTP/2).
package remote
