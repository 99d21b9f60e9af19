# The commands users type. CMake does the building; see README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
HOST       ?= 127.0.0.1
PORT       ?= 9006
TLS_PORT   ?= 9443
PREFIX     ?= /usr/local
# One test more than cores: most tests sleep through timeouts, and the ones that load both cores
# (stress soak, shutdown, slowloris) are marked RUN_SERIAL and run alone.
CTEST_JOBS ?= $(shell echo $$(($(JOBS) + 1)))
CTEST       = ctest --output-on-failure -j$(CTEST_JOBS) --timeout 300
# cmake --build runs make again below this one: without this, every level prints its
# "make[N]: Entering directory" lines.
MAKEFLAGS  += --no-print-directory

.PHONY: all deps deps-test build build-tests site run run-echo test test-release test-site asan \
	bench bench-http-quick format format-check stress clean

all: build

# What building and serving need: a compiler, cmake, python3 (scripts/gen_site.py).
deps:
	@scripts/deps.sh build

# ... and what the tests need besides: cmocka, curl, clang-format, wrk, valgrind, chromium.
deps-test:
	@scripts/deps.sh test

# The server, idle_echo and bench_timers, without the tests (they need cmocka).
build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DTINYWEB_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The same build directory with the tests.
build-tests: deps-test
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DTINYWEB_TESTS=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The bundled site's generated files (an image, a download and the favicon).
site:
	@python3 scripts/gen_site.py

# Serves www/ until Ctrl-C (SIGINT) or SIGTERM, with the application on (register, log in) over
# SQLite in $(BUILD)/app.db, on HTTP and on HTTPS with a self-signed certificate made once in
# $(BUILD)/tls (scripts/tls_cert.sh).
run: build site
	@scripts/tls_cert.sh $(BUILD)/tls >/dev/null
	@echo "tinyweb: open http://$(HOST):$(PORT)/ or https://$(HOST):$(TLS_PORT)/ (a self-signed" \
		"certificate: $(BUILD)/tls/cert.pem, e.g. curl --cacert $(BUILD)/tls/cert.pem;" \
		"browsers ask first). Ctrl-C stops it."
	@$(BUILD)/tinyweb --root www --listen $(HOST):$(PORT) --listen-tls $(HOST):$(TLS_PORT) \
		--tls-cert $(BUILD)/tls/cert.pem --tls-key $(BUILD)/tls/key.pem \
		--db sqlite:$(BUILD)/app.db

# Seed 000's idle-connection echo server rebuilt on the core; deps.sh echo adds nc
# (netcat-openbsd) to talk to it.
run-echo: build
	@scripts/deps.sh echo
	@echo "idle_echo on $(HOST):$(PORT) (try: nc $(HOST) $(PORT)); Ctrl-C stops it"
	@$(BUILD)/idle_echo $(HOST) $(PORT)

# Every test, in the optimised build and again under ASan + UBSan (with the validator on), and
# the bundled site in a real browser.
test: test-release asan format-check test-site

test-release: build-tests
	@cd $(BUILD) && $(CTEST)

# The bundled site as a phone shows it (headless Chromium, 320 and 375 px wide): no sideways
# scrolling, and a visit to / asks for nothing that is not there (favicon.ico).
test-site: build-tests site
	@python3 scripts/gen_site.py --check $(BUILD)/tinyweb

asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTINYWEB_SANITIZE=ON \
		-DTINYWEB_VALIDATE=ON -DTINYWEB_TESTS=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST)

# Timer containers (~20 s), then HTTP against h2o and nginx (~13 min); both write
# docs/BENCHMARKS.md. bench-http-quick: one short round of the HTTP part. deps.sh bench installs
# wrk, h2o and nginx-light.
bench: build
	@scripts/deps.sh bench
	@bench/run.sh $(BUILD)
	@bench/http_bench.sh $(BUILD)

bench-http-quick: build
	@scripts/deps.sh bench
	@bench/http_bench.sh $(BUILD) --quick

# Fault and load tests at full scale against the optimised build (tests/stress/stress.py, about
# 3 minutes; docs/RELIABILITY.md): 2,000 slowloris clients, 15,000 idle connections, fd
# exhaustion, resets, a 60 s wrk soak with 1,000 connections, SIGTERM under load, valgrind.
# deps.sh test installs wrk and valgrind.
stress: build
	@scripts/deps.sh test
	@python3 tests/stress/stress.py --scenario all --scale full --binary $(BUILD)/tinyweb

# The optimised build's server, tinyweb(8), PREFIX/etc/tinyweb/tinyweb.conf (an existing one is
# kept), the systemd unit and /etc/logrotate.d/tinyweb, below DESTDIR if given (README.md,
# "Install and run as a service"; dist/install.cmake). uninstall removes what the last install
# recorded in $(BUILD)/install_manifest.txt, and tinyweb.conf only if unchanged.
.PHONY: install uninstall

install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

uninstall:
	@DESTDIR="$(DESTDIR)" cmake -DMANIFEST=$(BUILD)/install_manifest.txt -P dist/uninstall.cmake

format:
	@scripts/deps.sh format
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@scripts/deps.sh format
	@git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror
	@echo "format-check: clean"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz

# libFuzzer harnesses (fuzz/; figures in docs/RELIABILITY.md), run one after the other under
# nice 19: fuzz runs each for FUZZ_SECONDS, fuzz-smoke for 60 s (as CI does). A failure saves the
# input under build-fuzz/crashes/ and exits non-zero.
FUZZ_SECONDS ?= 300
.PHONY: fuzz fuzz-smoke

fuzz:
	@scripts/deps.sh fuzz
	@fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	@scripts/deps.sh fuzz
	@fuzz/run.sh 60
