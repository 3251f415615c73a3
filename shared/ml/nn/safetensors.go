package nn

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/orrery-ml/orrery/shared/fault"
)

// Safetensors data types.
const (
	F64 = "F64"
	F32 = "F32"
)

// maxHeader bounds the JSON header ReadSafetensors accepts (100 MB, as the
// reference implementation).
const maxHeader = 100 << 20

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// ErrMalformedSafetensors is wrapped by every error about a malformed
// safetensors stream.
var ErrMalformedSafetensors = fault.New(fault.Invalid, "nn: malformed safetensors")

// Tensor is a named dense tensor; Data holds the values in row-major order
// and has the product of Shape values (1 for a scalar, Shape empty).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float64
}

// tensorHeader is one tensor's entry in a safetensors header.
type tensorHeader struct {
	Dtype       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

func dtypeSize(dtype string) int {
	switch dtype {
	case F64:
		return 8
	case F32:
		return 4
	}
	return 0
}

// elements returns the product of shape, or an error if a dimension is
// negative or the product overflows limit.
func elements(shape []int, limit int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > limit/int64(d) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// WriteSafetensors writes tensors in the safetensors format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON (space-padded to a multiple of 8) describing each
// tensor's dtype, shape and data offsets plus "__metadata__", then the
// tensors' little-endian data in the order given. dtype is F64 (the default
// when empty) or F32 (values rounded to float32).
func WriteSafetensors(w io.Writer, tensors []Tensor, meta map[string]string, dtype string) error {
	if dtype == "" {
		dtype = F64
	}
	size := dtypeSize(dtype)
	if size == 0 {
		return fmt.Errorf("nn: write safetensors: dtype %q is not F64 or F32", dtype)
	}
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(meta) > 0 {
		m, err := json.Marshal(meta)
		if err != nil {
			return fmt.Errorf("nn: write safetensors: encode metadata: %w", err)
		}
		hdr.WriteString(`"` + metadataKey + `":`)
		hdr.Write(m)
	}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for i, t := range tensors {
		if t.Name == "" || t.Name == metadataKey || seen[t.Name] {
			return fmt.Errorf("nn: write safetensors: tensor %d has an empty, reserved or repeated name %q", i, t.Name)
		}
		seen[t.Name] = true
		n, err := elements(t.Shape, math.MaxInt64/8)
		if err != nil || n != int64(len(t.Data)) {
			return fmt.Errorf("nn: write safetensors: tensor %s has shape %v and %d values", t.Name, t.Shape, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		e, err := json.Marshal(tensorHeader{Dtype: dtype, Shape: shape, DataOffsets: []int64{off, off + n*int64(size)}})
		if err != nil {
			return fmt.Errorf("nn: write safetensors: encode header of %s: %w", t.Name, err)
		}
		name, _ := json.Marshal(t.Name) // a string always encodes
		if hdr.Len() > 1 {
			hdr.WriteByte(',')
		}
		hdr.Write(name)
		hdr.WriteByte(':')
		hdr.Write(e)
		off += n * int64(size)
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	bw.Write(lenBuf[:])
	bw.Write(hdr.Bytes())
	var buf [8]byte
	for _, t := range tensors {
		for _, v := range t.Data {
			if dtype == F64 {
				binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
			} else {
				binary.LittleEndian.PutUint32(buf[:4], math.Float32bits(float32(v)))
			}
			bw.Write(buf[:size])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("nn: write safetensors: %w", err)
	}
	return nil
}

// ReadSafetensors reads a safetensors stream with F64 or F32 tensors
// (converted to float64) and returns the tensors in data-offset order and
// the metadata. It rejects, wrapping ErrMalformedSafetensors, a header over
// 100 MB or that is not a JSON object of tensor entries, unknown dtypes,
// shapes that disagree with their byte ranges, offsets that overlap, leave
// holes or run past the data, and trailing bytes.
func ReadSafetensors(r io.Reader) ([]Tensor, map[string]string, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: read header length: %w", ErrMalformedSafetensors, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > maxHeader {
		return nil, nil, fmt.Errorf("%w: header length %d is not in [2, %d]", ErrMalformedSafetensors, n, maxHeader)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, fmt.Errorf("%w: read %d-byte header: %w", ErrMalformedSafetensors, n, err)
	}
	entries, meta, err := parseHeader(hdr)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformedSafetensors, err)
	}
	var total int64
	if len(entries) > 0 {
		total = entries[len(entries)-1].end
	}
	data, err := io.ReadAll(io.LimitReader(r, total))
	if err != nil {
		return nil, nil, fmt.Errorf("nn: read safetensors data: %w", err)
	}
	if int64(len(data)) != total {
		return nil, nil, fmt.Errorf("%w: data area has %d bytes, the header describes %d", ErrMalformedSafetensors, len(data), total)
	}
	var probe [1]byte
	if k, _ := io.ReadFull(r, probe[:]); k > 0 {
		return nil, nil, fmt.Errorf("%w: trailing bytes after the %d-byte data area", ErrMalformedSafetensors, total)
	}
	tensors := make([]Tensor, len(entries))
	for i, e := range entries {
		raw := data[e.begin:e.end]
		vals := make([]float64, e.count)
		switch e.dtype {
		case F64:
			for j := range vals {
				vals[j] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
			}
		case F32:
			for j := range vals {
				vals[j] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])))
			}
		}
		tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: vals}
	}
	return tensors, meta, nil
}

