package nn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/trees"
)

// FormatVersion is the model directory format this package writes and reads.
const FormatVersion = 1

// File names inside a model directory, and the backend name of this package.
const (
	ManifestFile = "manifest.json"
	WeightsFile  = "weights.safetensors"
	SumsFile     = "SHA256SUMS"
	BackendGonum = "gonum"
)

var (
	// ErrModelExists is returned by SaveDir when the target directory exists
	// and is not empty.
	ErrModelExists = fault.New(fault.Conflict, "nn: model directory exists and is not empty")
	// ErrChecksum is wrapped by LoadFS (and LoadDir) errors about a file
	// whose SHA-256 does not match the recorded one; the message names the
	// file.
	ErrChecksum = fault.New(fault.DataChanged, "nn: checksum mismatch")
	// ErrInvalidModel is wrapped by errors about a model whose parts disagree
	// (manifest, architecture, weights, preprocessing, features, classes).
	ErrInvalidModel = fault.New(fault.Invalid, "nn: invalid model")
)

// Manifest describes a saved model: everything needed to apply it to raw
// data and to trace where it came from.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	ModelID       string `json:"model_id"`
	Name          string `json:"name"`
	ModelType     string `json:"model_type"`
	Backend       string `json:"backend"`
	Architecture  Spec   `json:"architecture"`
	// Features are the input columns in the order the network takes them.
	Features []string `json:"features"`
	Target   string   `json:"target"`
	// Classes maps class index to the label as written in the data.
	Classes       []string `json:"classes"`
	PositiveClass string   `json:"positive_class,omitempty"`
	// Threshold is the probability of class 1 at or above which a binary
	// model predicts class 1.
	Threshold      float64         `json:"decision_threshold"`
	Preprocessing  Preprocessing   `json:"preprocessing"`
	DataHash       string          `json:"data_hash"`
	TrainingConfig json.RawMessage `json:"training_config,omitempty"`
	Metrics        json.RawMessage `json:"metrics,omitempty"`
	CodeVersion    string          `json:"code_version"`
	CreatedAt      time.Time       `json:"created_at"`
	// DerivedFrom is set on a model made from another registered model by
	// changing its manifest only (a decision threshold chosen by an
	// evaluation); the weights are the same.
	DerivedFrom *Derivation `json:"derived_from,omitempty"`
	// Files maps file names in the model directory (weights.safetensors, ...)
	// to their hex SHA-256.
	Files map[string]string `json:"files"`
	// Units maps features to their physical units, as the training file
	// gave them (FITS TUNIT, VOTable unit); features without one are absent.
	Units map[string]string `json:"units,omitempty"`
	// DataHDU is the FITS HDU or VOTable TABLE the training data came from.
	DataHDU string `json:"data_hdu,omitempty"`
	// Split says how the training data was split into train, validation
	// and test; absent in models made before it was recorded.
	Split *SplitRecord `json:"split,omitempty"`
}

// SplitRecord is how a model's training data was split.
type SplitRecord struct {
	// Method is stratified (a stratified random split), stratified_group
	// (whole groups of GroupColumn), split_column (the published split of
	// SplitColumn) or test_dataset (a separate test file).
	Method      string       `json:"method"`
	GroupColumn string       `json:"group_column,omitempty"`
	SplitColumn string       `json:"split_column,omitempty"`
	SplitValues *SplitValues `json:"split_values,omitempty"`
	// ValidationHeldOut says that validation was held out of the training
	// rows (a split column without validation rows, a separate test file).
	ValidationHeldOut bool `json:"validation_held_out,omitempty"`
	// TestDataPath and TestDataHash name the separate test file.
	TestDataPath string `json:"test_data_path,omitempty"`
	TestDataHash string `json:"test_data_hash,omitempty"`
	// Rows counts the rows of train, validation and test.
	Rows map[string]int `json:"rows"`
	// TestSetHash is the evaluation test-set hash of the test split
	// (evaluation.DatasetHash): what an evaluation of the same rows reports.
	TestSetHash string `json:"test_set_hash,omitempty"`
}

// SplitValues are the split column's values of each split.
type SplitValues struct {
	Train      string `json:"train"`
	Validation string `json:"validation"`
	Test       string `json:"test"`
}

// Derivation records where a derived model came from and what changed.
type Derivation struct {
	ModelID string `json:"model_id"`
	// Change says what differs, e.g. "decision_threshold 0.5 -> 0.31 (f1)".
	Change       string `json:"change"`
	EvaluationID string `json:"evaluation_id,omitempty"`
}

