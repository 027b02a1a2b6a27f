# sgbpf build. `make deps` installs what a fresh Debian 12 lacks, `make` builds
# everything into build/, `make test` runs every suite and fails on any
# failure (there are no skips: a test that cannot run fails).

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

BUILD    := build
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
            -Iinclude -Iuser/lib -I$(BUILD) \
            $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
LDLIBS   := -lbpf -lelf -lz -lcjson -lnl-route-3 -lnl-3 -lpcap -lm -lpthread
# The version sgbpfd reports (metrics build_info): git describe of the tree,
# or "dev" outside a checkout (e.g. the image's build stage).
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
$(BUILD)/user/lib/daemon_metrics.o: CFLAGS += -DSGBPF_VERSION='"$(VERSION)"'
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
              -I$(BUILD) -Iinclude -Ibpf

BPF_SRC   := bpf/sgbpf.bpf.c
BPF_HDRS  := $(wildcard bpf/*.h) $(wildcard include/sgbpf/*.h)
LIB_SRC   := $(wildcard user/lib/*.c)
LIB_HDRS  := $(wildcard user/lib/*.h) $(wildcard include/sgbpf/*.h)
LIB_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
CLI_SRC   := $(wildcard user/cli/*.c)
DAEMON_SRC:= $(wildcard user/daemon/*.c)
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TEST_USER_SRC := $(wildcard tests/user/*.c)
TEST_BPF_SRC  := $(wildcard tests/bpf/*.c)
BENCH_SRC := $(wildcard bench/*.c)

SKEL      := $(BUILD)/sgbpf.skel.h
BINS      := $(if $(CLI_SRC),$(BUILD)/sgbpf) $(if $(DAEMON_SRC),$(BUILD)/sgbpfd)
TEST_BINS := $(if $(TEST_USER_SRC),$(BUILD)/tests/test_user) \
             $(if $(TEST_BPF_SRC),$(BUILD)/tests/test_bpf)
BENCH_BINS:= $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps test test-user test-bpf test-e2e demo bench clean fuzz fuzz-build fuzz-quick
all: $(BUILD)/libsgbpf.a $(BINS) $(TEST_BINS) $(BENCH_BINS)

deps:
	./scripts/deps.sh

# vmlinux.h from the build machine's BTF when it has it, else the committed copy.
$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	@if [ -r /sys/kernel/btf/vmlinux ] && $(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp 2>/dev/null; then \
		mv $@.tmp $@; echo "  GEN     $@ (from /sys/kernel/btf/vmlinux)"; \
	else rm -f $@.tmp; cp vmlinux/vmlinux.h $@; echo "  CP      $@ (committed fallback)"; fi

$(BUILD)/sgbpf.bpf.o: $(BPF_SRC) $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BUILD)/sgbpf.bpf.o
	$(BPFTOOL) gen skeleton $< name sgbpf_bpf > $@

$(BUILD)/%.o: %.c $(LIB_HDRS) $(SKEL)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsgbpf.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/sgbpf: $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC)) $(BUILD)/libsgbpf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/sgbpfd: $(patsubst %.c,$(BUILD)/%.o,$(DAEMON_SRC)) $(BUILD)/libsgbpf.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/test_user: $(patsubst %.c,$(BUILD)/%.o,$(TEST_USER_SRC) $(TESTLIB_SRC)) $(BUILD)/libsgbpf.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcunit

$(BUILD)/tests/test_bpf: $(patsubst %.c,$(BUILD)/%.o,$(TEST_BPF_SRC) $(TESTLIB_SRC)) $(BUILD)/libsgbpf.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcunit

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libsgbpf.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

test: deps
	$(MAKE) all fuzz-build
	./scripts/run-tests.sh

# Long runs of the reliability suites (faults, table pressure, load,
# spoofing, hostile packets, fuzzing); figures in docs/reliability.md.
.PHONY: stress
stress: deps
	$(MAKE) all fuzz-build
	./scripts/stress.sh

test-user: $(BUILD)/tests/test_user
	$(BUILD)/tests/test_user

test-bpf: $(BUILD)/tests/test_bpf
	$(BUILD)/tests/test_bpf

demo: deps
	$(MAKE) all
	./scripts/demo.sh

bench: deps
	$(MAKE) all
	./bench/run.sh

# libFuzzer harnesses (tests/fuzz/) over the JSON front end, with ASan, UBSan
# and LeakSanitizer. Only the parser/compiler sources are linked, rebuilt
# with the sanitizers (build/libsgbpf.a has none). `make test` runs a fixed
# number of inputs (tests/fuzz/run.sh quick); `make fuzz` runs each harness
# for FUZZ_TIME seconds, keeping its corpus in build/fuzz/corpus/.
FUZZ_CC     ?= $(shell command -v clang-14 2>/dev/null || echo clang)
FUZZ_TIME   ?= 600
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -Wall -Wextra \
               -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser/lib
FUZZ_LIB_SRC:= $(wildcard $(addprefix user/lib/,diag.c model.c parse*.c compile*.c names.c))
FUZZ_LIB_OBJ:= $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(FUZZ_LIB_OBJ): $(BUILD)/fuzz/obj/%.o: %.c $(LIB_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BINS): $(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) -o $@ -lcjson -lm

fuzz-build: $(FUZZ_BINS)

fuzz-quick: fuzz-build
	./tests/fuzz/run.sh quick

fuzz: deps fuzz-build
	./tests/fuzz/run.sh long $(FUZZ_TIME)

clean:
	rm -rf $(BUILD)
