package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Image is one <img> of the page after it loaded.
type Image struct {
	// Src is the start of the image's URL (data URIs are long).
	Src    string `json:"src"`
	Loaded bool   `json:"loaded"`
	Width  int    `json:"width"`
}

// Result is what loading the page showed.
type Result struct {
	// Errors are console errors, uncaught exceptions, log entries of level
	// error and failed network loads, in the order they came.
	Errors []string
	Images []Image
	// Title is document.title.
	Title string
	// Screenshot is a PNG of the whole page.
	Screenshot []byte
}

// Options of Load; zero values mean the defaults.
type Options struct {
	// Width and Height are the viewport (default 1280 × 900).
	Width, Height int
}

// closeGrace is how long a browser asked to close may take before it is
// killed.
const closeGrace = 10 * time.Second

// ErrBrowser means the browser could not be started or stopped answering.
var ErrBrowser = fault.New(fault.Unavailable, "headless: browser failed")

// Load starts the browser at path, loads url in a new tab, waits for its
// load event, and returns the errors, the images and a screenshot. ctx
// bounds the whole visit; the browser is stopped before Load returns.
func Load(ctx context.Context, browser, url string, opts Options) (*Result, error) {
	res, err := LoadAll(ctx, browser, []string{url}, opts)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// LoadAll is Load of each url in turn, each in a new tab of one browser.
func LoadAll(ctx context.Context, browser string, urls []string, opts Options) ([]*Result, error) {
	url := strings.Join(urls, ", ")
	if opts.Width <= 0 {
		opts.Width = 1280
	}
	if opts.Height <= 0 {
		opts.Height = 900
	}
	profile, err := os.MkdirTemp("", "orrery-headless-")
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", url, err)
	}
	defer os.RemoveAll(profile)
	// fd 3: the browser reads commands; fd 4: it writes answers and events.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", url, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return nil, fmt.Errorf("load %s: %w", url, err)
	}
	cmd := exec.Command(browser, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--user-data-dir="+profile, fmt.Sprintf("--window-size=%d,%d", opts.Width, opts.Height), "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	var stderr strings.Builder
	cmd.Stderr = &limited{w: &stderr, n: 8 << 10}
	if err := cmd.Start(); err != nil {
		cmdR.Close()
		cmdW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("load %s: start %s: %v: %w", url, browser, err, ErrBrowser)
	}
	cmdR.Close()
	outW.Close()
	c := &client{w: cmdW, pending: map[int]chan message{}, events: make(chan message, 1024)}
	done := make(chan struct{})
	go func() { c.read(outR); close(done) }()
	stop := func() {
		// Ask the browser to close; one that does not within closeGrace
		// (or once ctx is done) is killed.
		grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeGrace)
		defer cancel()
		_ = c.send(grace, "", "Browser.close", nil, nil)
		cmdW.Close()
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-waited
		case <-grace.Done():
			_ = cmd.Process.Kill()
			<-waited
		}
		outR.Close()
		<-done
	}
	var out []*Result
	for _, u := range urls {
		res, err := c.visit(ctx, u, opts)
		if err != nil {
			stop()
			return nil, fmt.Errorf("load %s: %w (browser stderr: %s)", u, err, strings.TrimSpace(stderr.String()))
		}
		out = append(out, res)
	}
	stop()
	return out, nil
}

// message is one protocol message: an answer (ID set) or an event.
type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type client struct {
	mu      sync.Mutex
	w       io.Writer
	next    int
	pending map[int]chan message
	events  chan message
	closed  bool
}

// read dispatches the browser's messages until the pipe closes.
func (c *client) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		b, err := br.ReadBytes(0)
		if err != nil {
			break
		}
		var m message
		if json.Unmarshal(b[:len(b)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case c.events <- m:
		default: // a flood of events we do not read: drop
		}
	}
	c.mu.Lock()
	c.closed = true
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.events)
}

// send calls method (in session, when set) and decodes its result into
// out (nil: ignored).
func (c *client) send(ctx context.Context, session, method string, params, out any) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%s: the browser closed the pipe: %w", method, ErrBrowser)
	}
	c.next++
	id := c.next
	ch := make(chan message, 1)
	c.pending[id] = ch
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err == nil {
		_, err = c.w.Write(append(b, 0))
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %v: %w", method, err, ErrBrowser)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: the browser closed the pipe: %w", method, ErrBrowser)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// visit opens url in a new tab and gathers the result.
func (c *client) visit(ctx context.Context, url string, opts Options) (*Result, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.send(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.send(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	s := att.SessionID
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable", "Network.enable"} {
		if err := c.send(ctx, s, m, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := c.send(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": opts.Width, "height": opts.Height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return nil, err
	}
	res := &Result{}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := c.send(ctx, s, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("navigate: %s", nav.ErrorText)
	}
	if err := c.until(ctx, s, "Page.loadEventFired", res); err != nil {
		return nil, err
	}
	// Events that came with the load are in the queue; drain them.
	c.drain(s, res)
	var eval struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *json.RawMessage `json:"exceptionDetails"`
	}
	const script = `JSON.stringify({title: document.title, images: Array.from(document.images).map(i => ({src: i.src.slice(0, 48), loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth}))})`
	if err := c.send(ctx, s, "Runtime.evaluate", map[string]any{"expression": script, "returnByValue": true}, &eval); err != nil {
		return nil, err
	}
	if eval.ExceptionDetails != nil {
		return nil, fmt.Errorf("evaluate the page: %s", *eval.ExceptionDetails)
	}
	var str string
	if err := json.Unmarshal(eval.Result.Value, &str); err != nil {
		return nil, fmt.Errorf("evaluate the page: %w", err)
	}
	var page struct {
		Title  string  `json:"title"`
		Images []Image `json:"images"`
	}
	if err := json.Unmarshal([]byte(str), &page); err != nil {
		return nil, fmt.Errorf("evaluate the page: %w", err)
	}
	res.Title, res.Images = page.Title, page.Images
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.send(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	res.Screenshot = b
	c.drain(s, res)
	return res, nil
}

// until reads events until method arrives in session, recording errors.
func (c *client) until(ctx context.Context, session, method string, res *Result) error {
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				return fmt.Errorf("waiting for %s: the browser closed the pipe: %w", method, ErrBrowser)
			}
			if m.SessionID != session {
				continue
			}
			if m.Method == method {
				return nil
			}
			record(m, res)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

// drain records the queued events of session without waiting.
func (c *client) drain(session string, res *Result) {
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				return
			}
			if m.SessionID == session {
				record(m, res)
			}
		default:
			return
		}
	}
}

// record adds the error an event reports, if it reports one.
func record(m message, res *Result) {
	switch m.Method {
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(m.Params, &p)
		res.Errors = append(res.Errors, "exception: "+strings.TrimSpace(p.ExceptionDetails.Text+" "+p.ExceptionDetails.Exception.Description))
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if p.Type != "error" && p.Type != "assert" {
			return
		}
		var parts []string
		for _, a := range p.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		res.Errors = append(res.Errors, "console."+p.Type+": "+strings.Join(parts, " "))
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level, Text, URL string
			} `json:"entry"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if p.Entry.Level == "error" {
			res.Errors = append(res.Errors, "log: "+p.Entry.Text+" "+p.Entry.URL)
		}
	case "Network.loadingFailed":
		var p struct {
			ErrorText string `json:"errorText"`
			Canceled  bool   `json:"canceled"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if !p.Canceled {
			res.Errors = append(res.Errors, "load failed: "+p.ErrorText)
		}
	}
}

// limited writes at most n bytes to w and drops the rest.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}
