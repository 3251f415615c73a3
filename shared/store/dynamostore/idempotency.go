package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

const (
	idempotencyPrefix = "IDEMPOTENCY#"
	idempotencySK     = "IDEMPOTENCY"
)

// reserveAttempts bounds the put-or-read loop of ReserveIdempotencyKey: a
// record can vanish between the refused put and the read (released by its
// owner), and the put is then tried again.
const reserveAttempts = 4

var _ store.IdempotencyStore = (*Store)(nil)

// ttlSeconds is the value of the table's TTL attribute for an expiry: Unix
// seconds, rounded up, so DynamoDB never deletes a record early. (TTL
// deletion is lazy, so expiry itself is decided by expires_ns.)
func ttlSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// ReserveIdempotencyKey stores rec as in flight unless a live record holds
// its key (see store.IdempotencyStore), with one PutItem conditioned on the
// key being free or its record expired (expires_ns not after rec.CreatedAt),
// so of concurrent reservations exactly one wins. The item is
// IDEMPOTENCY#<key> / IDEMPOTENCY in the idempotency table; status_code 0
// marks a request in flight.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord) (store.IdempotencyRecord, bool, error) {
	tbl, err := table("idempotency", s.tables.Idempotency)
	if err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: %w", rec.Key, err)
	}
	if err := store.CheckIdempotencyKey(rec.Key, rec.RequestHash); err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = s.now()
	}
	if !rec.ExpiresAt.After(rec.CreatedAt) {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: expires_at %s is not after created_at %s: %w",
			rec.Key, formatTime(rec.ExpiresAt), formatTime(rec.CreatedAt), store.ErrInvalid)
	}
	rec.Response = nil
	it := key(idempotencyPrefix+rec.Key, idempotencySK)
	it["key"] = str(rec.Key)
	it["request_hash"] = str(rec.RequestHash)
	it["status_code"] = num(0)
	it["created_at"] = str(formatTime(rec.CreatedAt))
	it["expires_time"] = str(formatTime(rec.ExpiresAt))
	it["expires_ns"] = num(rec.ExpiresAt.UnixNano())
	it[attrExpires] = num(ttlSeconds(rec.ExpiresAt))
	for range reserveAttempts {
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(tbl),
			Item:                      it,
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": "expires_ns"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(rec.CreatedAt.UnixNano())},
		})
		if err == nil {
			return rec, true, nil
		}
		if !conditionFailed(err) {
			return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: %w", rec.Key, err)
		}
		held, err := s.getIdempotencyRecord(ctx, tbl, rec.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // released between the two requests: try again
		}
		if err != nil {
			return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: %w", rec.Key, err)
		}
		return held, false, nil
	}
	return store.IdempotencyRecord{}, false, fmt.Errorf("reserve idempotency key %q: record keeps changing: %w", rec.Key, store.ErrConflict)
}

// getIdempotencyRecord reads one record; store.ErrNotFound if it is absent.
func (s *Store) getIdempotencyRecord(ctx context.Context, tbl, k string) (store.IdempotencyRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(tbl),
		Key:            key(idempotencyPrefix+k, idempotencySK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q: %w", k, err)
	}
	if len(out.Item) == 0 {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q: %w", k, store.ErrNotFound)
	}
	it := item{m: out.Item}
	rec := store.IdempotencyRecord{
		Key:         it.str("key"),
		RequestHash: it.str("request_hash"),
		CreatedAt:   it.time("created_at"),
		ExpiresAt:   it.time("expires_time"),
	}
	if status := it.int("status_code"); status != 0 {
		resp := &store.IdempotentResponse{StatusCode: int(status), Body: []byte{}}
		if b, ok := out.Item["body"].(*types.AttributeValueMemberB); ok {
			resp.Body = b.Value
		}
		if h := it.str("header"); h != "" {
			if err := json.Unmarshal([]byte(h), &resp.Header); err != nil {
				return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q header: %w", k, err)
			}
		}
		rec.Response = resp
	}
	if it.err != nil {
		return store.IdempotencyRecord{}, fmt.Errorf("idempotency key %q: %w", k, it.err)
	}
	return rec, nil
}

// CompleteIdempotencyKey stores the answer of an in-flight record (see
// store.IdempotencyStore) with one UpdateItem conditioned on the record being
// in flight and of that request hash.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, k, requestHash string, resp store.IdempotentResponse, expiresAt time.Time) error {
	tbl, err := table("idempotency", s.tables.Idempotency)
	if err != nil {
		return fmt.Errorf("complete idempotency key %q: %w", k, err)
	}
	if err := store.CheckIdempotencyKey(k, requestHash); err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("complete idempotency key %q: status code %d: %w", k, resp.StatusCode, store.ErrInvalid)
	}
	if len(resp.Body) > store.MaxIdempotentBodyBytes {
		return fmt.Errorf("complete idempotency key %q: body of %d bytes is larger than %d: %w",
			k, len(resp.Body), store.MaxIdempotentBodyBytes, store.ErrInvalid)
	}
	if expiresAt.IsZero() {
		return fmt.Errorf("complete idempotency key %q: zero expires_at: %w", k, store.ErrInvalid)
	}
	values := map[string]types.AttributeValue{
		":status": num(int64(resp.StatusCode)),
		":body":   &types.AttributeValueMemberB{Value: append([]byte{}, resp.Body...)},
		":time":   str(formatTime(expiresAt)),
		":ns":     num(expiresAt.UnixNano()),
		":ttl":    num(ttlSeconds(expiresAt)),
		":hash":   str(requestHash),
		":zero":   num(0),
		":header": str(""),
	}
	if len(resp.Header) > 0 {
		b, err := json.Marshal(resp.Header)
		if err != nil {
			return fmt.Errorf("complete idempotency key %q: encode header: %w", k, err)
		}
		values[":header"] = str(string(b))
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(tbl),
		Key:       key(idempotencyPrefix+k, idempotencySK),
		UpdateExpression: aws.String("SET #status = :status, #body = :body, #header = :header, " +
			"#time = :time, #ns = :ns, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #hash = :hash AND #status = :zero"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#status": "status_code", "#body": "body",
			"#header": "header", "#time": "expires_time", "#ns": "expires_ns", "#ttl": attrExpires, "#hash": "request_hash"},
		ExpressionAttributeValues: values,
	})
	if err == nil {
		return nil
	}
	if !conditionFailed(err) {
		return fmt.Errorf("complete idempotency key %q: %w", k, err)
	}
	held, err := s.getIdempotencyRecord(ctx, tbl, k)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if held.RequestHash != requestHash {
		return fmt.Errorf("complete idempotency key %q: held by another request: %w", k, store.ErrConflict)
	}
	return fmt.Errorf("complete idempotency key %q: already complete: %w", k, store.ErrConflict)
}

// ReleaseIdempotencyKey deletes an in-flight record of that request hash
// (see store.IdempotencyStore); a record that is missing, complete or of
// another request is left as it is.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, k, requestHash string) error {
	tbl, err := table("idempotency", s.tables.Idempotency)
	if err != nil {
		return fmt.Errorf("release idempotency key %q: %w", k, err)
	}
	if err := store.CheckIdempotencyKey(k, requestHash); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(tbl),
		Key:                       key(idempotencyPrefix+k, idempotencySK),
		ConditionExpression:       aws.String("#hash = :hash AND #status = :zero"),
		ExpressionAttributeNames:  map[string]string{"#hash": "request_hash", "#status": "status_code"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":hash": str(requestHash), ":zero": num(0)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("release idempotency key %q: %w", k, err)
	}
	return nil
}
