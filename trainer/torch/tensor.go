//go:build torch

package torch

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/orrery-ml/orrery/shared/fault"
)

// This file wraps the libtorch C API of gotch (package libtch) with explicit
// lifetimes. gotch's ts.Tensor frees tensors from Go finalizers and leaks a
// small C allocation per operation (and the old handle of every in-place
// operation), so a long training run would grow; here every handle belongs to
// an arena and is freed when the arena is, deterministically.
//
// libtorch keeps the last error and the autograd mode per OS thread, so the
// caller must hold its OS thread (runtime.LockOSThread) while using an arena.

// ErrLibtorch is wrapped by errors that libtorch reported.
var ErrLibtorch = fault.New(fault.Internal, "torch: libtorch error")

// dtypes as libtorch numbers them (c10::ScalarType).
const (
	kindInt64   = int32(4)
	kindFloat32 = int32(6)
)

// Reductions of the loss functions (at::Reduction).
const reductionMean = 1

// tensor is a libtorch tensor handle owned by an arena.
type tensor struct{ c lib.Ctensor }

// arena owns the tensor and scalar handles made through it and frees them
// all at once. After an operation fails, the arena records the error and
// skips every later operation (returning empty tensors), so a sequence of
// operations needs one error check at the end.
type arena struct {
	held    []lib.Ctensor
	scalars []lib.Cscalar
	err     error
}

// torchErr returns libtorch's pending error on this thread, if any, without
// the Go stack trace gotch appends.
func torchErr() error {
	err := ts.TorchErr()
	if err == nil {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), "Libtorch API Error: ")
	if i := strings.Index(msg, "\ngoroutine "); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.Index(msg, "\nException raised from"); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("%w: %s", ErrLibtorch, strings.TrimSpace(msg))
}

// fail records err (wrapped with op) unless an error is recorded already.
func (a *arena) fail(op string, err error) {
	if a.err == nil {
		a.err = fmt.Errorf("%s: %w", op, err)
	}
}

// op runs one libtorch call that writes a new handle to out, and takes
// ownership of the handle.
func (a *arena) op(name string, call func(out *lib.Ctensor)) tensor {
	if a.err != nil {
		return tensor{}
	}
	var out lib.Ctensor
	call(&out)
	if err := torchErr(); err != nil {
		a.fail(name, err)
		return tensor{}
	}
	a.held = append(a.held, out)
	return tensor{out}
}

// inPlace runs one in-place libtorch call; the new handle it returns refers
// to the same tensor and is freed at once.
func (a *arena) inPlace(name string, call func(out *lib.Ctensor)) {
	if a.err != nil {
		return
	}
	var out lib.Ctensor
	call(&out)
	if err := torchErr(); err != nil {
		a.fail(name, err)
		return
	}
	lib.AtFree(out)
}

// scalar returns a libtorch scalar holding v, owned by the arena.
func (a *arena) scalar(v float64) lib.Cscalar {
	s := lib.AtsFloat(v)
	a.scalars = append(a.scalars, s)
	return s
}

// free releases every handle of the arena; the arena can be used again.
func (a *arena) free() {
	for _, c := range a.held {
		lib.AtFree(c)
	}
	for _, s := range a.scalars {
		lib.AtsFree(s)
	}
	clear(a.held)
	a.held = a.held[:0]
	a.scalars = a.scalars[:0]
}

// fromFloat32 copies data into a new tensor of the given shape on dev.
func (a *arena) fromFloat32(data []float32, shape []int64, dev gotch.Device) tensor {
	return a.fromData(unsafe.Pointer(unsafe.SliceData(data)), 4, kindFloat32, shape, dev)
}

// fromInt64 copies data into a new tensor of the given shape on dev.
func (a *arena) fromInt64(data []int64, shape []int64, dev gotch.Device) tensor {
	return a.fromData(unsafe.Pointer(unsafe.SliceData(data)), 8, kindInt64, shape, dev)
}

