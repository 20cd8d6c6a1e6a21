# xent: `make test` checks everything, `make train` trains (cmd/train), `make lossbench` and
# `make bench` measure. Each target builds what it needs; Go 1.26 is the only prerequisite.
GO     ?= go
FLAGS  ?=
# The fastest build this machine allows: Go 1.26's SIMD experiment (AVX-512 kernels) on amd64,
# and OpenBLAS through cgo when the library is installed (Debian: libopenblas-dev); with
# OpenMPI's (Debian: openmpi-bin libopenmpi-dev), the mpi tag too: bin/train then trains
# data-parallel under mpirun (README: Many processes, many machines).
FAST   := $(if $(filter amd64,$(shell $(GO) env GOARCH)),GOEXPERIMENT=simd,)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BLAS   := $(if $(shell ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so ' && echo yes),openblas,)
MPI    := $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo yes),mpi,)
comma  := ,
TAGS   := $(if $(BLAS)$(MPI),-tags $(BLAS)$(if $(and $(BLAS),$(MPI)),$(comma))$(MPI),)

.PHONY: test lint fuzz bench gobench lossbench train

# Both builds: the pure-Go one, and the fast one (SIMD kernels, OpenBLAS where installed).
test: lint
	$(GO) test -count=1 ./...
	$(FAST) $(GO) test -count=1 $(TAGS) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(FAST) $(GO) vet $(TAGS) ./...
	$(GO) run $(STATICCHECK) ./...
	$(FAST) $(GO) run $(STATICCHECK) $(TAGS) ./...

# Every fuzz target (func FuzzX in a _test.go file) for FUZZTIME each; `make test` runs
# their seed corpora.
FUZZTIME ?= 60s
fuzz:
	@for f in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -c6-); do \
	    echo "fuzz $$t in ./$$(dirname $$f) for $(FUZZTIME)"; \
	    $(GO) test ./$$(dirname $$f) -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

# Training and inference img/s and peak RSS of the reference models (cmd/bench).
bench:
	$(FAST) $(GO) build $(TAGS) -o bin/bench ./cmd/bench
	./bin/bench $(FLAGS)

# The go test benchmarks of every package.
gobench:
	$(FAST) $(GO) test $(TAGS) -run '^$$' -bench . -benchmem $(FLAGS) ./...

lossbench:
	$(FAST) $(GO) build $(TAGS) -o bin/lossbench ./cmd/lossbench
	./bin/lossbench $(FLAGS)

# Trains the default recipe (-preset quick); fetches CIFAR-10 first if it is not in
# $$CIFAR10_DIR (or -data DIR, or ~/.cache/cifar10/cifar-10-batches-bin). FLAGS='...' adds flags.
# Interrupted (Ctrl-C), it continues where it stopped when run again (-resume=auto); to
# train afresh, remove runs/checkpoints.
train:
	$(FAST) $(GO) build $(TAGS) -o bin/train ./cmd/train
	mkdir -p runs && ./bin/train -download -metrics runs/train.jsonl -checkpoint-dir runs/checkpoints -resume=auto $(FLAGS)
