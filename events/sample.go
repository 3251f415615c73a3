package events

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed data/htru2.csv
var htru2 []byte

// Sample data set facts.
const (
	// SampleName is the bundled data set's file name.
	SampleName = "htru2.csv"
	// SampleTarget is its label column, SamplePositive the pulsar label.
	SampleTarget   = "class"
	SamplePositive = "1"
	// SampleSHA256 is the hash of the bundled file.
	SampleSHA256 = "02aadab3b4c0165d4704ea493277970b72820ec746c423f4380df44543df4106"
)

// SampleData returns the bundled HTRU2 CSV.
func SampleData() []byte { return htru2 }

// WriteSample makes sure dir/htru2.csv holds the bundled data set (writing it
// atomically if it is absent or differs) and returns its path.
func WriteSample(dir string) (string, error) {
	path := filepath.Join(dir, SampleName)
	if b, err := os.ReadFile(path); err == nil && hashOf(b) == SampleSHA256 {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write sample data: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".htru2-*.csv")
	if err != nil {
		return "", fmt.Errorf("write sample data: %w", err)
	}
	_, werr := tmp.Write(htru2)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write sample data %s: %w", path, errorsJoin(werr, cerr))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write sample data %s: %w", path, err)
	}
	return path, nil
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
