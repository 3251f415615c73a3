package procid_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/procid"
)

func TestSelfIsAliveAndRoundTrips(t *testing.T) {
	me := procid.Self()
	require.NotZero(t, me.PID)
	assert.True(t, procid.Alive(me))
	got, err := procid.Parse(me.String())
	require.NoError(t, err)
	assert.Equal(t, me, got)
	assert.False(t, procid.Gone(me.String()))
}

func TestAFinishedProcessIsGone(t *testing.T) {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := procid.ID{Boot: procid.Self().Boot, PID: cmd.Process.Pid, Start: 1}
	assert.False(t, procid.Alive(dead))
	assert.True(t, procid.Gone(dead.String()))
}

func TestAnUnreapedProcessIsGone(t *testing.T) {
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	// Until Wait reaps it, the exited process is a zombie that still has a
	// pid and a /proc entry.
	pid := cmd.Process.Pid
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err == nil && strings.Contains(string(b), ") Z ")
	}, time.Minute, 10*time.Millisecond, "the exited child becomes a zombie")
	assert.False(t, procid.Alive(procid.ID{Boot: procid.Self().Boot, PID: pid}))
	require.NoError(t, cmd.Wait())
}

func TestReusedPIDOrOtherBootIsGone(t *testing.T) {
	me := procid.Self()
	if me.Start == 0 || me.Boot == "" {
		t.Skip("no /proc start times or boot id on this system")
	}
	assert.False(t, procid.Alive(procid.ID{Boot: me.Boot, PID: me.PID, Start: me.Start + 1}), "same pid, other start time")
	assert.False(t, procid.Alive(procid.ID{Boot: "another-boot", PID: me.PID, Start: me.Start}), "same pid, other boot")
}

func TestParseRefusesOtherNames(t *testing.T) {
	for _, s := range []string{"", "step", "trainer-12", "local:b:0:1", "local:b:x:1", "local:b:12", "local:b:12:x"} {
		_, err := procid.Parse(s)
		assert.ErrorIs(t, err, procid.ErrNotAnID, s)
		assert.False(t, procid.Gone(s), "a name that is not a process id is never taken for a dead one: %q", s)
	}
}
