package dynamostore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

// newClient returns a DynamoDB client for the emulator, or skips the test.
func newClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	cfg := awstest.Config(t)
	return dynamodb.NewFromConfig(cfg)
}

// newStore creates one fresh table, used for every kind of record, and
// deletes it when the test ends.
func newStore(t *testing.T, client *dynamodb.Client) *dynamostore.Store {
	t.Helper()
	name := awstest.Name(t, "orrery-test")
	require.NoError(t, dynamostore.CreateTable(t.Context(), client, name))
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	s, err := dynamostore.New(&serialClient{c: client},
		dynamostore.Tables{Jobs: name, Models: name, Studies: name, Deployments: name, Idempotency: name})
	require.NoError(t, err)
	return s
}

// serialClient sends one request at a time. DynamoDB applies each request
// atomically (an ADD, a conditional put); moto's threaded server does not —
// two concurrent ADDs to one attribute can lose an increment there — so the
// port suite's concurrency tests, which check that the store's conditions
// let exactly one racing writer win, get DynamoDB's per-request atomicity
// this way. The goroutines still race for the order of their requests.
type serialClient struct {
	mu sync.Mutex
	c  *dynamodb.Client
}

func (s *serialClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.GetItem(ctx, in, opts...)
}

func (s *serialClient) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.PutItem(ctx, in, opts...)
}

func (s *serialClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.UpdateItem(ctx, in, opts...)
}

func (s *serialClient) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.DeleteItem(ctx, in, opts...)
}

func (s *serialClient) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Scan(ctx, in, opts...)
}

func TestJobStore(t *testing.T) {
	client := newClient(t)
	storetest.TestJobStore(t, func(t *testing.T) store.JobStore { return newStore(t, client) })
}

func TestModelRegistry(t *testing.T) {
	client := newClient(t)
	storetest.TestModelRegistry(t, func(t *testing.T) store.ModelRegistry { return newStore(t, client) })
}

func TestRetrainingPolicyStore(t *testing.T) {
	client := newClient(t)
	storetest.TestRetrainingPolicyStore(t, func(t *testing.T) store.RetrainingPolicyStore { return newStore(t, client) })
}

func TestNewRefuses(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	_, err := dynamostore.New(nil, dynamostore.Tables{Jobs: "jobs"})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = dynamostore.New(client, dynamostore.Tables{})
	require.ErrorIs(t, err, store.ErrInvalid)
}

// TestMissingTable checks that a store without the table a method needs
// says so instead of calling DynamoDB.
func TestMissingTable(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	s, err := dynamostore.New(client, dynamostore.Tables{Idempotency: "idempotency"})
	require.NoError(t, err)
	_, err = s.GetJob(t.Context(), "job-1")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.ListModels(t.Context())
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetRetrainingPolicy(t.Context(), "incoming/")
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestIdempotencyStore(t *testing.T) {
	client := newClient(t)
	storetest.TestIdempotencyStore(t, func(t *testing.T) store.IdempotencyStore { return newStore(t, client) })
}
