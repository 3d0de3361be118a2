# cachet: `make run` and `make test` set up a fresh Debian 12 machine, build,
# and run. Everything lands in build/ (normal, libcachet static), build-asan/
# (AddressSanitizer + UBSan, libcachet shared), build-tsan/ (ThreadSanitizer)
# and build-fuzz/ (the RESP parser's fuzzer). Every build treats warnings as
# errors. The unit tests build and run in the sanitizer trees (every one
# under ASan+UBSan, the concurrency ones under TSan as well); build/ is the
# optimized product and runs what needs it: examples, guides, cachet-redis
# against redis-server, the benchmark's check, the package consumers.

PACKAGES := cmake ninja-build g++ clang-14 libclang-rt-14-dev libcaf-dev \
            libfmt-dev catch2 libsqlite3-dev libxxhash-dev \
            nlohmann-json3-dev libtbb-dev libcuckoo-dev libcds-dev \
            libxenium-dev libboost1.81-dev libabsl-dev \
            redis-tools python3-redis redis-server libfuzzer-14-dev lld
# Only for running the benchmark (make run, make bench): the plot and the
# BEAM beside cachet. Kept out of `make test`: Erlang/Elixir is ~40 MB.
BENCH_PACKAGES := gnuplot-nox elixir
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
WERROR := -DCACHET_WERROR=ON
# lld links the trees' hundred-odd executables in a quarter of GNU ld's
# time (a sanitized test binary: 0.9 s instead of 3.3 s).
LLD := -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld \
       -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld

.PHONY: all deps node-deps bench-deps build run bench test test-normal test-asan test-tsan clean
.PHONY: test-fuzz bench-redis redis-suite

all: build

# Installs whatever of PACKAGES is missing (as root, or through sudo).
deps:
	@missing=$$(for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

# node and npm for the node-redis client test (the client itself comes from
# npm at test time): Debian's, unless a node with its npm is there already
# (NodeSource's nodejs conflicts with Debian's npm).
node-deps:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "installing: nodejs npm"; \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nodejs npm; \
	fi

# The benchmark's extra tools, installed the same way.
bench-deps:
	@$(MAKE) --no-print-directory deps PACKAGES="$(BENCH_PACKAGES)"

build/build.ninja: | deps
	cmake -S . -B build -G Ninja -DCACHET_BUILD_UNIT_TESTS=OFF $(WERROR) $(LLD) \
	  $(CMAKE_FLAGS)

build: deps build/build.ninja
	cmake --build build -j $(JOBS)

run: build bench-deps
	./build/examples/access_modes/access-modes
	@echo
	./build/examples/link_cache/link-cache
	@echo
	./build/examples/supervision/supervision
	@echo
	./build/examples/cluster/cluster
	@echo
	./build/bench/cachet-call-bench
	@echo
	./build/bench/cachet-bench --quick --plot=build/bench.png --json=build/bench.json

# The full benchmark (about 15 minutes): every mix and distribution, 0.5 s runs.
bench: build bench-deps
	./build/bench/cachet-bench --plot=build/bench-full.png --json=build/bench-full.json

# The sanitized build is also the shared-library one (libcachet.so): every
# core and concurrency test, and the find_package consumer, run against it
# (the add_subdirectory consumer builds its own static cachet, as in build/).
build-asan/build.ninja: | deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DCMAKE_BUILD_TYPE=Debug "-DCACHET_SANITIZE=address;undefined" \
	  -DBUILD_SHARED_LIBS=ON -DCACHET_BUILD_EXAMPLES=OFF \
	  -DCACHET_BUILD_BENCH=OFF $(WERROR) $(LLD) $(CMAKE_FLAGS)

# ThreadSanitizer sees through CAF's mailboxes only if CAF is instrumented too.
# Debug (-O0, assertions on), as the ASan tree: it compiles a third faster
# than -O1 under TSan, and TSan finds the same races in it.
build-tsan/caf/lib/libcaf_io.so: | deps
	cmake/caf-tsan.sh build-tsan/caf

build-tsan/build.ninja: | build-tsan/caf/lib/libcaf_io.so
	cmake -S . -B build-tsan -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DCMAKE_BUILD_TYPE=Debug -DCACHET_SANITIZE=thread \
	  -DCMAKE_PREFIX_PATH=$(CURDIR)/build-tsan/caf \
	  -DCACHET_BUILD_EXAMPLES=OFF -DCACHET_BUILD_BENCH=OFF \
	  -DCACHET_BUILD_REDIS=OFF $(WERROR) $(LLD) $(CMAKE_FLAGS)

test-normal: node-deps build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: deps build-asan/build.ninja
	cmake --build build-asan -j $(JOBS) --target tests-core tests-concurrency
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -L "core|concurrency|package" \
	  -E "add_subdirectory"

test-tsan: deps build-tsan/build.ninja
	cmake --build build-tsan -j $(JOBS) --target tests-concurrency
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --output-on-failure -j $(JOBS) -L concurrency

# cachet-redis's RESP parser under libFuzzer (clang 14, ASan+UBSan) for a
# bounded time, from the seeds in redis/fuzz/seeds; any crash, leak or hang
# (a run over 10 s) fails.
FUZZ_SECONDS ?= 30
build-fuzz/build.ninja: | deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCACHET_REDIS_FUZZ=ON \
	  -DCACHET_BUILD_TESTS=OFF -DCACHET_BUILD_EXAMPLES=OFF \
	  -DCACHET_BUILD_BENCH=OFF $(WERROR) $(LLD) $(CMAKE_FLAGS)

test-fuzz: deps build-fuzz/build.ninja
	cmake --build build-fuzz -j $(JOBS) --target cachet-redis-fuzz
	rm -rf build-fuzz/corpus && cp -r redis/fuzz/seeds build-fuzz/corpus
	./build-fuzz/redis/cachet-redis-fuzz -max_total_time=$(FUZZ_SECONDS) \
	  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 build-fuzz/corpus

# Every test: the normal build's (examples, guides, cachet-redis, benchmark,
# packages), then the core and concurrency tests and the find_package
# consumer under ASan+UBSan against the shared library, the concurrency
# tests under TSan, then the parser fuzzer.
test: test-normal test-asan test-tsan test-fuzz

# cachet-redis against redis-server 7.0 with redis-benchmark (a few minutes).
bench-redis: build
	bench/redis/bench-redis.sh build/redis/cachet-redis

# redis 7.0's own test suite, in external mode, against redis-server and
# cachet-redis (a couple of minutes; fetches Debian's redis source once).
redis-suite: build
	@$(MAKE) --no-print-directory deps PACKAGES="tcl"
	bench/redis/redis-suite.sh build/redis/cachet-redis

clean:
	rm -rf build build-asan build-tsan build-fuzz