// Model is a loaded (or about to be saved) model: manifest and network,
// or manifest and tree ensemble (Trees set, Net nil) for the model types
// gradient_boosting and random_forest.
type Model struct {
	Manifest Manifest
	Net      *Network
	Trees    *trees.Model
}

// Version returns the code version recorded in manifests: the main module's
// version from the build information, or "dev" when there is none.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// check reports the first disagreement between the manifest and the network.
func (m *Model) check() error {
	if m == nil || (m.Net == nil) == (m.Trees == nil) {
		return fmt.Errorf("%w: no network or tree ensemble (or both)", ErrInvalidModel)
	}
	man, spec := &m.Manifest, m.Spec()
	if !specEqual(man.Architecture, spec) {
		return fmt.Errorf("%w: manifest architecture %+v differs from the network's %+v", ErrInvalidModel, man.Architecture, spec)
	}
	if man.ModelType != spec.ModelType {
		return fmt.Errorf("%w: manifest model_type %q, architecture %q", ErrInvalidModel, man.ModelType, spec.ModelType)
	}
	if len(man.Features) != spec.Inputs {
		return fmt.Errorf("%w: %d features for a network of %d inputs", ErrInvalidModel, len(man.Features), spec.Inputs)
	}
	if p := &man.Preprocessing; p.Features() != 0 || len(p.Impute) != 0 || len(p.Scale) != 0 {
		if err := p.Check(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidModel, err)
		}
		if p.Features() != len(man.Features) {
			return fmt.Errorf("%w: preprocessing for %d features, manifest lists %d", ErrInvalidModel, p.Features(), len(man.Features))
		}
	}
	if len(man.Classes) != spec.Classes() {
		return fmt.Errorf("%w: %d class labels for a network of %d classes", ErrInvalidModel, len(man.Classes), spec.Classes())
	}
	if math.IsNaN(man.Threshold) || man.Threshold < 0 || man.Threshold > 1 {
		return fmt.Errorf("%w: decision_threshold %v is not in [0, 1]", ErrInvalidModel, man.Threshold)
	}
	return nil
}

func specEqual(a, b Spec) bool {
	return a.ModelType == b.ModelType && a.Inputs == b.Inputs && a.Outputs == b.Outputs &&
		a.Activation == b.Activation && a.Dropout == b.Dropout && slices.Equal(a.Hidden, b.Hidden)
}

// File is one file of a model directory.
type File struct {
	Name string
	Data []byte
}

