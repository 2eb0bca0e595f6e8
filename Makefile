# mailabuse: plain make with pkg-config.
#   make                 build mailabused and mailabusectl
#   make check           unit and integration tests, plain and under ASan+UBSan
#   make SANITIZE=1 ...  build (or test) with AddressSanitizer and UBSan
#   make run             run mailabused in the foreground on ./state
#   make install         PREFIX=/usr/local DESTDIR=

VERSION = 0.1.0
PREFIX ?= /usr/local
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR ?=

PKGS = libevent sqlite3 libconfig jansson
CC ?= cc
WARN = -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wcast-qual \
	-Wstrict-prototypes -Wmissing-prototypes
ifdef WERROR
WARN += -Werror
endif
OPT ?= -O2 -g

ifdef SANITIZE
BUILD = build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD = build
SANFLAGS =
endif

CPPFLAGS += -Iinclude -D_GNU_SOURCE -DMAILABUSE_VERSION=\"$(VERSION)\" \
	-DMAILABUSE_CONF=\"$(SYSCONFDIR)/mailabuse/mailabused.conf\"
CFLAGS += -std=c11 -pthread $(OPT) $(WARN) $(SANFLAGS) $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(SANFLAGS)
LDLIBS += $(shell pkg-config --libs $(PKGS)) -pthread
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)

# Pure modules: no I/O, no global state; unit tests link them alone.
PURE = duration proto identity policy cpanel detect
COMMON = $(PURE) log config clock store notify lifecycle
DAEMON = mailabused server conn check selfservice recorder
CTL = ctl cmd_sync cmd_suspend cmd_show cmd_complaint cmd_unblock cmd_expire cmd_limits cmd_doctor cmd_frozen

obj = $(addprefix $(BUILD)/,$(addsuffix .o,$(1)))

BINS = $(BUILD)/mailabused $(BUILD)/mailabusectl
UNIT_TESTS = duration proto identity policy unblock cpanel config detect
UNIT_BINS = $(addprefix $(BUILD)/test_,$(UNIT_TESTS))

all: $(BINS)

$(BUILD):
	mkdir -p $@

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/test_%.o: tests/unit/test_%.c $(wildcard include/*.h) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags cmocka) -c -o $@ $<

$(BUILD)/mailabused: $(call obj,$(DAEMON) $(COMMON))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mailabusectl: $(call obj,$(CTL) $(COMMON))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_config: $(BUILD)/test_config.o $(call obj,config duration log detect)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/test_%: $(BUILD)/test_%.o $(call obj,$(PURE))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BINS)
	@set -e; n=0; for t in $(UNIT_BINS); do echo "== $$t"; \
	    if ! $$t >$(BUILD)/unit.out 2>&1; then cat $(BUILD)/unit.out; exit 1; fi; \
	    cat $(BUILD)/unit.out; \
	    n=$$((n + $$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' $(BUILD)/unit.out))); done; \
	    echo "unit ($(BUILD)): $$n passed, 0 failed"; echo "$$n 0" > $(BUILD)/unit.result

integration: $(BINS) $(BUILD)/mabclient
	tests/integration/run.sh $(BUILD)

check-one: unit integration

# The whole suite: a plain build, then the same tests under ASan and UBSan.
check:
	$(MAKE) --no-print-directory WERROR=1 check-one
	$(MAKE) --no-print-directory WERROR=1 SANITIZE=1 check-one
	@cat build/unit.result build/integration.result build-san/unit.result \
	    build-san/integration.result | \
	    awk '{ p += $$1; f += $$2 } END { printf "check: %d passed, %d failed\n", p, f }'

# A local daemon on ./state with the shipped defaults, in the foreground.
run: $(BINS)
	mkdir -p state
	sed -e 's|"/var/lib/mailabuse/|"$(CURDIR)/state/|' \
	    -e 's|"/run/mailabuse/|"$(CURDIR)/state/|' \
	    -e 's|"/etc/mailabuse/notices"|"$(CURDIR)/conf/notices"|' \
	    conf/mailabused.conf > state/mailabused.conf
	$(BUILD)/mailabused -n -c state/mailabused.conf
	@echo "mailabusectl for this daemon, in another terminal (as root):"
	@echo "  $(CURDIR)/$(BUILD)/mailabusectl -c $(CURDIR)/state/mailabused.conf status ACCOUNT"
	@echo "  or: export MAILABUSE_CONF=$(CURDIR)/state/mailabused.conf"
	$(BUILD)/mailabused -f -c state/mailabused.conf

install: $(BINS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/mailabuse $(DESTDIR)$(PREFIX)/share/mailabuse/exim
	install -m 0755 $(BINS) $(DESTDIR)$(SBINDIR)
	install -m 0644 man/mailabused.8 man/mailabusectl.8 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/mailabused.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 contrib/exim/*.acl contrib/exim/*.conf $(DESTDIR)$(PREFIX)/share/mailabuse/exim
	install -d $(DESTDIR)$(SYSCONFDIR)/mailabuse/notices $(DESTDIR)$(SYSCONFDIR)/cron.d
	for f in conf/notices/*.txt; do \
	    test -e $(DESTDIR)$(SYSCONFDIR)/mailabuse/notices/$${f##*/} || \
	    install -m 0644 $$f $(DESTDIR)$(SYSCONFDIR)/mailabuse/notices/; done
	test -e $(DESTDIR)$(SYSCONFDIR)/cron.d/mailabuse || \
	    sed 's|/usr/local/sbin|$(SBINDIR)|g' contrib/cron/mailabuse > $(DESTDIR)$(SYSCONFDIR)/cron.d/mailabuse
	test -e $(DESTDIR)$(SYSCONFDIR)/mailabuse/mailabused.conf || \
	    install -m 0644 conf/mailabused.conf $(DESTDIR)$(SYSCONFDIR)/mailabuse/mailabused.conf

clean:
	rm -rf build build-san build-fuzz

.PHONY: all unit integration check check-one run install clean bench bench-long fuzz

$(BUILD)/mabclient: tests/integration/mabclient.c $(call obj,proto)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^

BENCH_TOOLS = $(addprefix $(BUILD)/,mabbench mabload mabfloor mabgen)

$(BUILD)/mab%: tests/bench/mab%.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^

# Benchmarks, not tests: figures for BENCHMARKS.md (under 5 minutes).
bench: $(BINS) $(BUILD)/mabclient $(BENCH_TOOLS)
	tests/bench/run.sh $(BUILD)

# The same plus 10 million queries for the memory figure (about 18 minutes more).
bench-long: $(BINS) $(BUILD)/mabclient $(BENCH_TOOLS)
	BENCH_LONG=1 tests/bench/run.sh $(BUILD)

# Parser fuzzing with libFuzzer (clang): not part of check.
FUZZ_SECONDS ?= 60
build-fuzz/fuzz_proto: tests/fuzz/fuzz_proto.c src/proto.c include/proto.h
	mkdir -p build-fuzz
	clang -std=c11 -g -O1 -Iinclude -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -o $@ tests/fuzz/fuzz_proto.c src/proto.c

fuzz: build-fuzz/fuzz_proto
	mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_proto -max_total_time=$(FUZZ_SECONDS) -max_len=2048 build-fuzz/corpus

# Keep the test objects: no "rm" at the end of a test run.
.SECONDARY:
