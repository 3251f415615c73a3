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

// The tracking mirror's outbox (store.TrackingOutbox) lives in the tracking
// table (Tables.Tracking; infra/stacks points it at the jobs table):
//
//	pk                 sk                      attributes
//	TRACKING#OUTBOX    ENTRY#<seq, 19 digits>  seq subject kind payload attempts last_error
//	                                           not_before_ns dead created_at
//	TRACKING#SEQ       COUNTER                 next (the last seq handed out)
//	TRACKING#REF#<key> REF                     value
//
// Every entry shares one partition, so PendingTracking is one Query in seq
// order (the sort key is the seq, zero-padded). That partition takes every
// append and ack — DynamoDB serves 1,000 writes a second per partition, far
// more than the few entries a job queues on AWS (its end, an alias move).
// Seqs come from an atomic ADD on the counter item, so two appenders never
// share one; an append takes a block of them and then writes its entries in
// one TransactWriteItems call (all or none). A failed append leaves a gap,
// which the outbox allows.
const (
	trackingOutboxPK = "TRACKING#OUTBOX"
	trackingEntrySK  = "ENTRY#"
	trackingSeqPK    = "TRACKING#SEQ"
	trackingSeqSK    = "COUNTER"
	trackingRefPK    = "TRACKING#REF#"
	trackingRefSK    = "REF"
)

var _ store.TrackingOutbox = (*Store)(nil)

func trackingSK(seq int64) string { return fmt.Sprintf("%s%019d", trackingEntrySK, seq) }

// AppendTracking stores the entries in one transaction; see
// store.TrackingOutbox. At most 100 entries (DynamoDB's limit of one
// transaction) may be appended at once: more is store.ErrInvalid.
func (s *Store) AppendTracking(ctx context.Context, entries ...store.TrackingEntry) error {
	tbl, err := table("tracking", s.tables.Tracking)
	if err != nil {
		return fmt.Errorf("append tracking entries: %w", err)
	}
	for i, e := range entries {
		if e.Subject == "" || e.Kind == "" || !json.Valid(e.Payload) {
			return fmt.Errorf("append tracking entry %d (subject %q, kind %q): subject, kind and a JSON payload are required: %w",
				i, e.Subject, e.Kind, store.ErrInvalid)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	if len(entries) > maxTransactItems {
		return fmt.Errorf("append %d tracking entries: at most %d at once: %w", len(entries), maxTransactItems, store.ErrInvalid)
	}
	c, err := s.studyClient()
	if err != nil {
		return fmt.Errorf("append tracking entries: %w", err)
	}
	out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(tbl),
		Key:                       key(trackingSeqPK, trackingSeqSK),
		UpdateExpression:          aws.String("ADD #next :n"),
		ExpressionAttributeNames:  map[string]string{"#next": "next"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(int64(len(entries)))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return fmt.Errorf("append tracking entries: take %d seqs: %w", len(entries), err)
	}
	it := &item{m: out.Attributes}
	last := it.int("next")
	if it.err != nil {
		return fmt.Errorf("append tracking entries: seq counter: %w", it.err)
	}
	first := last - int64(len(entries)) + 1
	now := s.now()
	actions := make([]types.TransactWriteItem, 0, len(entries))
	for i, e := range entries {
		seq := first + int64(i)
		created := e.CreatedAt
		if created.IsZero() {
			created = now
		}
		m := key(trackingOutboxPK, trackingSK(seq))
		m["seq"] = num(seq)
		m["subject"] = str(e.Subject)
		m["kind"] = str(e.Kind)
		m["payload"] = str(string(e.Payload))
		m["attempts"] = num(0)
		m["not_before_ns"] = num(0)
		m["dead"] = boolean(false)
		m["created_at"] = str(formatTime(created))
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(tbl), Item: m}})
	}
	if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions}); err != nil {
		return fmt.Errorf("append tracking entries %d..%d: %w", first, last, err)
	}
	return nil
}

// queryOutbox reads the outbox's entries in seq order, those filter keeps,
// at most limit (0: all) of them.
func (s *Store) queryOutbox(ctx context.Context, op, filter string, values map[string]types.AttributeValue, limit int) ([]store.TrackingEntry, error) {
	tbl, err := table("tracking", s.tables.Tracking)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c, err := s.studyClient()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	vals := map[string]types.AttributeValue{":pk": str(trackingOutboxPK)}
	for k, v := range values {
		vals[k] = v
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(tbl),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: vals,
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(true),
	}
	if filter != "" {
		in.FilterExpression = aws.String(filter)
	}
	var out []store.TrackingEntry
	p := dynamodb.NewQueryPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		for _, m := range page.Items {
			e, err := parseTrackingEntry(m)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			out = append(out, e)
			if limit > 0 && len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

func parseTrackingEntry(m map[string]types.AttributeValue) (store.TrackingEntry, error) {
	it := &item{m: m}
	e := store.TrackingEntry{
		Seq: it.int("seq"), Subject: it.str("subject"), Kind: it.str("kind"), Payload: it.raw("payload"),
		Attempts: int(it.int("attempts")), LastError: it.str("last_error"), Dead: it.bool("dead"),
		CreatedAt: it.time("created_at"),
	}
	if ns := it.int("not_before_ns"); ns != 0 {
		e.NotBefore = time.Unix(0, ns).UTC()
	}
	if it.err != nil {
		return e, fmt.Errorf("decode tracking entry %s: %w", it.str(attrSK), it.err)
	}
	return e, nil
}

// subjectFilter adds "subject = :subject" to filter when subject is set.
func subjectFilter(filter, subject string, values map[string]types.AttributeValue) string {
	if subject == "" {
		return filter
	}
	values[":subject"] = str(subject)
	if filter == "" {
		return "subject = :subject"
	}
	return filter + " AND subject = :subject"
}

// PendingTracking returns the live entries by seq; see store.TrackingOutbox.
func (s *Store) PendingTracking(ctx context.Context, subject string, limit int) ([]store.TrackingEntry, error) {
	if limit < 0 {
		return nil, fmt.Errorf("pending tracking entries: limit %d: %w", limit, store.ErrInvalid)
	}
	values := map[string]types.AttributeValue{":false": boolean(false)}
	filter := subjectFilter("dead = :false", subject, values)
	return s.queryOutbox(ctx, "pending tracking entries", filter, values, limit)
}

// AckTracking removes the entry.
func (s *Store) AckTracking(ctx context.Context, seq int64) error {
	tbl, err := table("tracking", s.tables.Tracking)
	if err != nil {
		return fmt.Errorf("ack tracking entry %d: %w", seq, err)
	}
	if _, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tbl), Key: key(trackingOutboxPK, trackingSK(seq))}); err != nil {
		return fmt.Errorf("ack tracking entry %d: %w", seq, err)
	}
	return nil
}

