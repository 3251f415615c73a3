// Package team is the worker pool of the nn engine's parallel training
// steps: a fixed set of goroutines, started once, that each Run wakes to
// execute one part of a Task while the caller executes part 0, returning
// when every part is done (a fork-join). A Run allocates nothing and
// starts no goroutine.
//
// The steps it serves are short (tens of microseconds to milliseconds),
// so a goroutine's wake-up through the scheduler would cost as much as
// the work: a waiting worker, and a caller waiting for the parts, first
// spins on an atomic word for a bounded time (Team.Spin) and only then
// parks on a channel. The hand-off between a spinning side and a parking
// side is the flag-then-recheck protocol of a futex-based event (Drepper,
// "Futexes Are Tricky", 2011, §6): the waiter publishes that it parks and
// re-reads the word; the waker advances the word and then takes the flag,
// so exactly one of the two sees the other and no wake-up is lost.
//
// It imports nothing of this module.
package team