// EncodeDir returns the files of m's model directory in the order they are
// to be written: weights.safetensors (F64), manifest.json with Files holding
// the weights' SHA-256, and SHA256SUMS (sha256sum format) covering both —
// last, so that a directory holding SHA256SUMS holds the files it lists. It
// fills in m.Manifest's FormatVersion, ModelType, Architecture, Files, and
// Backend and CreatedAt when empty; on an error m is left unchanged. An
// empty Preprocessing means the network takes the features as they are.
//
// Where the files go is the caller's: SaveDir writes them to a local
// directory, shared/ml/modelstore to an artifact store.
func EncodeDir(m *Model) ([]File, error) {
	if m == nil || (m.Net == nil) == (m.Trees == nil) {
		return nil, fmt.Errorf("encode model: %w: no network or tree ensemble (or both)", ErrInvalidModel)
	}
	man := m.Manifest
	man.FormatVersion = FormatVersion
	man.Architecture = m.Spec()
	man.ModelType = man.Architecture.ModelType
	man.Architecture.Hidden = slices.Clone(man.Architecture.Hidden)
	if man.Backend == "" {
		man.Backend = BackendGonum
	}
	if man.CreatedAt.IsZero() {
		man.CreatedAt = time.Now().UTC()
	}
	if err := (&Model{Manifest: man, Net: m.Net, Trees: m.Trees}).check(); err != nil {
		return nil, fmt.Errorf("encode model %s: %w", man.ModelID, err)
	}
	var weights bytes.Buffer
	meta := map[string]string{"format": "pt", "backend": man.Backend}
	if man.ModelID != "" {
		meta["model_id"] = man.ModelID
	}
	var tensors []Tensor
	if m.Trees != nil {
		tensors = TreeTensors(m.Trees)
	} else {
		tensors = m.Net.Tensors()
	}
	if err := WriteSafetensors(&weights, tensors, meta, F64); err != nil {
		return nil, fmt.Errorf("encode model %s: %w", man.ModelID, err)
	}
	weightsSum := hexSHA256(weights.Bytes())
	man.Files = map[string]string{WeightsFile: weightsSum}
	manJSON, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode model %s: encode manifest: %w", man.ModelID, err)
	}
	manJSON = append(manJSON, '\n')
	sums := fmt.Sprintf("%s  %s\n%s  %s\n", hexSHA256(manJSON), ManifestFile, weightsSum, WeightsFile)
	m.Manifest = man
	return []File{{WeightsFile, weights.Bytes()}, {ManifestFile, manJSON}, {SumsFile, []byte(sums)}}, nil
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// SaveDir writes m as the local model directory dir (the files of
// EncodeDir, which fills in m.Manifest as it says). The files are written
// to a temporary directory beside dir, synced, and renamed into place, so
// dir is either absent or complete; SaveDir returns ErrModelExists rather
// than overwrite a non-empty dir.
func SaveDir(dir string, m *Model) error {
	if m == nil {
		return fmt.Errorf("save model %s: %w: no network", dir, ErrInvalidModel)
	}
	encoded := *m
	files, err := EncodeDir(&encoded)
	if err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	if err := checkTarget(dir); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	for _, f := range files {
		if err := writeSynced(filepath.Join(tmp, f.Name), f.Data); err != nil {
			return fmt.Errorf("save model %s: %w", dir, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	// An empty dir left by the caller is replaced; a non-empty one makes
	// Remove fail, so nothing is ever overwritten.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save model %s: %w (%w)", dir, ErrModelExists, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	done = true
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	m.Manifest = encoded.Manifest
	return nil
}

// checkTarget refuses a dir that exists and is not an empty directory.
func checkTarget(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: it is a file", ErrModelExists)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return ErrModelExists
	}
	return nil
}

// writeSynced writes data to a new file and syncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// LoadDir reads the local model directory dir written by SaveDir (or the
// libtorch backend): LoadFS over os.DirFS(dir).
func LoadDir(dir string) (*Model, error) {
	m, err := LoadFS(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

// LoadFS reads the model directory at the root of fsys, as EncodeDir wrote
// it. It reads SHA256SUMS, then every file SHA256SUMS and the manifest's
// Files list, each once, and verifies their SHA-256 (wrapping ErrChecksum and
// naming the file on a mismatch); it checks the format version, that the
// weights match the architecture, and that features, preprocessing and
// classes agree with it (ErrInvalidModel). A file it cannot read is an error
// naming the file that wraps fsys's error.
func LoadFS(fsys fs.FS) (*Model, error) {
	sumsData, err := fs.ReadFile(fsys, SumsFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", SumsFile, err)
	}
	sums, err := parseSums(sumsData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SumsFile, err)
	}
	for _, name := range []string{ManifestFile, WeightsFile} {
		if _, ok := sums[name]; !ok {
			return nil, fmt.Errorf("%w: %s does not list %s", ErrInvalidModel, SumsFile, name)
		}
	}
	files := map[string][]byte{}
	verify := func(name, want, source string) error {
		data, ok := files[name]
		if !ok {
			if data, err = fs.ReadFile(fsys, name); err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
			files[name] = data
		}
		if got := hexSHA256(data); !strings.EqualFold(got, want) {
			return fmt.Errorf("%w: %s has SHA-256 %s, %s records %s", ErrChecksum, name, got, source, want)
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(sums)) {
		if err := verify(name, sums[name], SumsFile); err != nil {
			return nil, err
		}
	}
	var man Manifest
	if err := json.Unmarshal(files[ManifestFile], &man); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", ErrInvalidModel, ManifestFile, err)
	}
	if man.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: format_version %d, this code reads %d", ErrInvalidModel, man.FormatVersion, FormatVersion)
	}
	if _, ok := man.Files[WeightsFile]; !ok {
		return nil, fmt.Errorf("%w: manifest files do not list %s", ErrInvalidModel, WeightsFile)
	}
	for _, name := range slices.Sorted(maps.Keys(man.Files)) {
		if !validFileName(name) {
			return nil, fmt.Errorf("%w: manifest lists file %q", ErrInvalidModel, name)
		}
		if err := verify(name, man.Files[name], ManifestFile); err != nil {
			return nil, err
		}
	}
	tensors, _, err := ReadSafetensors(bytes.NewReader(files[WeightsFile]))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", WeightsFile, err)
	}
	m := &Model{Manifest: man}
	if IsTreeModel(man.Architecture.ModelType) {
		m.Trees, err = TreesFromTensors(man.Architecture, tensors)
	} else {
		m.Net, err = FromTensors(man.Architecture, tensors)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s against the %s architecture: %w", ErrInvalidModel, WeightsFile, ManifestFile, err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

// validFileName accepts plain names inside the model directory.
func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && filepath.Base(name) == name
}

// parseSums reads sha256sum output: "<64 hex>  <name>" (or " *<name>") lines.
func parseSums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			continue
		}
		if len(text) < 67 || (text[64:66] != "  " && text[64:66] != " *") {
			return nil, fmt.Errorf("%w: line %d is not \"<sha256>  <file>\"", ErrInvalidModel, line)
		}
		sum, name := text[:64], text[66:]
		if _, err := hex.DecodeString(sum); err != nil || !validFileName(name) {
			return nil, fmt.Errorf("%w: line %d is not \"<sha256>  <file>\"", ErrInvalidModel, line)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%w: line %d repeats %s", ErrInvalidModel, line, name)
		}
		sums[name] = sum
	}
	return sums, sc.Err()
}

