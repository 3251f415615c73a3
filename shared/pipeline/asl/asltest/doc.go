// Package asltest gives tests of state machines a fake clock for the ASL
// engine: Clock.AfterFunc is an asl.Executor's AfterFunc, and time moves
// only when the test calls Advance, so Wait states, task timeouts and
// heartbeats are tested without waiting.
//
// It is a test helper. Only test files may import
// shared/pipeline/asl/asltest. It imports nothing but the standard library.
package asltest
