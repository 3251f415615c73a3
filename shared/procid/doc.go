// Package procid names a process on this machine so that another process
// can tell, later, whether it is still alive: the owner of a local
// execution or of an optimization trial's lease. An ID is the machine's
// boot id, the process id and the process's start time (in clock ticks
// since boot, from /proc/<pid>/stat), so a pid reused after a reboot or by a
// later process is not mistaken for the original.
//
// It imports nothing of this module but shared/fault.
package procid
