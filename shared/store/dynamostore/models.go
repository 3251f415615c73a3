package dynamostore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orrery-ml/orrery/shared/store"
)

const (
	modelPrefix = "MODEL#"
	modelSK     = "MODEL"
)

// modelItem is the DynamoDB item of m.
func modelItem(m store.Model) map[string]types.AttributeValue {
	it := key(modelPrefix+m.ID, modelSK)
	it["model_id"] = str(m.ID)
	it["name"] = str(m.Name)
	it["job_id"] = str(m.JobID)
	it["model_type"] = str(m.ModelType)
	it["artifact_key"] = str(m.ArtifactKey)
	it["artifact_uri"] = str(m.ArtifactURI)
	setJSON(it, "metrics", m.Metrics)
	it["data_hash"] = str(m.DataHash)
	if m.ManifestSHA256 != "" {
		it["manifest_sha256"] = str(m.ManifestSHA256)
	}
	it["created_at"] = str(formatTime(m.CreatedAt))
	it["created_ns"] = num(m.CreatedAt.UnixNano())
	return it
}

// parseModel reads a model item.
func parseModel(m map[string]types.AttributeValue) (store.Model, error) {
	it := item{m: m}
	model := store.Model{
		ID:          it.str("model_id"),
		Name:        it.str("name"),
		JobID:       it.str("job_id"),
		ModelType:   it.str("model_type"),
		ArtifactKey: it.str("artifact_key"),
		ArtifactURI: it.str("artifact_uri"),
		Metrics:     it.raw("metrics"),
		DataHash:    it.str("data_hash"),
		CreatedAt:   it.time("created_at"),
		// Absent on items written before the digest was kept.
		ManifestSHA256: it.str("manifest_sha256"),
	}
	if it.err != nil {
		return store.Model{}, fmt.Errorf("model item %s: %w", it.str(attrPK), it.err)
	}
	return model, nil
}

// RegisterModel stores m with a put conditioned on the id being free; a zero
// CreatedAt is set to now. Returns store.ErrInvalid if the id is empty or
// Metrics is not JSON, store.ErrConflict if a model with that id exists.
func (s *Store) RegisterModel(ctx context.Context, m store.Model) error {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return fmt.Errorf("register model %s: %w", m.ID, err)
	}
	if m.ID == "" {
		return fmt.Errorf("register model: empty id: %w", store.ErrInvalid)
	}
	if err := checkJSON("metrics", m.Metrics); err != nil {
		return fmt.Errorf("register model %s: %w", m.ID, err)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	if err := s.putNew(ctx, tbl, modelItem(m)); err != nil {
		return fmt.Errorf("register model %s: %w", m.ID, err)
	}
	return nil
}

// GetModel returns the model. Returns store.ErrNotFound if it does not exist.
func (s *Store) GetModel(ctx context.Context, id string) (store.Model, error) {
	return getRecord(ctx, s, "model", "models", s.tables.Models, modelPrefix, id, modelSK, parseModel)
}

// ListModels returns models, newest first (by CreatedAt, then by id), from a
// paginated Scan of the models table.
func (s *Store) ListModels(ctx context.Context) ([]store.Model, error) {
	tbl, err := table("models", s.tables.Models)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	items, err := s.scanAll(ctx, tbl, modelSK)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	type entry struct {
		model store.Model
		ns    int64
	}
	entries := make([]entry, 0, len(items))
	for _, m := range items {
		model, err := parseModel(m)
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		it := item{m: m}
		entries = append(entries, entry{model, it.int("created_ns")})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.ns, a.ns), strings.Compare(b.model.ID, a.model.ID))
	})
	models := make([]store.Model, len(entries))
	for i, e := range entries {
		models[i] = e.model
	}
	return models, nil
}