// headerEntry is a validated tensor entry of a header.
type headerEntry struct {
	name       string
	dtype      string
	shape      []int
	count      int64
	begin, end int64
}

// parseHeader decodes and validates a header; entries come back sorted by
// offset, checked to tile the data area from 0 without gaps or overlaps.
func parseHeader(hdr []byte) ([]headerEntry, map[string]string, error) {
	if hdr[0] != '{' {
		return nil, nil, fmt.Errorf("header does not start with '{'")
	}
	trimmed := strings.TrimRight(string(hdr), " ")
	dec := json.NewDecoder(strings.NewReader(trimmed))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("header is not a JSON object")
	}
	var (
		entries []headerEntry
		meta    map[string]string
		seen    = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header: %w", err)
		}
		name, _ := tok.(string) // object keys are strings
		if seen[name] {
			return nil, nil, fmt.Errorf("header repeats entry %q", name)
		}
		seen[name] = true
		if name == metadataKey {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, fmt.Errorf("header %s is not an object of strings: %w", metadataKey, err)
			}
			continue
		}
		if name == "" {
			return nil, nil, fmt.Errorf("header has a tensor with an empty name")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("header entry %q: %w", name, err)
		}
		var th tensorHeader
		td := json.NewDecoder(bytes.NewReader(raw))
		td.DisallowUnknownFields()
		if err := td.Decode(&th); err != nil {
			return nil, nil, fmt.Errorf("header entry %q: %w", name, err)
		}
		size := dtypeSize(th.Dtype)
		if size == 0 {
			return nil, nil, fmt.Errorf("tensor %q has unsupported dtype %q (want F64 or F32)", name, th.Dtype)
		}
		if th.Shape == nil {
			return nil, nil, fmt.Errorf("tensor %q has no shape", name)
		}
		count, err := elements(th.Shape, math.MaxInt64/8)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if len(th.DataOffsets) != 2 || th.DataOffsets[0] < 0 || th.DataOffsets[1] < th.DataOffsets[0] {
			return nil, nil, fmt.Errorf("tensor %q has data_offsets %v, want [begin, end] with 0 <= begin <= end", name, th.DataOffsets)
		}
		if th.DataOffsets[1]-th.DataOffsets[0] != count*int64(size) {
			return nil, nil, fmt.Errorf("tensor %q of shape %v and dtype %s needs %d bytes, its offsets %v span %d",
				name, th.Shape, th.Dtype, count*int64(size), th.DataOffsets, th.DataOffsets[1]-th.DataOffsets[0])
		}
		entries = append(entries, headerEntry{name: name, dtype: th.Dtype, shape: th.Shape, count: count,
			begin: th.DataOffsets[0], end: th.DataOffsets[1]})
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("header has data after its JSON object")
	}
	slices.SortStableFunc(entries, func(a, b headerEntry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end))
	})
	var pos int64
	for _, e := range entries {
		if e.begin != pos {
			if e.begin < pos {
				return nil, nil, fmt.Errorf("tensor %q at offsets [%d, %d] overlaps the previous tensor ending at %d", e.name, e.begin, e.end, pos)
			}
			return nil, nil, fmt.Errorf("tensor %q starts at %d, leaving a hole after offset %d", e.name, e.begin, pos)
		}
		pos = e.end
	}
	return entries, meta, nil
}
