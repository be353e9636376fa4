module github.com/ssekit/ssekit/examples/danet

go 1.26.0

require (
	github.com/ssekit/ssekit v0.0.0
	go.uber.org/goleak v1.3.0
)

replace github.com/ssekit/ssekit => ../..
