//go:build torch

package torch

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/resources"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Device names understood by Trainer.Device.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
)

// Optimizer constants, torch.optim's defaults (as the pure-Go engine).
const (
	adamBeta1  = 0.9
	adamBeta2  = 0.999
	adamEps    = 1e-8
	rmspropRho = 0.99
	rmspropEps = 1e-8
)

// validationChunk bounds the rows evaluated in one forward pass.
const validationChunk = 1 << 15

var (
	// ErrNoCUDA is returned when Device is cuda and libtorch finds no CUDA
	// device (or was built without CUDA).
	ErrNoCUDA = fault.New(fault.Unavailable, "torch: CUDA is not available")
	// ErrDevice is returned for a Device that is neither cpu nor cuda.
	ErrDevice = fault.New(fault.Invalid, "torch: unknown device")
)

// Trainer trains networks with libtorch under the contract of
// training.ModelTrainer: the same input and result types, the same
// mini-batch order (a PCG shuffle seeded with (Config.Seed, epoch)), the same
// initial weights, learning-rate schedule, losses, optimizer update rules,
// early stopping and validation metrics; progress goes to Recorder (nil:
// tracking.Discard) and a checkpoint to Checkpoints (nil: none) after every
// epoch. Tensors are float32, as in PyTorch.
//
// Two things differ from the pure-Go engine: dropout masks come from
// libtorch's generator, and cancelling ctx saves a checkpoint of the state
// between mini-batches (not only at the last epoch's end), from which the
// next call resumes at the same mini-batch.
type Trainer struct {
	Recorder    tracking.Recorder
	Checkpoints training.Checkpointer
	// Device is cpu (default) or cuda (the first GPU). The CPU thread count
	// is libtorch's: OMP_NUM_THREADS when set, else the physical cores.
	Device string
	// Resources samples CPU, memory and GPU use for every epoch's
	// EpochStats.Resources and progress metrics (nil: resources.Process()).
	Resources resources.Sampler
}

// device resolves t.Device.
func (t Trainer) device() (gotch.Device, error) {
	switch t.Device {
	case "", DeviceCPU:
		return gotch.CPU, nil
	case DeviceCUDA:
		if !lib.AtcCudaIsAvailable() {
			return gotch.Device{}, ErrNoCUDA
		}
		return gotch.CudaBuilder(0), nil
	}
	return gotch.Device{}, fmt.Errorf("%w %q (want %s or %s)", ErrDevice, t.Device, DeviceCPU, DeviceCUDA)
}

// Train fits a network to in.Train, validating on in.Validation after every
// epoch; see Trainer. Errors wrap the sentinels of package training
// (ErrInvalidConfig, ErrInvalidExamples, ErrDiverged, ErrCheckpointMismatch),
// ErrNoCUDA, ErrLibtorch, or ctx.Err().
func (t Trainer) Train(ctx context.Context, in training.TrainInput) (*training.TrainResult, error) {
	rec := t.Recorder
	if rec == nil {
		rec = tracking.Discard
	}
	res, err := t.train(ctx, in, rec)
	if err != nil {
		e := tracking.Event{JobID: in.JobID, Kind: tracking.StageFinished, Stage: training.StageTrain, Err: err.Error(), Time: time.Now().UTC()}
		_ = rec.Record(context.WithoutCancel(ctx), e)
		return nil, fmt.Errorf("train job %s on %s: %w", in.JobID, Backend, err)
	}
	return res, nil
}

func (t Trainer) train(ctx context.Context, in training.TrainInput, rec tracking.Recorder) (*training.TrainResult, error) {
	p, err := newPlan(in)
	if err != nil {
		return nil, err
	}
	stop, err := training.NewEarlyStopper(p.cfg.EarlyStop, p.cfg.Epochs)
	if err != nil {
		return nil, err
	}
	if t.Checkpoints != nil && in.JobID == "" {
		return nil, fmt.Errorf("%w: checkpoints need a job id", training.ErrInvalidExamples)
	}
	// libtorch's error slot and autograd mode are per thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := t.device()
	if err != nil {
		return nil, err
	}
	e, err := newEngine(p, in, dev)
	if err != nil {
		return nil, err
	}
	defer e.close()
	r := &run{t: t, p: p, in: in, e: e, rec: rec, stop: stop}
	return r.loop(ctx)
}

