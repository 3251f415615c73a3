package store

import (
	"context"
	"fmt"
	"time"
)

// Registry aliases the deployment flow keeps in step with what an endpoint
// serves (the names MLflow's model registry gives its aliases).
const (
	// AliasChampion names the model an endpoint's promoted deployment
	// serves.
	AliasChampion = "champion"
	// AliasChallenger names the model a deployment is shifting traffic to,
	// while it shifts and bakes.
	AliasChallenger = "challenger"
)

// LiveRegistryAlias is the registry alias naming the model an endpoint
// serves, moved when a deployment to it is promoted (a rollback is a
// redeploy, so its promotion moves it back): LiveAlias for the default
// endpoint (named LiveAlias, the predict function's alias on AWS),
// "live-<endpoint>" for another one.
func LiveRegistryAlias(endpoint string) string {
	if endpoint == "" || endpoint == LiveAlias {
		return LiveAlias
	}
	return LiveAlias + "-" + endpoint
}

// ModelAlias points a registry alias of a model name, in one environment, at
// a model: ("prod", "htru2-pulsar-mlp", "champion") -> "mdl-...".
type ModelAlias struct {
	Environment string `json:"environment"`
	// Name is the registered model name (store.Model.Name) the alias
	// belongs to.
	Name string `json:"name"`
	// Alias is champion, challenger, or another name passing CheckID.
	Alias   string `json:"alias"`
	ModelID string `json:"model_id"`
	// Endpoint is the endpoint whose deployment set the alias.
	Endpoint  string    `json:"endpoint,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Check returns ErrInvalid (wrapped, naming the field) unless a can be
// stored: environment, alias and model id pass CheckID, the name is not
// empty and has at most MaxIDBytes bytes, and the endpoint is empty or
// passes CheckID.
func (a ModelAlias) Check() error {
	for _, c := range []struct{ what, v string }{{"environment", a.Environment}, {"alias", a.Alias}, {"model id", a.ModelID}} {
		if err := CheckID(c.what, c.v); err != nil {
			return err
		}
	}
	if a.Name == "" || len(a.Name) > MaxIDBytes {
		return fmt.Errorf("model name %q: want 1 to %d bytes: %w", a.Name, MaxIDBytes, ErrInvalid)
	}
	if a.Endpoint != "" {
		return CheckID("endpoint", a.Endpoint)
	}
	return nil
}

// ModelAliases keeps registry aliases.
//
// Rules every adapter follows (storetest.TestModelAliases checks them):
// ModelAlias.Check failures are ErrInvalid and store nothing; a zero
// UpdatedAt is set to now.
type ModelAliases interface {
	// SetModelAlias points the alias at a.ModelID, replacing what it named.
	SetModelAlias(ctx context.Context, a ModelAlias) error
	// RemoveModelAlias removes the alias of the name in the environment if
	// it names modelID ("" removes it whatever it names). Removing an alias
	// that does not exist or names another model is not an error.
	RemoveModelAlias(ctx context.Context, environment, name, alias, modelID string) error
	// ListModelAliases returns the aliases of the environment ("": every
	// environment), by environment, name and alias.
	ListModelAliases(ctx context.Context, environment string) ([]ModelAlias, error)
}
