package fault_test

import (
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
)

func Example() {
	errNotFound := fault.New(fault.NotFound, "store: not found")
	err := fmt.Errorf("load job %s: %w", "trn-1", errNotFound)
	fmt.Println(fault.CodeOf(err))
	f := fault.FailureOf(err)
	fmt.Println(f.Error, "|", f.Cause)
	fmt.Println(f.Code() == fault.NotFound)
	// Output:
	// not_found
	// Orrery.NotFound | load job trn-1: store: not found
	// true
}