// run is the state of one Train call.
type run struct {
	t    Trainer
	p    *plan
	in   training.TrainInput
	e    *engine
	rec  tracking.Recorder
	pr   progress
	stop *training.EarlyStopper

	recordErrors int
	firstRecErr  error
	usage        *training.UsageMeter
}

func (r *run) record(ctx context.Context, ev tracking.Event) {
	ev.JobID, ev.Stage, ev.Time = r.in.JobID, training.StageTrain, time.Now().UTC()
	if err := r.rec.Record(ctx, ev); err != nil {
		r.recordErrors++
		if r.firstRecErr == nil {
			r.firstRecErr = err
		}
	}
}

func (r *run) loop(ctx context.Context) (*training.TrainResult, error) {
	resumed, err := r.resume(ctx)
	if err != nil {
		return nil, err
	}
	cfg := r.p.cfg
	r.record(ctx, tracking.Event{Kind: tracking.StageStarted, Step: r.pr.Epoch, Total: cfg.Epochs, Unit: "epoch"})
	rows := r.in.Train.Rows
	batch := min(cfg.BatchSize, rows)
	perm := make([]int, rows)
	perm64 := make([]int64, rows)
	start := time.Now()
	first := r.pr.Epoch
	r.usage = training.NewUsageMeter(ctx, r.t.Resources)
	defer r.usage.Stop()

	for !r.stop.Done() && r.pr.Epoch < cfg.Epochs {
		epoch := r.pr.Epoch + 1
		epochStart := time.Now()
		lr := training.LearningRate(cfg, epoch)
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(epoch)))
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for i, v := range perm {
			perm64[i] = int64(v)
		}
		if err := r.e.startEpoch(perm64, r.pr.LossSum); err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		for b := r.pr.Batch; b*batch < rows; b++ {
			if err := ctx.Err(); err != nil {
				r.pr.Batch = b
				if serr := r.save(context.WithoutCancel(ctx)); serr != nil {
					return nil, fmt.Errorf("epoch %d: %w (and saving the checkpoint failed: %v)", epoch, err, serr)
				}
				return nil, fmt.Errorf("epoch %d, mini-batch %d: %w", epoch, b, err)
			}
			lo := b * batch
			if err := r.e.step(lo, min(batch, rows-lo), lr); err != nil {
				return nil, fmt.Errorf("epoch %d: %w", epoch, err)
			}
		}
		lossSum, err := r.e.epochLoss()
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		stats := training.EpochStats{Epoch: epoch, LearningRate: lr, TrainLoss: lossSum / float64(rows)}
		if math.IsNaN(stats.TrainLoss) || math.IsInf(stats.TrainLoss, 0) {
			return nil, fmt.Errorf("%w: epoch %d: training loss is %v (try a lower learning_rate)", training.ErrDiverged, epoch, stats.TrainLoss)
		}
		if stats.ValLoss, stats.ValAUCPR, stats.ValAUCROC, err = r.validate(); err != nil {
			return nil, fmt.Errorf("epoch %d: validate: %w", epoch, err)
		}
		if math.IsNaN(stats.ValLoss) || math.IsInf(stats.ValLoss, 0) {
			return nil, fmt.Errorf("%w: epoch %d: validation loss is %v (try a lower learning_rate)", training.ErrDiverged, epoch, stats.ValLoss)
		}
		stats.Seconds = time.Since(epochStart).Seconds()
		r.usage.Epoch(ctx, &stats)
		step, err := r.stop.Observe(stats)
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		r.pr.finish(stats)
		if step.Improved {
			if err := r.e.keepBest(); err != nil {
				return nil, fmt.Errorf("epoch %d: %w", epoch, err)
			}
		}
		if err := r.save(ctx); err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		eta := tracking.ETA(time.Since(start), epoch-first, cfg.Epochs-first)
		r.record(ctx, tracking.Event{Kind: tracking.Progress, Step: epoch, Total: cfg.Epochs, Unit: "epoch",
			ETASeconds: eta.Seconds(), Metrics: training.ProgressMetrics(stats, map[string]float64{
				"loss": stats.TrainLoss, "val_loss": stats.ValLoss, "val_auc_pr": stats.ValAUCPR,
				"val_auc_roc": stats.ValAUCROC, "lr": lr})})
	}
	return r.result(ctx, resumed)
}

