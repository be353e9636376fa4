// Package faults holds the fault-and-abuse tests of ssekit (the README's "In production" section):
// slowloris clients, thousands of abrupt disconnects, producers far faster
// than a stalled client, slow broker subscribers, garbage Last-Event-ID values
// and topic names, and a Redis server killed and restarted mid-stream. Each
// test bounds memory, goroutines and time, and checks that nothing is lost for
// a client that resumes with Last-Event-ID.
package faults