func (a *arena) fromData(ptr unsafe.Pointer, size uint, kind int32, shape []int64, dev gotch.Device) tensor {
	if a.err != nil {
		return tensor{}
	}
	c := lib.AtTensorOfData(ptr, shape, uint(len(shape)), size, int(kind))
	if err := torchErr(); err != nil {
		a.fail("tensor from data", err)
		return tensor{}
	}
	a.held = append(a.held, c)
	t := tensor{c}
	if dev != gotch.CPU {
		t = a.to(t, dev)
	}
	return t
}

// zeros returns a float32 tensor of zeros on dev.
func (a *arena) zeros(shape []int64, dev gotch.Device) tensor {
	return a.op("zeros", func(out *lib.Ctensor) { lib.AtgZeros(out, shape, len(shape), kindFloat32, int32(dev.CInt())) })
}

// undefined returns an undefined tensor, libtorch's "None" for optional
// arguments.
func (a *arena) undefined() tensor {
	if a.err != nil {
		return tensor{}
	}
	c := lib.AtNewTensor()
	a.held = append(a.held, c)
	return tensor{c}
}

// toFloat32 copies t (float32, any device) into dst, which must hold exactly
// t's element count.
func (a *arena) toFloat32(t tensor, dst []float32) {
	if a.err != nil {
		return
	}
	host := a.op("to cpu", func(out *lib.Ctensor) { lib.AtgTo(out, t.c, int32(gotch.CPU.CInt())) })
	host = a.op("contiguous", func(out *lib.Ctensor) { lib.AtgContiguous(out, host.c) })
	if a.err != nil {
		return
	}
	lib.AtCopyData(host.c, unsafe.Pointer(unsafe.SliceData(dst)), uint(len(dst)), 4)
	if err := torchErr(); err != nil {
		a.fail("copy to host", err)
	}
}

func (a *arena) to(t tensor, dev gotch.Device) tensor {
	return a.op("to device", func(out *lib.Ctensor) { lib.AtgTo(out, t.c, int32(dev.CInt())) })
}

func (a *arena) narrow(t tensor, dim, start, length int64) tensor {
	return a.op("narrow", func(out *lib.Ctensor) { lib.AtgNarrow(out, t.c, dim, start, length) })
}

func (a *arena) view(t tensor, shape []int64) tensor {
	return a.op("view", func(out *lib.Ctensor) { lib.AtgView(out, t.c, shape, len(shape)) })
}

func (a *arena) indexSelect(t tensor, index tensor) tensor {
	return a.op("index_select", func(out *lib.Ctensor) { lib.AtgIndexSelect(out, t.c, 0, index.c) })
}

// linear is x·wᵀ + b (torch.nn.functional.linear).
func (a *arena) linear(x, w, b tensor) tensor {
	return a.op("linear", func(out *lib.Ctensor) { lib.AtgLinear(out, x.c, w.c, b.c) })
}

func (a *arena) relu(t tensor) tensor {
	return a.op("relu", func(out *lib.Ctensor) { lib.AtgRelu(out, t.c) })
}

func (a *arena) tanh(t tensor) tensor {
	return a.op("tanh", func(out *lib.Ctensor) { lib.AtgTanh(out, t.c) })
}

// gelu is the exact GELU, x·Φ(x) (approximate='none').
func (a *arena) gelu(t tensor) tensor {
	return a.op("gelu", func(out *lib.Ctensor) { lib.AtgGelu(out, t.c, "none") })
}

func (a *arena) sigmoid(t tensor) tensor {
	return a.op("sigmoid", func(out *lib.Ctensor) { lib.AtgSigmoid(out, t.c) })
}

// dropout is inverted dropout in training mode (Srivastava et al. 2014).
func (a *arena) dropout(t tensor, p float64) tensor {
	return a.op("dropout", func(out *lib.Ctensor) { lib.AtgDropout(out, t.c, p, 1) })
}

// bceWithLogits is the mean of weight·BCE(sigmoid(z), y) over the rows
// (weight undefined: all 1), torch's BCEWithLogitsLoss(reduction='mean').
func (a *arena) bceWithLogits(z, y, weight tensor) tensor {
	none := a.undefined()
	return a.op("binary_cross_entropy_with_logits", func(out *lib.Ctensor) {
		lib.AtgBinaryCrossEntropyWithLogits(out, z.c, y.c, weight.c, none.c, reductionMean)
	})
}

