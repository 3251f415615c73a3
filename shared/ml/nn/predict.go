package nn

// predictChunk is the number of rows PredictProba pushes through the network
// at once, bounding its working memory.
const predictChunk = 1024

// PredictProba returns the class probabilities of rows rows of x (row-major,
// rows × Inputs, already preprocessed) without dropout: rows × C values where
// C = 2 for a single-logit network (column 0 = 1-p, column 1 = p) and
// C = Outputs otherwise (softmax). out is reused when it has the capacity.
// It returns nil when len(x) != rows*Inputs. PredictProba allocates its own
// buffers, so several goroutines may call it at once.
func (n *Network) PredictProba(x []float64, rows int, out []float64) []float64 {
	in := n.Spec.Inputs
	if rows < 0 || len(x) != rows*in {
		return nil
	}
	c := n.Spec.Classes()
	if cap(out) >= rows*c {
		out = out[:rows*c]
	} else {
		out = make([]float64, rows*c)
	}
	if rows == 0 {
		return out
	}
	ws := newWorkspace(n, min(rows, predictChunk), false)
	for lo := 0; lo < rows; lo += predictChunk {
		hi := min(lo+predictChunk, rows)
		logits, _ := ws.Forward(x[lo*in:hi*in], hi-lo, 0, nil) // sizes checked above
		Probabilities(logits, n.Spec.Outputs, out[lo*c:hi*c])
	}
	return out
}

// Logits writes the logits of rows rows of x (rows × Outputs) to out, reused
// when it has the capacity, without dropout. It returns nil when
// len(x) != rows*Inputs. Like PredictProba it is safe for concurrent use.
func (n *Network) Logits(x []float64, rows int, out []float64) []float64 {
	in, o := n.Spec.Inputs, n.Spec.Outputs
	if rows < 0 || len(x) != rows*in {
		return nil
	}
	if cap(out) >= rows*o {
		out = out[:rows*o]
	} else {
		out = make([]float64, rows*o)
	}
	if rows == 0 {
		return out
	}
	ws := newWorkspace(n, min(rows, predictChunk), false)
	for lo := 0; lo < rows; lo += predictChunk {
		hi := min(lo+predictChunk, rows)
		logits, _ := ws.Forward(x[lo*in:hi*in], hi-lo, 0, nil)
		copy(out[lo*o:hi*o], logits)
	}
	return out
}
