# mailabuse: plain make with pkg-config.
#   make                 build mailabused and mailabusectl
#   make check           unit and integration tests, plain and under ASan+UBSan,
#                        and each fuzz target briefly
#   make fuzz            each libFuzzer target for FUZZ_SECONDS (default 60)
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
CTL = ctl cmd_sync cmd_suspend cmd_show cmd_complaint cmd_unblock cmd_expire cmd_limits

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

# The whole suite: a plain build, then the same tests under ASan and UBSan,
# then each fuzz target for a few seconds.
check:
	$(MAKE) --no-print-directory WERROR=1 check-one
	$(MAKE) --no-print-directory WERROR=1 SANITIZE=1 check-one
	$(MAKE) --no-print-directory WERROR=1 fuzz-check
	@cat build/unit.result build/integration.result build-san/unit.result \
	    build-san/integration.result build-fuzz/fuzz.result | \
	    awk '{ p += $$1; f += $$2 } END { printf "check: %d passed, %d failed\n", p, f }'

# A local daemon on ./state with the shipped defaults, in the foreground.
run: $(BINS)
	mkdir -p state
	sed -e 's|"/var/lib/mailabuse/|"$(CURDIR)/state/|' \
	    -e 's|"/run/mailabuse/|"$(CURDIR)/state/|' \
	    -e 's|"/etc/mailabuse/notices"|"$(CURDIR)/conf/notices"|' \
	    conf/mailabused.conf > state/mailabused.conf
	$(BUILD)/mailabused -n -c state/mailabused.conf
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

.PHONY: all unit integration check check-one run install clean bench bench-long fuzz \
	fuzz-check

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

# Fuzzing with libFuzzer (clang, ASan and UBSan): one target per parser
# of outside input (tests/fuzz/README).  "make fuzz" runs each target for
# FUZZ_SECONDS; "make fuzz-check" (part of check) runs each for
# FUZZ_CHECK_SECONDS over its seed corpus in tests/fuzz/corpus/<target>/.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 5
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang, unlike gcc, flags log.c's vsnprintf(fmt) under -Wformat=2
FUZZ_CFLAGS = -std=c11 -pthread -g -O1 $(WARN) -Wno-format-nonliteral $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	$(shell pkg-config --cflags $(PKGS))
FUZZ_TARGETS = proto config cpanel notify selfservice
FUZZ_BINS = $(addprefix build-fuzz/fuzz_,$(FUZZ_TARGETS))
fuzzobj = $(addprefix build-fuzz/,$(addsuffix .o,$(1)))
FUZZ_ENV = LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp
# libconfig leaks on a syntax error (tests/fuzz/lsan.supp): a leak check
# after each such input would slow fuzz_config a hundredfold, so its leaks
# are checked once, at exit.
FUZZ_OPTS = o=-max_len=4096; test $$t != config || o="$$o -detect_leaks=0"

build-fuzz:
	mkdir -p $@

build-fuzz/%.o: src/%.c $(wildcard include/*.h) | build-fuzz
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/%.o: $(BUILD)/%.c $(wildcard include/*.h) | build-fuzz
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/fuzz_%.o: tests/fuzz/fuzz_%.c $(wildcard include/*.h) | build-fuzz
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/fuzz_proto: $(call fuzzobj,fuzz_proto proto)
build-fuzz/fuzz_config: $(call fuzzobj,fuzz_config config log $(PURE))
build-fuzz/fuzz_cpanel: $(call fuzzobj,fuzz_cpanel $(PURE))
build-fuzz/fuzz_notify: $(call fuzzobj,fuzz_notify $(COMMON))
build-fuzz/fuzz_selfservice: $(call fuzzobj,fuzz_selfservice selfservice $(COMMON))
$(FUZZ_BINS):
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# Each target for FUZZ_SECONDS; new inputs go to build-fuzz/corpus/<target>.
fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus/$$t; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; $(FUZZ_OPTS); \
	    $(FUZZ_ENV) build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 $$o \
	        -artifact_prefix=build-fuzz/crash-$$t- \
	        build-fuzz/corpus/$$t tests/fuzz/corpus/$$t; done

# Each target briefly, its seed corpus first (every crash once found is kept there).
fuzz-check: $(FUZZ_BINS)
	@p=0; f=0; for t in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus/$$t; $(FUZZ_OPTS); \
	    if $(FUZZ_ENV) build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_CHECK_SECONDS) -timeout=10 \
	        $$o -artifact_prefix=build-fuzz/crash-$$t- \
	        build-fuzz/corpus/$$t tests/fuzz/corpus/$$t >build-fuzz/$$t.log 2>&1; then \
	        p=$$((p + 1)); echo "fuzz_$$t: ok, $$(sed -n 's/^#\([0-9]*\).*DONE.*/\1/p' \
	            build-fuzz/$$t.log) runs in $(FUZZ_CHECK_SECONDS)s"; \
	    else f=$$((f + 1)); tail -n 60 build-fuzz/$$t.log; echo "fuzz_$$t: FAILED"; fi; \
	    done; echo "fuzz: $$p passed, $$f failed"; echo "$$p $$f" > build-fuzz/fuzz.result; \
	    test $$f -eq 0

# Keep the test objects: no "rm" at the end of a test run.
.SECONDARY:
