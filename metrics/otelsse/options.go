package otelsse

// Defaults for [Options].
const (
	DefaultMaxTopics = 200
	// OtherTopic is the topic attribute of topics past Options.MaxTopics.
	OtherTopic = "_other"
)

// Options configures [New]. The zero value means the defaults.
type Options struct {
	// Topic maps a broker topic to its attribute value, such as "room" for
	// every "room:<id>"; nil keeps the topic itself.
	Topic func(topic string) string
	// MaxTopics caps the distinct topic attribute values: topics mapped to a new value past it are
	// counted as OtherTopic. Zero means DefaultMaxTopics; negative means
	// no cap.
	MaxTopics int
}
