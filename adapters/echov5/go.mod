module github.com/ssekit/ssekit/adapters/echov5

go 1.26

require (
	github.com/labstack/echo/v5 v5.4.4
	github.com/ssekit/ssekit v0.0.0
	go.uber.org/goleak v1.3.0
)

require golang.org/x/time v0.15.0 // indirect

replace github.com/ssekit/ssekit => ../..
