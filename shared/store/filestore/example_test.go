package filestore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orrery-ml/orrery/shared/store/filestore"
)

func ExampleStore() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "orrery-artifacts-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()

	s, err := filestore.New(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	for key, body := range map[string]string{
		"models/m1/manifest.json":       `{"model_type":"mlp"}`,
		"models/m1/weights.safetensors": "weights",
	} {
		if err := s.Put(ctx, key, strings.NewReader(body)); err != nil {
			fmt.Println(err)
			return
		}
	}
	keys, _ := s.List(ctx, "models/m1/")
	fmt.Println(keys)

	rc, err := s.Get(ctx, "models/m1/manifest.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = rc.Close() }()
	body, _ := io.ReadAll(rc)
	fmt.Println(string(body))

	_, err = s.Get(ctx, "../outside")
	fmt.Println(err)
	// Output:
	// [models/m1/manifest.json models/m1/weights.safetensors]
	// {"model_type":"mlp"}
	// get ../outside: artifact key "../outside" leaves its root: store: invalid argument
}
