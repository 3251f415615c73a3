package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

// Attribute names shared by every table.
const (
	attrPK      = "pk"
	attrSK      = "sk"
	attrExpires = "expires_at"
)

// API is the part of the DynamoDB client the store uses (*dynamodb.Client
// has it).
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Tables names the DynamoDB tables (names, not ARNs). Any of them may be the
// same table. A store method whose table is empty returns store.ErrInvalid.
type Tables struct {
	Jobs        string
	Models      string
	Studies     string
	Deployments string
	Idempotency string
	// Tracking holds the MLflow mirror's outbox and refs
	// (store.TrackingOutbox; tracking.go): its own table or, as infra/
	// deploys it, the jobs table.
	Tracking string
}

// names lists the distinct non-empty table names.
func (t Tables) names() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range []string{t.Jobs, t.Models, t.Studies, t.Deployments, t.Idempotency, t.Tracking} {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Store keeps records in DynamoDB. It is safe for concurrent use.
type Store struct {
	client API
	tables Tables
	now    func() time.Time
}

var (
	_ store.JobStore              = (*Store)(nil)
	_ store.ModelRegistry         = (*Store)(nil)
	_ store.RetrainingPolicyStore = (*Store)(nil)
)

// New returns a store over the tables. Returns store.ErrInvalid for a nil
// client or when no table is named.
func New(client API, tables Tables) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("new dynamodb store: nil client: %w", store.ErrInvalid)
	}
	if len(tables.names()) == 0 {
		return nil, fmt.Errorf("new dynamodb store: no table named: %w", store.ErrInvalid)
	}
	return &Store{client: client, tables: tables, now: time.Now}, nil
}

// CreateTable creates a table with the layout the store expects (pk and sk
// strings, on-demand capacity) and waits until it is active; infra/ creates
// the production tables with the same keys. A table of that name that exists
// already (for example created by a retried request) is waited for, not an
// error. It is for tests and local set-ups.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("create table %s: wait until active: %w", name, err)
	}
	return nil
}

// table returns name, or store.ErrInvalid naming the missing table.
func table(kind, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("no %s table configured: %w", kind, store.ErrInvalid)
	}
	return name, nil
}

// key builds the primary key of an item.
func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

// str, num and boolean build attribute values.
func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func boolean(b bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: b}
}

// formatTime writes t as RFC 3339 in UTC with nanoseconds.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// item reads attributes of one DynamoDB item, remembering the first problem.
type item struct {
	m   map[string]types.AttributeValue
	err error
}

func (it *item) fail(name, want string) {
	if it.err == nil {
		it.err = fmt.Errorf("attribute %s is not %s", name, want)
	}
}

// str returns a string attribute, "" when absent.
func (it *item) str(name string) string {
	v, ok := it.m[name]
	if !ok {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		it.fail(name, "a string")
		return ""
	}
	return s.Value
}

// int returns a number attribute, 0 when absent.
func (it *item) int(name string) int64 {
	v, ok := it.m[name]
	if !ok {
		return 0
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		it.fail(name, "a number")
		return 0
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		it.fail(name, "an integer")
	}
	return i
}

// bool returns a boolean attribute, false when absent.
func (it *item) bool(name string) bool {
	v, ok := it.m[name]
	if !ok {
		return false
	}
	b, ok := v.(*types.AttributeValueMemberBOOL)
	if !ok {
		it.fail(name, "a boolean")
		return false
	}
	return b.Value
}

// raw returns a JSON string attribute as raw JSON, nil when absent.
func (it *item) raw(name string) json.RawMessage {
	s := it.str(name)
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// time returns a time attribute, the zero time when absent.
func (it *item) time(name string) time.Time {
	s := it.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		it.fail(name, "an RFC 3339 time")
		return time.Time{}
	}
	return t.UTC()
}

// checkJSON refuses a non-empty field that is not JSON.
func checkJSON(field string, raw []byte) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return fmt.Errorf("%s is not valid JSON: %w", field, store.ErrInvalid)
	}
	return nil
}

// setJSON stores a non-empty raw JSON field as a string attribute.
func setJSON(m map[string]types.AttributeValue, name string, raw []byte) {
	if len(raw) > 0 {
		m[name] = str(string(raw))
	}
}

// conditionFailed reports whether err is DynamoDB refusing a conditional
// write.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// putNew writes item only if no item has its key: store.ErrConflict (with
// "id exists") when one does.
func (s *Store) putNew(ctx context.Context, table string, it map[string]types.AttributeValue) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(table),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if conditionFailed(err) {
		return fmt.Errorf("id exists: %w", store.ErrConflict)
	}
	return err
}

// getItem reads the item with key (pk, sk) by a strongly consistent read:
// store.ErrNotFound when there is none.
func (s *Store) getItem(ctx context.Context, table, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            key(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, store.ErrNotFound
	}
	return out.Item, nil
}

// getRecord reads the item (pk, sk) of the kind table (a strongly
// consistent read) and parses it: what names the record in errors ("job"),
// an empty id is store.ErrNotFound, a missing item too.
func getRecord[T any](ctx context.Context, s *Store, what, kind, tableName, pk, id, sk string, parse func(map[string]types.AttributeValue) (T, error)) (T, error) {
	var zero T
	tbl, err := table(kind, tableName)
	if err != nil {
		return zero, fmt.Errorf("get %s %s: %w", what, id, err)
	}
	if id == "" {
		return zero, fmt.Errorf("get %s: empty id: %w", what, store.ErrNotFound)
	}
	it, err := s.getItem(ctx, tbl, pk+id, sk)
	if err != nil {
		return zero, fmt.Errorf("get %s %s: %w", what, id, err)
	}
	v, err := parse(it)
	if err != nil {
		return zero, fmt.Errorf("get %s %s: %w", what, id, err)
	}
	return v, nil
}

// scanAll reads every item of table whose sk equals sk, following pages.
func (s *Store) scanAll(ctx context.Context, table, sk string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		FilterExpression:          aws.String("#sk = :sk"),
		ExpressionAttributeNames:  map[string]string{"#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":sk": str(sk)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
	}
	return items, nil
}
