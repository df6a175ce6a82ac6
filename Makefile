# hachaos: chaos and failover tests for HA Kubernetes. `make help` lists the targets.
# Every target takes CONFIG=<spec file> (default hachaos.yaml).
CONFIG ?= hachaos.yaml
GO     ?= go
BIN    := _output/bin/hachaos
# Where a chaos run's artifacts go (report, logs, Spec, redacted kubeconfig)
RUN_TIME  := $(shell date +%Y%m%d-%H%M%S)
ARTIFACTS ?= _artifacts/$(RUN_TIME)
# Ginkgo arguments for the suites, e.g. LABELS=topology
LABELS ?=
GINKGO_ARGS := -ginkgo.v $(if $(LABELS),-ginkgo.label-filter='$(LABELS)')

.PHONY: help test unit integration chaos chaos-negative chaos-interrupt security-negative cluster-up cluster-down cluster-status images setup build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## compile the hachaos command
	$(GO) build -o $(BIN) ./cmd/hachaos

test: unit integration ## everything: unit tests, then the integration tests on stacked and external etcd

unit: ## unit tests and vet: no Docker needed
	$(GO) vet ./...
	$(GO) vet -tags e2e ./suites
	$(GO) test ./...

# The integration tests bring up a fresh topology per config, run the topology suite on
# it and delete it again, also when the suite fails.
integration: images build ## topology and security suites on fresh stacked and external-etcd topologies
	bash scripts/integration.sh hachaos.yaml
	bash scripts/integration.sh hachaos-external.yaml

# Each negative control breaks one property on purpose; the suite must fail in the named
# spec with the named reason, or the target fails.
security-negative: images build ## security suite (without its fault scenarios) must catch a plaintext etcd listener and anonymous API access
	bash scripts/negative.sh controls/plaintext-etcd.yaml "security && !disruptive" "etcd: the client port" "listens for clients in plaintext"
	bash scripts/negative.sh controls/anonymous-apiserver.yaml "security && !disruptive" "refuses anonymous requests" "anonymous request through"

# One sabotaged topology per guarantee; each must fail in its spec for its reason.
chaos-negative: images build ## every fault guarantee must catch its sabotaged topology
	bash scripts/negative.sh controls/lb-no-healthcheck.yaml lb "one API server is frozen" "more than the detection window"
	bash scripts/negative.sh controls/etcd-single-member.yaml "etcd && !partition" "leader member crashes" "no new etcd leader was elected"
	bash scripts/negative.sh controls/stale-lease-timings.yaml leader "kube-scheduler Lease to a standby" "Lease taken over"
	bash scripts/negative.sh controls/workload-pinned.yaml worker "a worker is lost" "back to 4 Ready replicas on healthy nodes"
	bash scripts/negative.sh controls/workload-without-pdb.yaml worker "drains a worker" "the PodDisruptionBudget promises"

# Stops runs in the middle of faults (Ctrl-C, SIGKILL) and checks that nothing is left.
chaos-interrupt: images build ## interrupted and killed runs leave no fault behind after the next start
	bash scripts/interrupt-test.sh $(CONFIG)

chaos: images build ## bring the topology up (or reuse it) and run the suites; the cluster is kept
	mkdir -p $(ARTIFACTS)
	status=0; HACHAOS_CONFIG=$(abspath $(CONFIG)) ARTIFACTS=$(abspath $(ARTIFACTS)) $(GO) test -v -tags e2e -count=1 -timeout 120m ./suites \
		-args $(GINKGO_ARGS) -ginkgo.json-report=$(abspath $(ARTIFACTS))/report.json || status=$$?; \
	$(BIN) scan-secrets $(ARTIFACTS) && exit $$status

cluster-up: images build ## create the topology, or reuse a healthy one from the same Spec
	$(BIN) up --config $(CONFIG)

cluster-down: build ## delete everything the topology created
	$(BIN) down --config $(CONFIG)

cluster-status: build ## check the readiness gate once
	$(BIN) status --config $(CONFIG)

images: setup build ## build (or reuse) the offline images for the Spec's Kubernetes version
	bash scripts/build-images.sh $$($(BIN) kubernetes-version --config $(CONFIG))

setup: ## install and start Docker where missing
	bash scripts/setup-docker.sh
