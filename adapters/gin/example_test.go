package ginsse_test

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	ginsse "github.com/ssekit/ssekit/adapters/gin"
	"github.com/ssekit/ssekit/core"
)

// The Danet-style route: the handler returns a target at once and a goroutine
// dispatches four "hello" events, then a "close" event that ends the response.
// A handler error (here, a missing token) answers 401 through Gin instead.
func ExampleHandle() {
	r := gin.Default()
	r.GET("/sse", ginsse.Handle(func(c *gin.Context) (core.EventTarget, error) {
		if c.Query("token") == "" {
			return nil, core.Error(http.StatusUnauthorized, "missing token")
		}
		t := core.NewTarget()
		go func() {
			defer t.Close()
			for id := 0; id < 4; id++ {
				if t.Dispatch(core.Message{ID: strconv.Itoa(id), Event: "hello", Data: "world", Retry: time.Second}) != nil {
					return // the client left: stop producing
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Dispatch(core.Message{ID: "4", Event: "close", Data: "close", Retry: time.Second})
		}()
		return t, nil
	}))
	_ = r.Run("localhost:8080")
}
