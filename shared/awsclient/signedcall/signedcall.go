package signedcall

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxAttempts is how many times a call is sent when the service throttles
// it, answers 5xx or the connection fails, as the SDK's standard retryer
// does.
const MaxAttempts = 3

// maxAnswer is the most bytes of an answer read.
const maxAnswer = 8 << 20

// Client signs and sends requests to one service in one region. The zero
// Signer and HTTP are a new signer a request and http.DefaultClient.
type Client struct {
	// Service is the SigV4 signing name ("lambda", "states").
	Service     string
	Region      string
	Credentials aws.CredentialsProvider
	HTTP        *http.Client
	Signer      *v4.Signer
}

// Error is an error answer of the API: the HTTP status, the exception's
// name ("ResourceNotFoundException", "ExecutionAlreadyExists") and its
// message.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// PublicEndpoint is the service's public endpoint in region:
// https://<prefix>.<region>.amazonaws.com, with .cn in the China regions.
func PublicEndpoint(prefix, region string) string {
	ep := "https://" + prefix + "." + region + ".amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		ep += ".cn"
	}
	return ep
}

// Do sends method to url with header and body (nil: none), signed, and
// returns the answer's body; an error answer is an *Error. Throttling, 5xx
// answers and failed connections are retried (MaxAttempts in all);
// cancelling ctx stops the waits between attempts.
func (c *Client) Do(ctx context.Context, method, url string, header http.Header, body []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		answer, retry, err := c.send(ctx, method, url, header, body)
		if err == nil {
			return answer, nil
		}
		if !retry || attempt == MaxAttempts || ctx.Err() != nil || wait(ctx, attempt) != nil {
			return nil, err
		}
	}
}

// send makes one attempt; retry says whether another may succeed.
func (c *Client) send(ctx context.Context, method, url string, header http.Header, body []byte) (answer []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.Credentials == nil {
		return nil, false, errors.New("no credentials")
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("retrieve credentials: %w", err)
	}
	signer := c.Signer
	if signer == nil {
		signer = v4.NewSigner()
	}
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.Service, c.Region, time.Now()); err != nil {
		return nil, false, fmt.Errorf("sign: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, true, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := apiError(resp, answer)
		return nil, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || strings.Contains(e.Code, "Throttl"), e
	}
	return answer, false, nil
}

// apiError reads a refusal: the exception's name from X-Amzn-ErrorType
// (before any ':'), else the body's __type or code (after any '#'); the
// message from the body's Message or message. (A body's Type is the
// fault's side, "User" or "Service", not the exception.)
func apiError(resp *http.Response, body []byte) *Error {
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := fields[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	if code == "" {
		code = str("__type", "code")
	}
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	msg := str("Message", "message")
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	return &Error{Status: resp.StatusCode, Code: code, Message: msg}
}

// wait sleeps before attempt+1: a random time up to 50 ms × 2^attempt, as
// the SDK's exponential backoff with full jitter.
func wait(ctx context.Context, attempt int) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	max := time.Duration(50<<attempt) * time.Millisecond
	d := time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(max))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
