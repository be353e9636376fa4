package promsse

// Defaults for [Options].
const (
	DefaultNamespace = "ssekit"
	DefaultMaxTopics = 200
	// OtherTopic is the topic label of topics past Options.MaxTopics.
	OtherTopic = "_other"
)

// Options configures [New]. The zero value means the defaults.
type Options struct {
	// Namespace prefixes every metric name; empty means DefaultNamespace.
	Namespace string
	// Topic maps a broker topic to its label value, such as "room" for
	// every "room:<id>"; nil keeps the topic itself.
	Topic func(topic string) string
	// MaxTopics caps the distinct topic label values: topics mapped to a new value past it are
	// counted as OtherTopic. Zero means DefaultMaxTopics; negative means
	// no cap.
	MaxTopics int
	// Buckets are the buckets of the duration and wait histograms, in
	// seconds; nil means prometheus.DefBuckets.
	Buckets []float64
}
