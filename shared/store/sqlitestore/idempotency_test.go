package sqlitestore_test

import (
	"testing"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

func TestIdempotencyStore(t *testing.T) {
	storetest.TestIdempotencyStore(t, func(t *testing.T) store.IdempotencyStore { return openTemp(t) })
}