// crossEntropy is torch's CrossEntropyLoss(weight, reduction='mean'):
// Σ w[y]·ℓ / Σ w[y] (weight undefined: all 1).
func (a *arena) crossEntropy(z, y, weight tensor) tensor {
	return a.op("cross_entropy", func(out *lib.Ctensor) { lib.AtgCrossEntropyLoss(out, z.c, y.c, weight.c, reductionMean, -100, 0) })
}

func (a *arena) mul(t, o tensor) tensor {
	return a.op("mul", func(out *lib.Ctensor) { lib.AtgMul(out, t.c, o.c) })
}

func (a *arena) mulScalar(t tensor, v float64) tensor {
	s := a.scalar(v)
	return a.op("mul", func(out *lib.Ctensor) { lib.AtgMulScalar(out, t.c, s) })
}

func (a *arena) div(t, o tensor) tensor {
	return a.op("div", func(out *lib.Ctensor) { lib.AtgDiv(out, t.c, o.c) })
}

func (a *arena) sqrt(t tensor) tensor {
	return a.op("sqrt", func(out *lib.Ctensor) { lib.AtgSqrt(out, t.c) })
}

func (a *arena) detach(t tensor) tensor {
	return a.op("detach", func(out *lib.Ctensor) { lib.AtgDetach(out, t.c) })
}

// grad returns the gradient of t (undefined before the first backward).
func (a *arena) grad(t tensor) tensor {
	return a.op("grad", func(out *lib.Ctensor) { lib.AtgGrad(out, t.c) })
}

func (a *arena) requiresGrad(t tensor) {
	a.inPlace("requires_grad_", func(out *lib.Ctensor) { lib.AtgRequiresGrad_(out, t.c, 1) })
}

func (a *arena) mulScalar_(t tensor, v float64) {
	s := a.scalar(v)
	a.inPlace("mul_", func(out *lib.Ctensor) { lib.AtgMulScalar_(out, t.c, s) })
}

func (a *arena) addScalar_(t tensor, v float64) {
	s := a.scalar(v)
	a.inPlace("add_", func(out *lib.Ctensor) { lib.AtgAddScalar_(out, t.c, s) })
}

func (a *arena) divScalar_(t tensor, v float64) {
	s := a.scalar(v)
	a.inPlace("div_", func(out *lib.Ctensor) { lib.AtgDivScalar_(out, t.c, s) })
}

// lerp_ is t += w·(end - t).
func (a *arena) lerp_(t, end tensor, w float64) {
	s := a.scalar(w)
	a.inPlace("lerp_", func(out *lib.Ctensor) { lib.AtgLerp_(out, t.c, end.c, s) })
}

// addcmul_ is t += x·y.
func (a *arena) addcmul_(t, x, y tensor) {
	a.inPlace("addcmul_", func(out *lib.Ctensor) { lib.AtgAddcmul_(out, t.c, x.c, y.c) })
}

func (a *arena) add_(t, o tensor) {
	a.inPlace("add_", func(out *lib.Ctensor) { lib.AtgAdd_(out, t.c, o.c) })
}

func (a *arena) zero_(t tensor) {
	a.inPlace("zero_", func(out *lib.Ctensor) { lib.AtgZero_(out, t.c) })
}

// copy_ copies src's values into t.
func (a *arena) copy_(t, src tensor) {
	if a.err != nil {
		return
	}
	lib.AtCopy_(t.c, src.c)
	if err := torchErr(); err != nil {
		a.fail("copy_", err)
	}
}

// backward back-propagates from the scalar t.
func (a *arena) backward(t tensor) {
	if a.err != nil {
		return
	}
	lib.AtBackward(t.c, 0, 0)
	if err := torchErr(); err != nil {
		a.fail("backward", err)
	}
}

// setGrad switches autograd on or off for this thread and returns the
// previous mode.
func setGrad(on bool) bool {
	v := 0
	if on {
		v = 1
	}
	return lib.AtGradSetEnabled(v) == 1
}
