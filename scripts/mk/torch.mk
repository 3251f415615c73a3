# The Go/libtorch trainer (trainer/torch, build tag `torch`).
.PHONY: libtorch test-torch bench-torch trainer trainer-torch

libtorch: ## download libtorch 2.1.0 (PyPI torch wheel) and prepare gotch for it under .cache/libtorch
	scripts/setup-libtorch.sh

test-torch: ## build and test the libtorch backend on the CPU (sets libtorch up first)
	scripts/test-torch.sh

bench-torch: ## throughput of the libtorch trainer vs PyTorch 2.1.0 in Python (THREADS=, EPOCHS=, BATCH=, ORRERY_DEVICE=)
	scripts/bench-torch.sh

trainer: ## build the Batch trainer without libtorch (gonum backend only) into bin/trainer
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/trainer ./trainer

trainer-torch: ## build the Batch trainer with the libtorch backend into bin/trainer-torch
	@mkdir -p $(BIN)
	env $$(scripts/setup-libtorch.sh) $(GO) build -tags torch -o $(BIN)/trainer-torch ./trainer
