package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.StartWithOptions(func(context.Context, json.RawMessage) (string, error) { return "hello", nil },
		lambda.WithEnableSIGTERM())
}
