package broker

import (
	"context"
	"log/slog"
)

// LogObserver returns an Observer that logs the broker's faults through l,
// as structured records: the backend's feed failing ("sse broker feed
// failed", Error) and recovering ("sse broker feed recovered", Info),
// subscribers disconnected or dropping events as too slow ("sse slow
// subscribers", Warn, with the topic and their number) and failed
// publishes ("sse publish failed", Warn). Subscriptions and replays are
// logged at Debug. Combine it with metrics through [Observers].
func LogObserver(l *slog.Logger) Observer { return logObserver{l} }

// logObserver is the Observer of LogObserver.
type logObserver struct{ l *slog.Logger }

var bg = context.Background()

func (o logObserver) Subscribed(topic string, n int) {
	o.l.LogAttrs(bg, slog.LevelDebug, "sse subscribed", slog.String("topic", topic), slog.Int("subscribers", n))
}

func (o logObserver) Unsubscribed(topic string, n int) {
	o.l.LogAttrs(bg, slog.LevelDebug, "sse unsubscribed", slog.String("topic", topic), slog.Int("subscribers", n))
}

func (o logObserver) Published(topic string, err error) {
	if err != nil {
		o.l.LogAttrs(bg, slog.LevelWarn, "sse publish failed", slog.String("topic", topic), slog.String("error", err.Error()))
	}
}

func (o logObserver) Delivered(topic string, delivered, dropped int) {
	if dropped > 0 {
		o.l.LogAttrs(bg, slog.LevelWarn, "sse slow subscribers", slog.String("topic", topic),
			slog.Int("dropped", dropped), slog.Int("delivered", delivered))
	}
}

func (o logObserver) Replayed(events int, reset bool) {
	o.l.LogAttrs(bg, slog.LevelDebug, "sse replayed", slog.Int("events", events), slog.Bool("reset", reset))
}

func (o logObserver) FeedFailed(err error) {
	o.l.LogAttrs(bg, slog.LevelError, "sse broker feed failed", slog.String("error", err.Error()))
}

func (o logObserver) FeedRecovered() {
	o.l.LogAttrs(bg, slog.LevelInfo, "sse broker feed recovered")
}
