module github.com/ssekit/ssekit/examples/chat/echo

go 1.26.0

require (
	github.com/labstack/echo/v4 v4.16.0
	github.com/ssekit/ssekit v0.0.0
	github.com/ssekit/ssekit/adapters/echo v0.0.0
	github.com/ssekit/ssekit/examples/chat v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/ssekit/ssekit/broker/redis v0.0.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.2 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.53.0 // indirect
	golang.org/x/net v0.56.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.40.0 // indirect
)

replace (
	github.com/ssekit/ssekit => ../../..
	github.com/ssekit/ssekit/adapters/echo => ../../../adapters/echo
	github.com/ssekit/ssekit/broker/redis => ../../../broker/redis
	github.com/ssekit/ssekit/examples/chat => ..
)
