module github.com/ssekit/ssekit/adapters/echo

go 1.26

require github.com/ssekit/ssekit v0.0.0

replace github.com/ssekit/ssekit => ../..
