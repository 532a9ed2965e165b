# profefe: the one entry point.
#   make            build build/profefe
#   make deps       install the Debian packages the build and tests need (only what is missing)
#   make run        deps + build + start the server on :10100 with ./data, scraping the
#                   example program build/hotapp started beside it (HOTAPP=0: profefe alone)
#   make test       deps + build + every test, then all again under ASan+UBSan
#   make bench      benchmarks (figures printed; see BENCHMARKS.md)
#   make fuzz       every tests/fuzz harness under clang's libFuzzer, FUZZ_SECONDS (60) each
#   make lint       banned functions
#   make hotapp     build/hotapp, the example Go program of examples/hotapp
# SAN=1 builds into build-san/ with AddressSanitizer and UndefinedBehaviorSanitizer;
# FUZZ=1 (set by make fuzz, with CC=clang) into build-fuzz/ for libFuzzer.

PKGS     := libmicrohttpd libprotobuf-c zlib libdeflate libzstd jansson libuv libxxhash libpcre2-8 yaml-0.1 libcurl libzip
CC       ?= cc
BUILD    := build$(if $(FUZZ),-fuzz,$(if $(SAN),-san))
GEN      := $(BUILD)/gen

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null | sed 's/^/git-/' || echo unknown)
COMMIT     ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_TIME ?= $(shell git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)

SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SANFLAGS += $(if $(FUZZ),-fsanitize=fuzzer-no-link)
OPT      := $(if $(SAN)$(FUZZ),-O1 $(SANFLAGS),-O2)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += -std=gnu11 -g $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
            -MMD -MP -D_GNU_SOURCE -Isrc -I$(GEN) $(PKG_CFLAGS)
LDFLAGS  += $(if $(SAN)$(FUZZ),$(SANFLAGS))
LDLIBS   += $(PKG_LIBS) -lpthread -lm

LIB_SRCS := $(wildcard src/*/*.c src/*/*/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(GEN)/proto/profile.pb-c.o $(GEN)/web_assets.o
# the web UI (src/web), embedded by tools/webgen; rebuilt when a file or
# folder there changes (a folder's time changes when a file is added or removed)
WEB_FILES := $(shell find src/web -type f 2>/dev/null | LC_ALL=C sort)
WEB_DIRS  := $(shell find src/web -type d 2>/dev/null)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
FUZZ_SECONDS ?= 60
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps run test unit bench fuzz fuzz-bins lint clean hotapp FORCE
.SECONDARY:
all: $(BUILD)/profefe

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all $(if $(filter 0,$(HOTAPP)),,hotapp)
	@BUILD=$(BUILD) scripts/run.sh

test: deps
	@tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all bench-bins unit hotapp
	@bench/run.sh

fuzz: deps
	@scripts/deps.sh clang libclang-rt-dev
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory FUZZ=1 CC=clang fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

lint:
	@! grep -nE '\b(atoi|atol|strcpy|strcat|sprintf|vsprintf|gets)\s*\(' $(LIB_SRCS) src/main.c \
	  || { echo "lint: banned function (use strtol/snprintf/memcpy with bounds)"; exit 1; }

clean:
	rm -rf build build-san build-fuzz

# The example Go program (standard library only); Go's caches stay under build/.
# Written aside and renamed: tests running in parallel may build it at once.
hotapp:
	@mkdir -p build
	cd examples/hotapp && GOCACHE=$(CURDIR)/build/go-cache GOPATH=$(CURDIR)/build/go-path \
	  GOFLAGS= GOPROXY=off GOTOOLCHAIN=local go build -trimpath -o $(CURDIR)/build/hotapp.$$$$ . && \
	  mv -f $(CURDIR)/build/hotapp.$$$$ $(CURDIR)/build/hotapp

$(GEN)/proto/profile.pb-c.c $(GEN)/proto/profile.pb-c.h: proto/profile.proto
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) $<

# the generator runs on the build machine: built plain, without the sanitizers
$(GEN)/webgen: tools/webgen.c
	@mkdir -p $(GEN)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $< $(shell pkg-config --cflags --libs zlib libxxhash 2>/dev/null)

$(GEN)/web_assets.c: $(GEN)/webgen $(WEB_FILES) $(WEB_DIRS)
	$(GEN)/webgen $@ src/web $(WEB_FILES)

$(GEN)/web_assets.o: $(GEN)/web_assets.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(GEN)/proto/profile.pb-c.o: $(GEN)/proto/profile.pb-c.c
	$(CC) $(CFLAGS) -Wno-error -c -o $@ $<

$(BUILD)/%.o: %.c | $(GEN)/proto/profile.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/src/main.o: CFLAGS += -DPF_VERSION='"$(VERSION)"' -DPF_COMMIT='"$(COMMIT)"' -DPF_BUILD_TIME='"$(BUILD_TIME)"'
# main.o is rebuilt when the version it carries changes (a new commit, a dirty tree).
$(BUILD)/src/main.o: $(BUILD)/version.stamp
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(VERSION) $(COMMIT) $(BUILD_TIME)' | cmp -s - $@ || echo '$(VERSION) $(COMMIT) $(BUILD_TIME)' >$@
FORCE:

$(BUILD)/libprofefe.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/profefe: $(BUILD)/src/main.o $(BUILD)/libprofefe.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BINS) $(TOOL_BINS) $(FUZZ_BINS)
$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(BUILD)/libprofefe.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libprofefe.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# A fuzz harness: with tests/fuzz/driver.c as main (make test feeds it seed
# files), or under FUZZ=1 linked with libFuzzer's main (make fuzz).
fuzz-bins: $(FUZZ_BINS)
$(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(if $(FUZZ),,$(BUILD)/tests/fuzz/driver.o) $(BUILD)/libprofefe.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(if $(FUZZ),-fsanitize=fuzzer) -o $@ $^ $(LDLIBS)

bench-bins: $(BENCH_BINS)
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libprofefe.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcurl

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
