package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/ssekit/ssekit/examples/chat"
	"github.com/ssekit/ssekit/examples/chat/chattest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestChat runs the chat's tests on net/http.
func TestChat(t *testing.T) { chattest.Run(t, chat.NetHTTP) }
