module github.com/ssekit/ssekit/examples/danet/fiber

go 1.26.0

require (
	github.com/gofiber/fiber/v2 v2.52.15
	github.com/ssekit/ssekit v0.0.0
	github.com/ssekit/ssekit/adapters/fiber v0.0.0
	github.com/ssekit/ssekit/examples/danet v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/mattn/go-colorable v0.1.13 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mattn/go-runewidth v0.0.16 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/rivo/uniseg v0.2.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.78.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace (
	github.com/ssekit/ssekit => ../../..
	github.com/ssekit/ssekit/adapters/fiber => ../../../adapters/fiber
	github.com/ssekit/ssekit/examples/danet => ..
)
