package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// DefaultEnvironment is the environment of an endpoint that names none.
const DefaultEnvironment = "dev"

// Endpoint is a named prediction slot of one environment (dev, staging,
// prod): its alias `live` routes each request to one of its model versions,
// by weight. On AWS the routing is the predict function's alias (its
// version and AdditionalVersionWeights); on the embedded runtime it is this
// record, which the deployment flow moves and the endpoint reads.
type Endpoint struct {
	Name        string `json:"endpoint"`
	Environment string `json:"environment"`
	// Routes maps a model id to the percent of the endpoint's requests it
	// serves; the percents are 1..100 and sum to 100. Empty: nothing is
	// deployed yet, and a request is refused.
	Routes map[string]int `json:"routes"`
	// LiveModelID is the model of the deployment promoted last: what a
	// rollback returns to and what serves once no deployment moves traffic.
	LiveModelID string `json:"live_model_id,omitempty"`
	// LockedBy is the deployment now moving the endpoint's traffic, and
	// LockedUntil when its lock lapses if it is not renewed (a deployment
	// whose process died frees the endpoint by itself). Empty: no lock.
	LockedBy    string    `json:"locked_by,omitempty"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// Revision counts the writes; PutEndpoint is conditional on it.
	Revision  int64     `json:"revision"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Locked reports whether a deployment holds the endpoint at now.
func (e Endpoint) Locked(now time.Time) bool { return e.LockedBy != "" && now.Before(e.LockedUntil) }

// RouteModels returns the routed model ids, largest share first (then by
// id).
func (e Endpoint) RouteModels() []string {
	ids := make([]string, 0, len(e.Routes))
	for id := range e.Routes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if e.Routes[ids[i]] != e.Routes[ids[j]] {
			return e.Routes[ids[i]] > e.Routes[ids[j]]
		}
		return ids[i] < ids[j]
	})
	return ids
}

// Check returns ErrInvalid (wrapped, naming the field) unless e can be
// stored: name and environment pass CheckID, every routed model id passes
// CheckID, each weight is 1..100 and they sum to 100 (or there are none),
// LiveModelID is empty or passes CheckID, and a lock has a deadline.
func (e Endpoint) Check() error {
	if err := CheckID("endpoint", e.Name); err != nil {
		return err
	}
	if err := CheckID("environment", e.Environment); err != nil {
		return err
	}
	sum := 0
	for id, w := range e.Routes {
		if err := CheckID("routed model id", id); err != nil {
			return err
		}
		if w < 1 || w > 100 {
			return fmt.Errorf("endpoint %s: weight %d of model %s is not in 1..100: %w", e.Name, w, id, ErrInvalid)
		}
		sum += w
	}
	if len(e.Routes) > 0 && sum != 100 {
		return fmt.Errorf("endpoint %s: weights sum to %d, not 100: %w", e.Name, sum, ErrInvalid)
	}
	if e.LiveModelID != "" {
		if err := CheckID("live model id", e.LiveModelID); err != nil {
			return err
		}
	}
	if e.LockedBy != "" && e.LockedUntil.IsZero() {
		return fmt.Errorf("endpoint %s: a lock needs locked_until: %w", e.Name, ErrInvalid)
	}
	return nil
}

// EndpointStore keeps the embedded runtime's endpoints.
//
// Rules every adapter follows: Endpoint.Check failures are ErrInvalid and
// store nothing; writes are conditional on the revision, so of two racing
// writers exactly one wins.
type EndpointStore interface {
	// GetEndpoint returns ErrNotFound if the environment has no such
	// endpoint.
	GetEndpoint(ctx context.Context, environment, name string) (Endpoint, error)
	// ListEndpoints returns the environment's endpoints ("" for every
	// environment's), by environment and name.
	ListEndpoints(ctx context.Context, environment string) ([]Endpoint, error)
	// PutEndpoint writes e if the stored endpoint's revision is e.Revision
	// (0: it must not exist yet) and returns it as stored, with the next
	// revision and UpdatedAt now. Returns ErrConflict when another write
	// came first.
	PutEndpoint(ctx context.Context, e Endpoint) (Endpoint, error)
}
