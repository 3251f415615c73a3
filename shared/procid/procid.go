package procid

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/orrery-ml/orrery/shared/fault"
)

// prefix starts every ID's text, so IDs are told apart from other worker
// names (a Batch job id, "step").
const prefix = "local:"

// ID names one process on one boot of this machine.
type ID struct {
	Boot  string // /proc/sys/kernel/random/boot_id ("" where unknown)
	PID   int
	Start uint64 // start time in clock ticks after boot (0 where unknown)
}

// ErrNotAnID is returned by Parse for text that String did not write.
var ErrNotAnID = fault.New(fault.Invalid, "procid: not a process id")

var (
	selfOnce sync.Once
	self     ID
)

// Self returns this process's ID.
func Self() ID {
	selfOnce.Do(func() {
		pid := os.Getpid()
		self = ID{Boot: bootID(), PID: pid, Start: startTime(pid)}
	})
	return self
}

// String renders the ID as "local:<boot>:<pid>:<start>".
func (id ID) String() string {
	return prefix + id.Boot + ":" + strconv.Itoa(id.PID) + ":" + strconv.FormatUint(id.Start, 10)
}

// Parse reads what String wrote. Text of another form is ErrNotAnID.
func Parse(s string) (ID, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return ID{}, fmt.Errorf("%w: %q", ErrNotAnID, s)
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return ID{}, fmt.Errorf("%w: %q", ErrNotAnID, s)
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return ID{}, fmt.Errorf("%w: %q: bad pid", ErrNotAnID, s)
	}
	start, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return ID{}, fmt.Errorf("%w: %q: bad start time", ErrNotAnID, s)
	}
	return ID{Boot: parts[0], PID: pid, Start: start}, nil
}

// Alive reports whether the process id names is still running: false when
// the machine has rebooted since, when no process has its pid, or when the
// process with its pid started at another time (the pid was reused). Where
// the boot id or start time cannot be read, the pid alone decides.
func Alive(id ID) bool {
	if id.Boot != "" {
		if boot := bootID(); boot != "" && boot != id.Boot {
			return false
		}
	}
	if id.PID == os.Getpid() {
		return id.Start == 0 || id.Start == Self().Start
	}
	if !pidExists(id.PID) {
		return false
	}
	state, start := stat(id.PID)
	if state == 'Z' || state == 'X' {
		return false // exited; only its parent has not reaped it yet
	}
	if id.Start != 0 && start != 0 && start != id.Start {
		return false
	}
	return true
}

// Gone reports whether s is an ID (String's text) of a process that is no
// longer alive. Any other text — a worker name that is not a process of
// this machine — is not known to be gone: false.
func Gone(s string) bool {
	id, err := Parse(s)
	if err != nil {
		return false
	}
	return !Alive(id)
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// startTime is the start time of stat.
func startTime(pid int) uint64 {
	_, start := stat(pid)
	return start
}

// stat reads fields 3 (state) and 22 (starttime) of /proc/<pid>/stat; 0
// where it cannot. The command name (field 2) is in parentheses and may
// hold spaces or parentheses itself, so fields are counted after its last
// ')'.
func stat(pid int) (state byte, start uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return fields[0][0], 0
	}
	return fields[0][0], v
}

// pidExists reports whether a process has the pid: signal 0 checks without
// sending anything (EPERM means it exists but belongs to someone else).
func pidExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
