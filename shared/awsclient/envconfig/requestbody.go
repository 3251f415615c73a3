package envconfig

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// withoutWriterTo is the middleware Load and awsclient.Load add to every operation. It hides
// io.WriterTo on the request stream (the serialized body), so that a request
// is never sent twice when the service answered it once.
//
// Why: the SDK wraps the stream in a reader that, once closed, answers
// WriteTo with io.EOF, and it closes that reader as soon as the response
// headers have arrived. net/http's Transport, after it has written a body of
// known length, reads the body once more to check that nothing is left
// (transferWriter.writeBody); when the body implements WriterTo, that check
// calls WriteTo. If the response arrives between the last byte written and
// that check (a fast server, a busy client: moto on a loaded machine does it
// every few hundred requests), the check gets io.EOF, the Transport takes it
// for a write error and closes the connection, the SDK's read of the response
// body fails with "use of closed network connection", and the standard
// retryer sends the request again although the service has applied it: a
// conditional put then reports its own first attempt as a conflict, and a
// ReceiveMessage loses the messages its first attempt received. Without
// WriteTo the check reads through Read, which answers a closed body with a
// plain end of stream.
type withoutWriterTo struct{}

// withoutWriterToID names the middleware in the stack.
const withoutWriterToID = "OrreryRequestStreamWithoutWriterTo"

func (withoutWriterTo) ID() string { return withoutWriterToID }

func (withoutWriterTo) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleFinalize(ctx, in)
	}
	stream := req.GetStream()
	if _, writerTo := stream.(io.WriterTo); !writerTo {
		return next.HandleFinalize(ctx, in)
	}
	var hidden io.Reader = readOnly{stream}
	if rs, seekable := stream.(io.ReadSeeker); seekable {
		hidden = readSeekOnly{rs}
	}
	length := req.ContentLength
	out, err := req.SetStream(hidden)
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("hide WriteTo of the request stream: %w", err)
	}
	// SetStream measures a seekable stream from where it stands, which is
	// where the signer left it; the length already sent in the headers stays.
	out.ContentLength = length
	in.Request = out
	return next.HandleFinalize(ctx, in)
}

// readOnly and readSeekOnly expose only Read (and Seek) of what they wrap.
type readOnly struct{ r io.Reader }

func (r readOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

type readSeekOnly struct{ rs io.ReadSeeker }

func (r readSeekOnly) Read(p []byte) (int, error) { return r.rs.Read(p) }
func (r readSeekOnly) Seek(offset int64, whence int) (int64, error) {
	return r.rs.Seek(offset, whence)
}

// AddWithoutWriterTo puts withoutWriterTo (an aws.Config APIOptions entry) last in the finalize step, after
// the retry, checksum and signing middlewares have settled the stream of an
// attempt.
func AddWithoutWriterTo(stack *middleware.Stack) error {
	return stack.Finalize.Add(withoutWriterTo{}, middleware.After)
}
