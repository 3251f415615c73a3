package dynamostore_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

// serialStudyClient adds Query and TransactWriteItems to serialClient, one
// request at a time like it.
type serialStudyClient struct{ *serialClient }

func (s serialStudyClient) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Query(ctx, in, opts...)
}

func (s serialStudyClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.TransactWriteItems(ctx, in, opts...)
}

func TestStudyStore(t *testing.T) {
	client := newClient(t)
	storetest.TestStudyStore(t, func(t *testing.T) storetest.StudyTrialStore {
		name := awstest.Name(t, "orrery-studies")
		require.NoError(t, dynamostore.CreateTable(t.Context(), client, name))
		t.Cleanup(func() {
			_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
		s, err := dynamostore.New(serialStudyClient{&serialClient{c: client}}, dynamostore.Tables{Studies: name})
		require.NoError(t, err)
		return s
	})
}

// TestStudyMethodsNeedQueryAndTransactions checks that a client without
// Query and TransactWriteItems is refused with a clear error, before any
// request.
func TestStudyMethodsNeedQueryAndTransactions(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	s, err := dynamostore.New(&serialClient{c: client}, dynamostore.Tables{Studies: "studies"})
	require.NoError(t, err)
	_, err = s.ListTrials(t.Context(), "st")
	require.ErrorIs(t, err, store.ErrInvalid)
	require.ErrorContains(t, err, "TransactWriteItems")
	err = s.AddTrials(t.Context(), "st", []store.Trial{{Number: 0, Params: []byte(`{}`)}})
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestTrackingOutbox(t *testing.T) {
	client := newClient(t)
	storetest.TestTrackingOutbox(t, func(t *testing.T) store.TrackingOutbox {
		name := awstest.Name(t, "orrery-tracking")
		require.NoError(t, dynamostore.CreateTable(t.Context(), client, name))
		t.Cleanup(func() {
			_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
		s, err := dynamostore.New(serialStudyClient{&serialClient{c: client}}, dynamostore.Tables{Tracking: name})
		require.NoError(t, err)
		return s
	})
}