// predictBlock is the number of rows Model.PredictProba handles between
// context checks.
const predictBlock = 16 * predictChunk

// PredictProba returns class probabilities (rows × C, see
// Network.PredictProba) for raw features x (rows × len(Features), in
// Manifest.Features order, NaN = missing): it applies the preprocessing to a
// copy of x and runs the network. It fails when len(x) != rows*len(Features)
// or a value is infinite, and returns ctx.Err() if ctx ends first.
func (m *Model) PredictProba(ctx context.Context, x []float64, rows int) ([]float64, error) {
	d := len(m.Manifest.Features)
	if rows < 0 || len(x) != rows*d {
		return nil, fmt.Errorf("predict: %d values for %d rows of %d features", len(x), rows, d)
	}
	// The preprocessing is row by row, so a block at a time through one
	// buffer gives the same values as a transformed copy of all of x
	// without that copy (2M test rows of ten features: 160 MB). Blocks
	// are scored in parallel, each worker with its own buffer; a block's
	// probabilities do not depend on which worker scored it, and every
	// block is scored, so the error returned (the first row that cannot
	// be scored) does not either.
	c := m.Classes()
	out := make([]float64, rows*c)
	blocks := (rows + predictBlock - 1) / predictBlock
	errs := make([]error, blocks)
	var next atomic.Int64
	work := func() {
		xc := make([]float64, min(rows, predictBlock)*d)
		for {
			k := int(next.Add(1) - 1)
			if k >= blocks || ctx.Err() != nil {
				return
			}
			lo, hi := k*predictBlock, min((k+1)*predictBlock, rows)
			errs[k] = m.predictBlock(x[lo*d:hi*d], lo, hi-lo, xc[:(hi-lo)*d], out[lo*c:hi*c])
		}
	}
	// A tree ensemble spreads each block's rows over the cores itself.
	if workers := min(runtime.GOMAXPROCS(0), blocks); workers > 1 && m.Trees == nil {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(work)
		}
		wg.Wait()
	} else {
		work()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// predictBlock scores the rows rows of raw features x, the rows from
// first on of a larger input, into out, through the buffer xc.
func (m *Model) predictBlock(x []float64, first, rows int, xc, out []float64) error {
	d := len(m.Manifest.Features)
	copy(xc, x)
	if m.Trees != nil {
		m.Manifest.Preprocessing.ApplyKeepMissing(xc)
	} else {
		m.Manifest.Preprocessing.Apply(xc)
	}
	for i, v := range xc {
		if math.IsInf(v, 0) || (math.IsNaN(v) && m.Trees == nil) {
			return fmt.Errorf("predict: row %d feature %s is %v after preprocessing", first+i/d, m.Manifest.Features[i%d], x[i])
		}
	}
	if m.Trees != nil {
		m.Trees.PredictProba(xc, rows, out)
	} else {
		m.Net.PredictProba(xc, rows, out)
	}
	return nil
}

// Predict returns the class index of each row of raw features x: for a
// binary model, 1 when the probability of class 1 is at least
// Manifest.Threshold; otherwise the most probable class (the first on ties).
func (m *Model) Predict(ctx context.Context, x []float64, rows int) ([]int, error) {
	p, err := m.PredictProba(ctx, x, rows)
	if err != nil {
		return nil, err
	}
	c := m.Classes()
	binary := m.Binary()
	pred := make([]int, rows)
	for i := range pred {
		row := p[i*c : (i+1)*c]
		if binary {
			if row[1] >= m.Manifest.Threshold {
				pred[i] = 1
			}
			continue
		}
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		pred[i] = best
	}
	return pred, nil
}
