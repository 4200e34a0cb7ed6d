# The two commands of the README's quick start:
#   make run   - set up what is missing, build, and run Photoflux
#   make test  - set up what is missing, build, and run the whole test suite
# `make build` leaves the binary at build/photoflux.

JOBS ?= $(shell nproc)
RUN_DATA ?= photoflux-data

.PHONY: setup build run test test-debug bench format clean

setup:
	@./scripts/setup.sh

build: setup
	@cmake --preset release >/dev/null
	@cmake --build build -j$(JOBS)

# The embedded default: the S3-compatible API on 127.0.0.1:9000 over ./photoflux-data. The banner
# prints the URL, the credentials and a ready-to-paste `aws s3 cp` line. Ctrl-C stops it.
run: build
	@./build/photoflux --log-level info serve --data-dir $(RUN_DATA) --print-credentials

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