// validate evaluates the current weights on the validation split.
func (r *run) validate() (loss, aucPR, aucROC float64, err error) {
	logits, err := r.e.validationLogits()
	if err != nil {
		return 0, 0, 0, err
	}
	val := r.in.Validation
	return validationMetrics(r.p.loss, logits, r.p.spec.Outputs, val.Y, r.in.ClassWeights)
}

// result assembles the TrainResult: the best epoch's weights with early
// stopping, the last epoch's otherwise.
func (r *run) result(ctx context.Context, resumed int) (*training.TrainResult, error) {
	cfg := r.p.cfg
	bestEpoch, restoreBest, reason := r.stop.Outcome()
	params, err := r.e.paramsHost(restoreBest)
	if err != nil {
		return nil, err
	}
	net, err := netFromParams(r.p.spec, params)
	if err != nil {
		return nil, err
	}
	res := &training.TrainResult{Net: net, Spec: net.Spec, History: r.pr.History, EpochsRun: r.pr.Epoch,
		StopReason: reason, ResumedFrom: resumed, BestEpoch: bestEpoch}
	r.record(ctx, tracking.Event{Kind: tracking.StageFinished, Step: r.pr.Epoch, Total: cfg.Epochs, Unit: "epoch",
		Message: res.StopReason, Metrics: map[string]float64{"best_epoch": float64(res.BestEpoch)}})
	if r.usage != nil {
		res.Warnings = append(res.Warnings, r.usage.Warnings()...)
	}
	if r.recordErrors > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("recording progress failed %d times; first error: %v", r.recordErrors, r.firstRecErr))
	}
	return res, nil
}

