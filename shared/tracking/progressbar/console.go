package progressbar

import (
	"bytes"
	"io"
	"sync"
)

// lockedWriter serialises writes to the output shared by the renderer and
// the lines Bars prints itself.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// plainConsole is the mpb.ConsoleWriter used off a terminal: each render is
// written out as plain lines, with no cursor movement, and reported on
// flushed so that Bars can wait for the render it asked for.
type plainConsole struct {
	bytes.Buffer // filled by mpb's renderer goroutine only
	out          io.Writer
	flushed      chan struct{}
}

func newPlainConsole(out io.Writer) *plainConsole {
	return &plainConsole{out: out, flushed: make(chan struct{}, 1)}
}

// IsTerminal reports false: plainConsole never moves the cursor.
func (c *plainConsole) IsTerminal() bool { return false }

// GetTermSize is not called for a console that is not a terminal; it reports
// the fixed width used instead.
func (c *plainConsole) GetTermSize() (width, height int, err error) {
	return plainWidth, plainWidth*3/2 + 1, nil
}

// Flush writes the rendered lines, without trailing blanks, to the output
// and signals flushed.
func (c *plainConsole) Flush(int) error {
	var err error
	if c.Len() > 0 {
		lines := bytes.SplitAfter(c.Bytes(), []byte("\n"))
		var out bytes.Buffer
		for _, line := range lines {
			body, nl := bytes.CutSuffix(line, []byte("\n"))
			out.Write(bytes.TrimRight(body, " "))
			if nl {
				out.WriteByte('\n')
			}
		}
		c.Reset()
		_, err = c.out.Write(out.Bytes())
	}
	select {
	case c.flushed <- struct{}{}:
	default:
	}
	return err
}
