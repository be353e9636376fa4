module github.com/ssekit/ssekit

go 1.26
