package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/modelexport"
	"github.com/orrery-ml/orrery/shared/ml/nn"
)

const exportUsage = `  orrery export  --model MODEL_ID [--format onnx|mlflow] [--out FILE|DIR] [--data PATH [--hdu N|NAME]] [--home DIR]
                 write a registered model as ONNX (one input per feature, one p_<class> output per
                 class, preprocessing folded in) or as an MLflow model directory (MLmodel with the onnx
                 and python_function flavours, signature, input example: the first 5 rows of --data)
`

// exampleRows is how many rows of --data become the MLflow input example.
const exampleRows = 5

func init() { commands["export"] = cmdExport }

func cmdExport(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	modelID := fs.String("model", "", "registered model id")
	format := fs.String("format", "onnx", "onnx (one file) or mlflow (an MLflow model directory)")
	out := fs.String("out", "", "the file (onnx) or directory (mlflow) to write; an existing directory receives MODEL_ID.onnx (onnx)")
	data := fs.String("data", "", "a data file whose first rows are the MLflow input example (mlflow; default: rows from the training statistics)")
	hdu := fs.String("hdu", "", "FITS HDU or VOTable TABLE of --data")
	home := fs.String("home", "", "state directory")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("export: unexpected argument %q", pos[0])
	}
	if *modelID == "" {
		return usagef("export: --model is required")
	}
	if *format != "onnx" && *format != "mlflow" {
		return usagef("export: --format %q: want onnx or mlflow", *format)
	}
	if *data != "" && *format != "mlflow" {
		return usagef("export: --data gives the MLflow input example; it needs --format mlflow")
	}
	rt, err := openRuntime(ctx, *home, nil)
	if err != nil {
		return err
	}
	defer rt.Close()
	dir, err := rt.ModelDir(ctx, *modelID)
	if err != nil {
		return fmt.Errorf("export: model %s: %w", *modelID, err)
	}
	model, err := nn.LoadDir(dir)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if *format == "onnx" {
		b, err := modelexport.ONNX(model)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		path := *out
		if path == "" {
			path = *modelID + ".onnx"
		} else if st, err := os.Stat(path); err == nil && st.IsDir() {
			path = filepath.Join(path, *modelID+".onnx")
		}
		if err := writeFileAtomic(path, b); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintln(stdout, path)
		return nil
	}
	var opts modelexport.MLflowOptions
	if *data != "" {
		table, err := dataset.Read(ctx, dataset.WithHDU(*data, *hdu))
		if err != nil {
			return fmt.Errorf("export: input example: %w", err)
		}
		x, err := featureMatrix(table, model.Manifest.Features)
		if err != nil {
			return fmt.Errorf("export: input example: %w", err)
		}
		d := len(model.Manifest.Features)
		opts.Example = [][]float64{}
		for i := 0; i < min(table.Rows, exampleRows); i++ {
			opts.Example = append(opts.Example, x[i*d:(i+1)*d])
		}
	}
	files, err := modelexport.MLflowModel(model, opts)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	path := *out
	if path == "" {
		path = *modelID + "-mlflow"
	}
	if err := writeDirAtomic(path, files); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintln(stdout, path)
	return nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, so a failure leaves no partial file.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeDirAtomic creates the directory path holding files: it is built
// beside path under a temporary name and renamed into place, so a failure
// leaves nothing behind. An existing path is refused, never merged into.
func writeDirAtomic(path string, files map[string][]byte) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("write %s: it exists; choose another --out or remove it", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(tmp, n), files[n], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
