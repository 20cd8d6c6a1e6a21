# xent: `make test` checks everything, `make train` trains (cmd/train), `make lossbench` and
# `make bench` measure. Each target builds what it needs; Go 1.26 is the only prerequisite.
GO     ?= go
FLAGS  ?=
# The fastest build this machine allows: Go 1.26's SIMD experiment (AVX-512 kernels) on amd64.
FAST   := $(if $(filter amd64,$(shell $(GO) env GOARCH)),GOEXPERIMENT=simd,)

.PHONY: test lint bench lossbench train

# Both builds: the pure-Go fallback and the SIMD kernels.
test: lint
	$(GO) test -count=1 ./...
	$(if $(FAST),$(FAST) $(GO) test -count=1 ./...)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(if $(FAST),$(FAST) $(GO) vet ./...)

bench:
	$(FAST) $(GO) test -run '^$$' -bench . -benchmem $(FLAGS) ./...

lossbench:
	$(FAST) $(GO) build -o bin/lossbench ./cmd/lossbench
	./bin/lossbench $(FLAGS)

# Trains the default recipe (-preset quick); fetches CIFAR-10 first if it is not in
# $$CIFAR10_DIR (or -data DIR, or ~/.cache/cifar10/cifar-10-batches-bin). FLAGS='...' adds flags.
train:
	$(FAST) $(GO) build -o bin/train ./cmd/train
	mkdir -p runs && ./bin/train -download -metrics runs/train.jsonl -checkpoint-dir runs/checkpoints $(FLAGS)
