package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/orrery-ml/orrery/shared/tracking/progressbar"
)

// screenWidth is the width the human-readable output fits: a terminal of
// 100 columns shows every line whole.
const screenWidth = 100

// wrap breaks text into lines of at most screenWidth runes at spaces (see
// progressbar.Wrap); the lines after the first start with indent.
func wrap(text, indent string) string { return progressbar.Wrap(text, indent, screenWidth) }

// displayPath is p relative to the working directory when it lies below
// it (".orrery/artifacts/models/..." for the default home), else p.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(p) {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return rel
}
