package dataset_test

import (
	"context"
	"fmt"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// Read a data file, choose the target, and split it for training.
func Example() {
	ctx := context.Background()
	table, err := dataset.Read(ctx, "../../events/data/htru2.csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := table.Select(dataset.SelectOptions{Target: "class"})
	if err != nil {
		fmt.Println(err)
		return
	}
	split, err := dataset.StratifiedSplit(d, 0.15, 0.2, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(table.Rows, "rows,", d.Features(), "features, classes", d.Classes, d.ClassCounts())
	fmt.Println("train", split.Train.ClassCounts(), "validation", split.Validation.ClassCounts(), "test", split.Test.ClassCounts())
	// Output:
	// 17898 rows, 8 features, classes [0 1] [16259 1639]
	// train [10568 1065] validation [2439 246] test [3252 328]
}

// Broken files give errors that name the file and line.
func ExampleRead_raggedRow() {
	_, err := dataset.Read(context.Background(), "testdata/ragged.csv")
	fmt.Println(err)
	// Output:
	// dataset: ragged row: testdata/ragged.csv line 7 has 5 fields, header has 9
}
