package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeObjects feeds arbitrary SQS bodies to the S3 event decoder:
// no panic; a refusal is errBadMessage; every object it returns has a key.
func FuzzDecodeObjects(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", "s3-object-created.json")); err == nil {
		f.Add(string(b))
	}
	f.Add(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"incoming/a+b.csv","eTag":"e"}}}]}`)
	f.Add(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"x"},"object":{"key":"%zz"}}}]}`)
	f.Add(`{"Records":[]}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, body string) {
		objs, err := decodeObjects(body)
		if err != nil {
			if !errors.Is(err, errBadMessage) {
				t.Fatalf("refusal is not errBadMessage: %v", err)
			}
			return
		}
		for i, o := range objs {
			if o.Key == "" {
				t.Fatalf("object %d has no key", i)
			}
		}
	})
}
