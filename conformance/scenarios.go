package conformance

import (
	"github.com/ssekit/ssekit/client"
	"github.com/ssekit/ssekit/core"
)

// Scenarios returns every scenario of the suite, in a stable order. The slice
// and its scenarios are fresh on each call: callers may filter or change them
// and pass them to [RunScenarios].
//
// The wire scenarios check what a spec-exact client receives for each kind of
// message; the stream scenarios check the loop through the adapter (flushes,
// heartbeats, close, bursts, shutdown); the HTTP scenarios check the response
// around the stream (headers, errors, panics, POST, Last-Event-ID); the
// disconnect scenarios check that a client going away, or stalling, ends the
// stream, wakes the producer and leaves no goroutine behind.
func Scenarios() []Scenario {
	return []Scenario{
		// Wire format (scenarios_wire.go).
		danetExample(),
		ids(),
		retry(),
		namedEvents(),
		closeEvent(),
		keepOpenOnClose(),
		jsonObject(),
		bytesData(),
		rawJSONData(),
		multiline("multiline-lf", "\n"),
		multiline("multiline-cr", "\r"),
		multiline("multiline-crlf", "\r\n"),
		leadingSpaces(),
		emptyData(),
		trailingNewline(),
		unicodeData(),
		largePayload(),
		comments(),
		badInput(),
		// The stream loop through the adapter (scenarios_stream.go).
		heartbeat(),
		dispatchBeforeReturn(),
		flushPerEvent(),
		burst(),
		producersTakeTurns(),
		idlePastWriteTimeout(),
		shutdown(),
		// The HTTP response (scenarios_http.go).
		headers(),
		headersBeforeFirstEvent(),
		handlerError(),
		handlerErrorPlain(),
		handlerPanic(),
		lastEventID(),
		postStream(),
		// Production: failure paths and shutdown (scenarios_production.go).
		typedNilError(),
		refusedAfterShutdown(),
		onEndEveryRequest(),
		// Clients that leave or stall (scenarios_disconnect.go).
		clientDisconnect(),
		clientDisconnectIdle(),
		stalledReader(),
		producerAfterDisconnect(),
	}
}

// event returns the event a spec-exact client delivers.
func event(typ, data, id string) client.Event {
	return client.Event{Type: typ, Data: data, LastEventID: id}
}

// message returns an event of the default type, "message".
func message(data, id string) client.Event { return event("message", data, id) }

// send returns a Handler that dispatches msgs from a goroutine, as a producer
// would, and then closes the target. A message the target refuses is
// replaced by an "error" event carrying the error, so that the client sees
// what went wrong.
func send(msgs ...core.Message) Handler { return sendWith(nil, msgs...) }

// sendWith is send with target options.
func sendWith(opts []core.TargetOption, msgs ...core.Message) Handler {
	return func(Request) (core.EventTarget, error) {
		t := core.NewTarget(opts...)
		go func() {
			defer t.Close()
			dispatchAll(t, msgs)
		}()
		return t, nil
	}
}

// dispatchAll dispatches msgs on t, turning a refusal into an "error" event,
// and stops at the end of the stream.
func dispatchAll(t *core.Target, msgs []core.Message) {
	for _, m := range msgs {
		err := t.Dispatch(m)
		if err != nil && err != core.ErrClosed {
			err = t.Dispatch(core.Message{Event: "error", Data: "Dispatch refused a valid message: " + err.Error()})
		}
		if err != nil {
			return
		}
	}
}
