# The Go/libtorch trainer (trainer/torch, build tag `torch`).
.PHONY: libtorch test-torch test-torch-2.11 bench-torch bench-gpu trainer trainer-torch

libtorch: ## download libtorch 2.1.0 (PyPI torch wheel; TORCH_VERSION=2.11 for 2.11.0) and prepare gotch for it under .cache/
	scripts/setup-libtorch.sh cpu $(if $(TORCH_VERSION),$(TORCH_VERSION),2.1.0)

test-torch: ## build and test the libtorch backend on the CPU against libtorch 2.1.0 (sets libtorch up first)
	scripts/test-torch.sh 2.1.0

test-torch-2.11: ## the same against libtorch 2.11.0 (the GPU host's version; not in make test)
	scripts/test-torch.sh 2.11.0

bench-torch: ## throughput of the libtorch trainer vs PyTorch 2.1.0 in Python (THREADS=, EPOCHS=, BATCH=, ORRERY_DEVICE=)
	scripts/bench-torch.sh

trainer: ## build the Batch trainer without libtorch (gonum backend only) into bin/trainer
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/trainer ./trainer

trainer-torch: ## build the Batch trainer with the libtorch backend into bin/trainer-torch
	@mkdir -p $(BIN)
	env $$(scripts/setup-libtorch.sh) $(GO) build -tags torch -o $(BIN)/trainer-torch ./trainer

bench-gpu: ## the GPU check: pack the libtorch-vs-PyTorch bundle for a GPU host (DEVICE=cuda, TORCH_VERSION=2.11), or MODE=cpu to run its CPU half here (2.1)
	scripts/bench-gpu.sh $(if $(MODE),$(MODE),pack)
