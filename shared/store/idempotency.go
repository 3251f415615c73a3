package store

import (
	"context"
	"time"
)

// Limits every IdempotencyStore adapter enforces, so that a record that fits
// one adapter fits all of them (a DynamoDB item holds at most 400 KB).
const (
	// MaxIdempotencyKeyBytes is the longest key an adapter accepts.
	MaxIdempotencyKeyBytes = 512
	// MaxIdempotentBodyBytes is the largest response body an adapter keeps.
	MaxIdempotentBodyBytes = 256 << 10
)

// IdempotencyRecord remembers a request sent with an Idempotency-Key header
// (IETF draft-ietf-httpapi-idempotency-key-header) and, once it has one, the
// answer it got, so that a retry of the same request gets the same answer and
// never starts a second job.
type IdempotencyRecord struct {
	// Key identifies the request: the client's Idempotency-Key, scoped by the
	// caller (for example prefixed with the route).
	Key string `json:"key"`
	// RequestHash fingerprints the request (method, path, body): a key reused
	// for a different request is refused by the caller, not replayed.
	RequestHash string `json:"request_hash"`
	// Response is nil while the first request is still in flight.
	Response *IdempotentResponse `json:"response,omitempty"`
	// CreatedAt is when the record was reserved; a zero value is set to the
	// current time. It is also "now" for the expiry check in
	// ReserveIdempotencyKey.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key becomes free again. While the request is in
	// flight it is a short lease (so a caller that crashed does not block the
	// key for ever); CompleteIdempotencyKey extends it to the retention time.
	ExpiresAt time.Time `json:"expires_at"`
}

// IdempotentResponse is the answer replayed to retries.
type IdempotentResponse struct {
	// StatusCode is the HTTP status, in [100, 599].
	StatusCode int `json:"status_code"`
	// Header holds the response headers worth replaying (Content-Type,
	// Location), one value each.
	Header map[string]string `json:"header,omitempty"`
	// Body is the response body, at most MaxIdempotentBodyBytes.
	Body []byte `json:"body,omitempty"`
}

// IdempotencyStore keeps idempotency records: the HTTP API reserves a key
// before doing the work, then stores the answer, or releases the key when the
// work failed in a way worth retrying.
//
// Rules every adapter follows (storetest.TestIdempotencyStore checks them):
// an empty key or request hash, a key longer than MaxIdempotencyKeyBytes, a
// zero ExpiresAt or one not after CreatedAt, a status code outside [100, 599]
// and a body over MaxIdempotentBodyBytes are ErrInvalid; each call is one
// conditional write, so of several concurrent reservations of a free key
// exactly one wins.
type IdempotencyStore interface {
	// ReserveIdempotencyKey stores rec as in flight (its Response is ignored)
	// when no record holds rec.Key, or when the one that does has expired
	// (its ExpiresAt is not after rec.CreatedAt), and returns (rec, true).
	// Otherwise it changes nothing and returns the stored record and false:
	// the caller replays its Response, or answers "in progress" when it has
	// none.
	ReserveIdempotencyKey(ctx context.Context, rec IdempotencyRecord) (IdempotencyRecord, bool, error)
	// CompleteIdempotencyKey stores the answer of the in-flight record with
	// that key and request hash and sets its ExpiresAt. Returns ErrNotFound
	// if no record holds the key, ErrConflict if the record is already
	// complete or belongs to another request hash.
	CompleteIdempotencyKey(ctx context.Context, key, requestHash string, resp IdempotentResponse, expiresAt time.Time) error
	// ReleaseIdempotencyKey deletes the in-flight record with that key and
	// request hash, so that a retry runs the request again. A missing record,
	// a complete one or one of another request hash is left as it is and is
	// not an error.
	ReleaseIdempotencyKey(ctx context.Context, key, requestHash string) error
}
