package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
)

// HomeConfigFile is the home directory's optional configuration file: the
// settings of the runtime (not of one job, which a TrainingConfig holds).
const HomeConfigFile = "config.json"

// HomeConfig is the content of a home's config.json. Every field is
// optional; a missing file is the zero HomeConfig.
type HomeConfig struct {
	// TrackingURI turns the MLflow mirror on, as $MLFLOW_TRACKING_URI does:
	// an http(s) URL or a SageMaker MLflow tracking server's ARN. The
	// environment variable wins when both are set.
	TrackingURI string `json:"tracking_uri"`
}

// ErrBadHomeConfig: the home's config.json cannot be read as a HomeConfig.
var ErrBadHomeConfig = fault.New(fault.Invalid, "embedded: bad home configuration")

// ReadHomeConfig reads home's config.json; no file is no configuration.
// Unknown fields and anything after the JSON object are refused, naming the
// file and what is wrong.
func ReadHomeConfig(home string) (HomeConfig, error) {
	path := filepath.Join(home, HomeConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return HomeConfig{}, nil
	}
	if err != nil {
		return HomeConfig{}, fmt.Errorf("embedded: read %s: %w", path, err)
	}
	var c HomeConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return HomeConfig{}, fmt.Errorf("%w: %s: %v", ErrBadHomeConfig, path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return HomeConfig{}, fmt.Errorf("%w: %s: data after the JSON object", ErrBadHomeConfig, path)
	}
	return c, nil
}

// trackingURI is the tracking server the mirror sends to and where that
// setting came from: $MLFLOW_TRACKING_URI, else the home's tracking_uri
// ("" for both: tracking off).
func (c HomeConfig) trackingURI(home string) (uri, source string) {
	if v := os.Getenv(mlflowmirror.EnvTrackingURI); v != "" {
		return v, mlflowmirror.EnvTrackingURI
	}
	if c.TrackingURI != "" {
		return c.TrackingURI, filepath.Join(home, HomeConfigFile) + ": tracking_uri"
	}
	return "", ""
}
