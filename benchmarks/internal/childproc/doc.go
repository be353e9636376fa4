// Package childproc is how the benchmark commands that run in several
// processes (cmd/fanout, cmd/cluster) start their children and talk to them.
//
// A child is the same executable started again with a role in its
// arguments and an environment variable set (so that a test binary runs
// the role instead of the tests). The parent writes one JSON request per
// line on the child's stdin; the child answers each with one JSON reply
// line on its stdout; progress goes to stderr. Every request has an "op"
// field naming its operation ("quit" ends the child) and every reply an
// "error" field, empty on success; the rest is each command's own.
package childproc