// FailTracking counts a failed attempt; see store.TrackingOutbox.
func (s *Store) FailTracking(ctx context.Context, seq int64, lastError string, notBefore time.Time, dead bool) error {
	tbl, err := table("tracking", s.tables.Tracking)
	if err != nil {
		return fmt.Errorf("fail tracking entry %d: %w", seq, err)
	}
	var nb int64
	if !notBefore.IsZero() {
		nb = notBefore.UnixNano()
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(tbl),
		Key:                      key(trackingOutboxPK, trackingSK(seq)),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		UpdateExpression:         aws.String("SET last_error = :e, not_before_ns = :nb, dead = :d ADD attempts :one"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":e": str(lastError), ":nb": num(nb), ":d": boolean(dead), ":one": num(1),
		},
	})
	if conditionFailed(err) {
		return fmt.Errorf("fail tracking entry %d: %w", seq, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("fail tracking entry %d: %w", seq, err)
	}
	return nil
}

// ReviveTracking makes the subject's dead entries pending and every entry
// due now: one conditional update per entry that needs it (an entry acked
// meanwhile is left gone).
func (s *Store) ReviveTracking(ctx context.Context, subject string) (int, error) {
	op := fmt.Sprintf("revive tracking entries of %q", subject)
	values := map[string]types.AttributeValue{":true": boolean(true), ":zero": num(0)}
	filter := subjectFilter("(dead = :true OR not_before_ns <> :zero)", subject, values)
	entries, err := s.queryOutbox(ctx, op, filter, values, 0)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.tables.Tracking),
			Key:                       key(trackingOutboxPK, trackingSK(e.Seq)),
			ConditionExpression:       aws.String("attribute_exists(#pk)"),
			UpdateExpression:          aws.String("SET dead = :false, not_before_ns = :zero"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":false": boolean(false), ":zero": num(0)},
		})
		if err != nil && !conditionFailed(err) {
			return 0, fmt.Errorf("%s: entry %d: %w", op, e.Seq, err)
		}
	}
	sum, err := s.SummarizeTracking(ctx, subject)
	return sum.Pending, err
}

// SummarizeTracking counts the subject's entries ("" : all); LastError is
// that of the entry with the greatest seq that has one.
func (s *Store) SummarizeTracking(ctx context.Context, subject string) (store.TrackingSummary, error) {
	values := map[string]types.AttributeValue{}
	filter := subjectFilter("", subject, values)
	entries, err := s.queryOutbox(ctx, fmt.Sprintf("summarize tracking entries of %q", subject), filter, values, 0)
	if err != nil {
		return store.TrackingSummary{}, err
	}
	var sum store.TrackingSummary
	for _, e := range entries {
		if e.Dead {
			sum.Dead++
		} else {
			sum.Pending++
		}
		if e.LastError != "" {
			sum.LastError = e.LastError
		}
	}
	return sum, nil
}

// TrackingRef returns the value stored under key.
func (s *Store) TrackingRef(ctx context.Context, k string) (string, error) {
	tbl, err := table("tracking", s.tables.Tracking)
	if err != nil {
		return "", fmt.Errorf("tracking ref %q: %w", k, err)
	}
	m, err := s.getItem(ctx, tbl, trackingRefPK+k, trackingRefSK)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("tracking ref %q: %w", k, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("tracking ref %q: %w", k, err)
	}
	it := &item{m: m}
	v := it.str("value")
	if it.err != nil {
		return "", fmt.Errorf("tracking ref %q: %w", k, it.err)
	}
	return v, nil
}

// PutTrackingRef stores value under key.
func (s *Store) PutTrackingRef(ctx context.Context, k, value string) error {
	if k == "" {
		return fmt.Errorf("put tracking ref: empty key: %w", store.ErrInvalid)
	}
	tbl, err := table("tracking", s.tables.Tracking)
	if err != nil {
		return fmt.Errorf("put tracking ref %q: %w", k, err)
	}
	m := key(trackingRefPK+k, trackingRefSK)
	m["value"] = str(value)
	m["updated_at"] = str(formatTime(s.now()))
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: m}); err != nil {
		return fmt.Errorf("put tracking ref %q: %w", k, err)
	}
	return nil
}
