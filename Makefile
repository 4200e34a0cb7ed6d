# The two commands of the README's quick start:
#   make run   - set up what is missing, build, and run Photoflux
#   make test  - set up what is missing, build, and run the whole test suite
# `make build` leaves the binary at build/photoflux.

JOBS ?= $(shell nproc)
RUN_OUT ?= out

.PHONY: setup build run test test-debug bench format clean

setup:
	@./scripts/setup.sh

build: setup
	@cmake --preset release >/dev/null
	@cmake --build build -j$(JOBS)

# Until `photoflux serve` exists, the main job is processing the bundled sample photos.
run: build
	@./build/photoflux process tests/data/photos --out $(RUN_OUT)
	@echo "Results: $(abspath $(RUN_OUT))/<photo>/ (derivatives + manifest.json per photo)"

test: build
	@cd build && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-debug

# The unit and engine tests again under AddressSanitizer + UndefinedBehaviorSanitizer, leaks
# included (tests/suppressions/lsan.supp lists the libraries' process-lifetime caches).
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/suppressions/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

test-debug: setup
	@cmake --preset debug >/dev/null
	@cmake --build build-debug -j$(JOBS)
	@cd build-debug && $(SANITIZER_ENV) ctest -L "unit|engine" --output-on-failure -j$(JOBS)

bench: build
	@./bench/run.sh

format:
	@find src tests -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	@rm -rf build build-debug
