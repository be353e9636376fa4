package adapter

import (
	"net/http"

	"github.com/ssekit/ssekit/core"
	"github.com/ssekit/ssekit/internal/hook"
)

// Observed reports whether o has a core.Observer: only then does an adapter
// need to [Describe] its requests.
func Observed(o core.Options) bool { return o.Observer != nil }

// Describe records what an adapter knows of a request in o, for its
// core.Observer ([core.StreamInfo]); call it, on the copy of the options
// used for this request, before [CallHandler] when [Observed] reports true.
// o.Route, when the user set it, takes precedence over info.Route. Strings
// that alias a buffer the framework reuses (Fiber's) must be copied first.
func Describe(o *core.Options, info core.StreamInfo) { hook.Describe(o, &info) }

// RequestID returns the request id of a net/http request for
// [core.StreamInfo.RequestID]: the X-Request-ID response header, which
// request-id middlewares (Gin's, Echo's, chi's) set before the handler, else
// the X-Request-ID request header, else "".
func RequestID(respHeader, reqHeader http.Header) string {
	if id := respHeader.Get(RequestIDHeader); id != "" {
		return id
	}
	return reqHeader.Get(RequestIDHeader)
}

// RequestIDHeader is the header [RequestID] reads.
const RequestIDHeader = "X-Request-ID"