// save writes the checkpoint of the current state, if checkpointing.
func (r *run) save(ctx context.Context) error {
	if r.t.Checkpoints == nil {
		return nil
	}
	if r.pr.Batch > 0 {
		sum, err := r.e.epochLoss()
		if err != nil {
			return err
		}
		r.pr.LossSum = sum
	}
	c, err := r.e.snapshot()
	if err != nil {
		return err
	}
	c.ConfigHash, c.DataHash, c.Progress = r.p.cfgHash, r.p.dataHash, saveProgress(r.pr, r.stop.State())
	data, err := encodeCheckpoint(c)
	if err != nil {
		return err
	}
	if err := r.t.Checkpoints.SaveCheckpoint(ctx, r.in.JobID, data); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// resume restores the job's checkpoint, if any, and returns its epoch.
func (r *run) resume(ctx context.Context) (int, error) {
	if r.t.Checkpoints == nil {
		return 0, nil
	}
	data, found, err := r.t.Checkpoints.LoadCheckpoint(ctx, r.in.JobID)
	if err != nil {
		return 0, fmt.Errorf("load checkpoint: %w", err)
	}
	if !found {
		return 0, nil
	}
	c, err := decodeCheckpoint(data, r.p, r.e.nparams)
	if err != nil {
		return 0, err
	}
	pr, es := c.Progress.split()
	if err := r.stop.Resume(es); err != nil {
		return 0, err
	}
	if err := r.e.restore(c); err != nil {
		return 0, err
	}
	r.pr = pr
	return r.pr.Epoch, nil
}

// engine holds a network's tensors and data on a device and runs its
// forward, backward and optimizer steps.
type engine struct {
	p       *plan
	dev     gotch.Device
	widths  []int
	nparams int

	keep arena // tensors that live for the whole run
	tmp  arena // tensors of one step, freed after it
	ep   arena // tensors of one epoch

	params tensor // the flat parameter vector, a leaf with requires_grad
	best   tensor // the best epoch's parameters
	decay  tensor // 1 on weights, 0 on biases
	l2mask tensor // l2 on weights, 0 on biases (coupled L2 penalty)
	m, v   tensor // optimizer buffers (undefined when unused)
	steps  int64  // optimizer steps taken

	x, y, w    tensor // training data, labels (float32 for BCE, int64 for CE), row weights
	classW     tensor // class weights for cross entropy (undefined: none)
	xVal       tensor
	valRows    int
	perm       tensor // this epoch's row order
	lossSum    tensor // Σ loss·rows of this epoch, on the device
	hasWeights bool
}

// newEngine moves the data and the initial weights to dev.
func newEngine(p *plan, in training.TrainInput, dev gotch.Device) (*engine, error) {
	e := &engine{p: p, dev: dev, widths: p.spec.Widths(), nparams: p.initialNet.NumParams()}
	a := &e.keep
	init := toFloat32(p.initialNet.Params())
	e.params = a.fromFloat32(init, []int64{int64(e.nparams)}, dev)
	a.requiresGrad(e.params)
	e.best = a.fromFloat32(init, []int64{int64(e.nparams)}, dev)

	mask := make([]float32, e.nparams)
	off := 0
	for l := 1; l < len(e.widths); l++ {
		nw := e.widths[l] * e.widths[l-1]
		for i := off; i < off+nw; i++ {
			mask[i] = 1
		}
		off += nw + e.widths[l]
	}
	e.decay = a.fromFloat32(mask, []int64{int64(e.nparams)}, dev)
	if p.l2 != 0 {
		e.l2mask = a.mulScalar(e.decay, p.l2)
	}
	switch p.opt.Name {
	case nn.Momentum, nn.RMSprop:
		e.m = a.zeros([]int64{int64(e.nparams)}, dev)
	case nn.Adam, nn.AdamW:
		e.m = a.zeros([]int64{int64(e.nparams)}, dev)
		e.v = a.zeros([]int64{int64(e.nparams)}, dev)
	}

	tr := in.Train
	e.x = a.fromFloat32(toFloat32(tr.X), []int64{int64(tr.Rows), int64(tr.Features)}, dev)
	if p.loss == nn.BinaryCrossEntropy {
		y := make([]float32, tr.Rows)
		for i, label := range tr.Y {
			y[i] = float32(label)
		}
		e.y = a.fromFloat32(y, []int64{int64(tr.Rows)}, dev)
		if in.ClassWeights != nil {
			w := make([]float32, tr.Rows)
			for i, label := range tr.Y {
				w[i] = float32(in.ClassWeights[label])
			}
			e.w, e.hasWeights = a.fromFloat32(w, []int64{int64(tr.Rows)}, dev), true
		}
	} else {
		y := make([]int64, tr.Rows)
		for i, label := range tr.Y {
			y[i] = int64(label)
		}
		e.y = a.fromInt64(y, []int64{int64(tr.Rows)}, dev)
		if in.ClassWeights != nil {
			e.classW = a.fromFloat32(toFloat32(in.ClassWeights), []int64{int64(len(in.ClassWeights))}, dev)
		} else {
			e.classW = a.undefined()
		}
	}
	val := in.Validation
	e.valRows = val.Rows
	e.xVal = a.fromFloat32(toFloat32(val.X), []int64{int64(val.Rows), int64(val.Features)}, dev)
	if a.err != nil {
		e.close()
		return nil, fmt.Errorf("move data to %s: %w", dev.Name, a.err)
	}
	return e, nil
}

// close frees every tensor of the engine.
func (e *engine) close() {
	e.tmp.free()
	e.ep.free()
	e.keep.free()
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// startEpoch uploads the epoch's row order and sets the loss accumulator to
// lossSum (non-zero when resuming inside an epoch).
func (e *engine) startEpoch(perm []int64, lossSum float64) error {
	e.ep.free()
	e.perm = e.ep.fromInt64(perm, []int64{int64(len(perm))}, e.dev)
	e.lossSum = e.ep.zeros([]int64{1}, e.dev)
	if lossSum != 0 {
		e.ep.addScalar_(e.lossSum, lossSum)
	}
	if err := e.ep.err; err != nil {
		e.ep.err = nil
		return err
	}
	return nil
}

// epochLoss returns Σ loss·rows over the epoch's mini-batches so far.
func (e *engine) epochLoss() (float64, error) {
	var v [1]float32
	e.tmp.toFloat32(e.lossSum, v[:])
	err := e.tmp.err
	e.tmp.free()
	e.tmp.err = nil
	return float64(v[0]), err
}

// forward returns the logits of x (rows × outputs); with train set, hidden
// activations go through dropout.
func (e *engine) forward(a *arena, x tensor, train bool) tensor {
	act := x
	off := int64(0)
	last := len(e.widths) - 2
	for l := 0; l <= last; l++ {
		in, out := int64(e.widths[l]), int64(e.widths[l+1])
		w := a.view(a.narrow(e.params, 0, off, in*out), []int64{out, in})
		b := a.narrow(e.params, 0, off+in*out, out)
		off += in*out + out
		z := a.linear(act, w, b)
		if l == last {
			return z
		}
		switch e.p.spec.Activation {
		case nn.ActivationTanh:
			act = a.tanh(z)
		case nn.ActivationGELU:
			act = a.gelu(z)
		case nn.ActivationSigmoid:
			act = a.sigmoid(z)
		default:
			act = a.relu(z)
		}
		if train && e.p.spec.Dropout > 0 {
			act = a.dropout(act, e.p.spec.Dropout)
		}
	}
	return tensor{}
}

// step trains on rows rows of the epoch's order starting at lo.
func (e *engine) step(lo, rows int, lr float64) error {
	a := &e.tmp
	defer a.free()
	idx := a.narrow(e.perm, 0, int64(lo), int64(rows))
	xb := a.indexSelect(e.x, idx)
	yb := a.indexSelect(e.y, idx)
	logits := e.forward(a, xb, true)
	var loss tensor
	if e.p.loss == nn.BinaryCrossEntropy {
		wb := a.undefined()
		if e.hasWeights {
			wb = a.indexSelect(e.w, idx)
		}
		loss = a.bceWithLogits(a.view(logits, []int64{int64(rows)}), yb, wb)
	} else {
		loss = a.crossEntropy(logits, yb, e.classW)
	}
	a.backward(loss)
	prev := setGrad(false)
	a.add_(e.lossSum, a.mulScalar(a.detach(loss), float64(rows)))
	g := a.grad(e.params)
	e.update(a, g, lr)
	a.zero_(g)
	setGrad(prev)
	if a.err != nil {
		err := a.err
		a.err = nil
		return err
	}
	return nil
}

// update applies one optimizer step to the parameters given their gradient
// g, following torch.optim's update rules (see nn.Optimizer): coupled L2 on
// the weights for sgd, momentum, adam and rmsprop; decoupled weight decay on
// the weights for adamw (Loshchilov & Hutter 2019); Adam as Kingma & Ba
// 2015 with bias correction; RMSprop as Hinton's lecture 6e.
func (e *engine) update(a *arena, g tensor, lr float64) {
	e.steps++
	p := e.params
	if e.p.l2 != 0 {
		a.addcmul_(g, p, e.l2mask)
	}
	switch e.p.opt.Name {
	case nn.SGD:
		a.add_(p, a.mulScalar(g, -lr))
	case nn.Momentum:
		a.mulScalar_(e.m, e.p.opt.Momentum)
		a.add_(e.m, g)
		a.add_(p, a.mulScalar(e.m, -lr))
	case nn.RMSprop:
		a.mulScalar_(e.m, rmspropRho)
		a.addcmul_(e.m, g, a.mulScalar(g, 1-rmspropRho))
		den := a.sqrt(e.m)
		a.addScalar_(den, rmspropEps)
		upd := a.div(g, den)
		a.mulScalar_(upd, -lr)
		a.add_(p, upd)
	case nn.Adam, nn.AdamW:
		if e.p.opt.Name == nn.AdamW && e.p.opt.WeightDecay != 0 {
			a.addcmul_(p, p, a.mulScalar(e.decay, -lr*e.p.opt.WeightDecay))
		}
		t := float64(e.steps)
		bc1 := 1 - math.Pow(adamBeta1, t)
		bc2 := 1 - math.Pow(adamBeta2, t)
		a.lerp_(e.m, g, 1-adamBeta1)
		a.mulScalar_(e.v, adamBeta2)
		a.addcmul_(e.v, g, a.mulScalar(g, 1-adamBeta2))
		den := a.sqrt(e.v)
		a.divScalar_(den, math.Sqrt(bc2))
		a.addScalar_(den, adamEps)
		upd := a.div(e.m, den)
		a.mulScalar_(upd, -lr/bc1)
		a.add_(p, upd)
	}
}

// validationLogits returns the logits of the validation split (rows ×
// outputs, row-major), computed without dropout or autograd.
func (e *engine) validationLogits() ([]float64, error) {
	a := &e.tmp
	defer a.free()
	prev := setGrad(false)
	defer setGrad(prev)
	out := e.p.spec.Outputs
	logits := make([]float64, e.valRows*out)
	buf := make([]float32, min(validationChunk, e.valRows)*out)
	for lo := 0; lo < e.valRows; lo += validationChunk {
		rows := min(validationChunk, e.valRows-lo)
		z := e.forward(a, a.narrow(e.xVal, 0, int64(lo), int64(rows)), false)
		a.toFloat32(z, buf[:rows*out])
		if a.err != nil {
			break
		}
		for i, v := range buf[:rows*out] {
			logits[lo*out+i] = float64(v)
		}
		a.free()
	}
	if a.err != nil {
		err := a.err
		a.err = nil
		return nil, err
	}
	return logits, nil
}

// keepBest copies the current parameters to the best ones.
func (e *engine) keepBest() error {
	a := &e.tmp
	defer a.free()
	prev := setGrad(false)
	a.copy_(e.best, e.params)
	setGrad(prev)
	if a.err != nil {
		err := a.err
		a.err = nil
		return err
	}
	return nil
}

// paramsHost returns the current (or best) parameters.
func (e *engine) paramsHost(best bool) ([]float32, error) {
	src := e.params
	if best {
		src = e.best
	}
	out := make([]float32, e.nparams)
	a := &e.tmp
	defer a.free()
	a.toFloat32(a.detach(src), out)
	if a.err != nil {
		err := a.err
		a.err = nil
		return nil, err
	}
	return out, nil
}

// snapshot copies the tensors a checkpoint holds to host memory.
func (e *engine) snapshot() (checkpoint, error) {
	c := checkpoint{Optimizer: optimizerState{Name: e.p.opt.Name, Step: e.steps}}
	a := &e.tmp
	defer a.free()
	c.Params = make([]float32, e.nparams)
	c.BestParams = make([]float32, e.nparams)
	a.toFloat32(a.detach(e.params), c.Params)
	a.toFloat32(e.best, c.BestParams)
	if e.m.c != nil {
		c.Optimizer.M = make([]float32, e.nparams)
		a.toFloat32(e.m, c.Optimizer.M)
	}
	if e.v.c != nil {
		c.Optimizer.V = make([]float32, e.nparams)
		a.toFloat32(e.v, c.Optimizer.V)
	}
	if a.err != nil {
		err := a.err
		a.err = nil
		return checkpoint{}, fmt.Errorf("snapshot: %w", err)
	}
	return c, nil
}

// restore loads a checkpoint's tensors.
func (e *engine) restore(c checkpoint) error {
	a := &e.tmp
	defer a.free()
	shape := []int64{int64(e.nparams)}
	prev := setGrad(false)
	a.copy_(e.params, a.fromFloat32(c.Params, shape, e.dev))
	a.copy_(e.best, a.fromFloat32(c.BestParams, shape, e.dev))
	if c.Optimizer.M != nil && e.m.c != nil {
		a.copy_(e.m, a.fromFloat32(c.Optimizer.M, shape, e.dev))
	}
	if c.Optimizer.V != nil && e.v.c != nil {
		a.copy_(e.v, a.fromFloat32(c.Optimizer.V, shape, e.dev))
	}
	setGrad(prev)
	e.steps = c.Optimizer.Step
	if a.err != nil {
		err := a.err
		a.err = nil
		return fmt.Errorf("restore checkpoint: %w", err)
	}
	return nil
}
