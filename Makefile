# mailabuse: plain make with pkg-config.
#   make                 build mailabused and mailabusectl
#   make check           unit and integration tests, plain and under ASan+UBSan
#   make SANITIZE=1 ...  build (or test) with AddressSanitizer and UBSan
#   make run             run mailabused in the foreground on ./state
#   make install         PREFIX=/usr/local DESTDIR= (make uninstall: the same)
#   make deb             a Debian package in build-deb/ (contrib/debian/)
#   make rpm             an RPM in build-rpm/ (contrib/rpm/mailabuse.spec)

VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/mailabuse
DATADIR ?= $(PREFIX)/share/mailabuse
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
# systemd reads units, tmpfiles.d and sysusers.d files under /usr/lib and
# /usr/local/lib alike (and /etc); another PREFIX needs these set.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
# Exim's group, given the policy socket in the installed configuration
# and to the unit as SupplementaryGroups= (Debian: Debian-exim, cPanel: mail).
EXIM_GROUP ?= $(shell exim -bP -n exim_group 2>/dev/null || echo Debian-exim)
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
	$(BUILD)/mailabused -f -c state/mailabused.conf

# Programs, man pages, documentation, Exim fragments, the systemd unit with
# its tmpfiles.d and sysusers.d files; the configuration, the notice
# templates and the cron jobs unless they are there already.  Without
# DESTDIR (a real install, as root) it also creates the user "mailabuse"
# and /var/lib/mailabuse (0700), as systemd-sysusers and systemd-tmpfiles
# would at boot.
install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR)/exim $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/mailabuse/notices $(DESTDIR)$(SYSCONFDIR)/cron.d
	install -m 0755 $(BUILD)/mailabused $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/mailabusectl $(DESTDIR)$(BINDIR)
	install -m 0644 man/mailabused.8 man/mailabusectl.8 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/mailabused.conf.5 $(DESTDIR)$(MANDIR)/man5
	for f in contrib/exim/*; do [ ! -f $$f ] || install -m 0644 $$f $(DESTDIR)$(DATADIR)/exim; done
	install -m 0644 README.md PROTOCOL.md $(DESTDIR)$(DOCDIR)
	sed -e 's|/usr/sbin/mailabused|$(SBINDIR)/mailabused|' \
	    -e 's|/etc/mailabuse/|$(SYSCONFDIR)/mailabuse/|' \
	    -e 's|^SupplementaryGroups=.*|SupplementaryGroups=$(EXIM_GROUP)|' \
	    contrib/systemd/mailabused.service > $(DESTDIR)$(SYSTEMDUNITDIR)/mailabused.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/mailabused.service
	install -m 0644 contrib/systemd/mailabuse.tmpfiles $(DESTDIR)$(TMPFILESDIR)/mailabuse.conf
	install -m 0644 contrib/systemd/mailabuse.sysusers $(DESTDIR)$(SYSUSERSDIR)/mailabuse.conf
	for f in conf/notices/*.txt; do \
	    test -e $(DESTDIR)$(SYSCONFDIR)/mailabuse/notices/$${f##*/} || \
	    install -m 0644 $$f $(DESTDIR)$(SYSCONFDIR)/mailabuse/notices/; done
	test -e $(DESTDIR)$(SYSCONFDIR)/cron.d/mailabuse || \
	    sed 's|/usr/local/bin|$(BINDIR)|g' contrib/cron/mailabuse > $(DESTDIR)$(SYSCONFDIR)/cron.d/mailabuse
	test -e $(DESTDIR)$(SYSCONFDIR)/mailabuse/mailabused.conf || \
	    sed 's|^  group = "";|  group = "$(EXIM_GROUP)";|' conf/mailabused.conf \
	    > $(DESTDIR)$(SYSCONFDIR)/mailabuse/mailabused.conf
	if [ -z "$(DESTDIR)" ]; then \
	    if command -v systemd-sysusers >/dev/null; then \
	        systemd-sysusers $(SYSUSERSDIR)/mailabuse.conf; \
	    elif ! id mailabuse >/dev/null 2>&1; then \
	        useradd --system --user-group --home-dir $(LOCALSTATEDIR)/lib/mailabuse \
	            --no-create-home --shell /usr/sbin/nologin mailabuse; fi; \
	    install -d -o mailabuse -g mailabuse -m 0700 $(LOCALSTATEDIR)/lib/mailabuse; \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; fi

# Removes what install added; keeps the configuration and the notice
# templates in $(SYSCONFDIR)/mailabuse, the database, and the user.
uninstall:
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	    systemctl disable --now mailabused.service || true; fi
	rm -f $(DESTDIR)$(SBINDIR)/mailabused $(DESTDIR)$(BINDIR)/mailabusectl \
	    $(DESTDIR)$(SBINDIR)/mailabusectl \
	    $(DESTDIR)$(MANDIR)/man8/mailabused.8 $(DESTDIR)$(MANDIR)/man8/mailabusectl.8 \
	    $(DESTDIR)$(MANDIR)/man5/mailabused.conf.5 \
	    $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/PROTOCOL.md \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/mailabused.service \
	    $(DESTDIR)$(TMPFILESDIR)/mailabuse.conf $(DESTDIR)$(SYSUSERSDIR)/mailabuse.conf \
	    $(DESTDIR)$(SYSCONFDIR)/cron.d/mailabuse
	for f in contrib/exim/*; do rm -f $(DESTDIR)$(DATADIR)/exim/$${f##*/}; done
	rmdir $(DESTDIR)$(DATADIR)/exim $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 2>/dev/null || true
	rmdir $(DESTDIR)$(PREFIX)/lib/systemd 2>/dev/null || true
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

clean:
	rm -rf build build-san build-fuzz build-deb build-rpm

# The files a package is built from (what a release tarball holds).
DIST = Makefile LICENSE README.md PROTOCOL.md BENCHMARKS.md conf contrib include man src

# build-deb/mailabuse_$(VERSION)_<arch>.deb, from a copy of the tree with
# contrib/debian as debian/ (dpkg-buildpackage, debhelper).
deb:
	rm -rf build-deb
	mkdir -p build-deb/mailabuse-$(VERSION)
	cp -R $(DIST) build-deb/mailabuse-$(VERSION)/
	cp -R contrib/debian build-deb/mailabuse-$(VERSION)/debian
	cd build-deb/mailabuse-$(VERSION) && DEB_BUILD_OPTIONS="nocheck noautodbgsym $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -b -us -uc
	ls build-deb/mailabuse_$(VERSION)_*.deb

# build-rpm/RPMS/<arch>/mailabuse-$(VERSION)-1.<arch>.rpm with rpmbuild;
# on Debian without the EL build dependencies (--nodeps: the -dev packages
# are Debian's).
rpm:
	rm -rf build-rpm
	mkdir -p build-rpm/SOURCES build-rpm/mailabuse-$(VERSION)
	cp -R $(DIST) build-rpm/mailabuse-$(VERSION)/
	tar -C build-rpm -czf build-rpm/SOURCES/mailabuse-$(VERSION).tar.gz mailabuse-$(VERSION)
	rpmbuild -bb --nodeps --define "_topdir $(CURDIR)/build-rpm" \
	    $(if $(filter %{_unitdir},$(shell rpm --eval '%{_unitdir}')), \
	    --define "_unitdir /usr/lib/systemd/system" \
	    --define "_tmpfilesdir /usr/lib/tmpfiles.d" \
	    --define "_sysusersdir /usr/lib/sysusers.d") \
	    contrib/rpm/mailabuse.spec
	ls build-rpm/RPMS/*/mailabuse-$(VERSION)-*.rpm

.PHONY: all unit integration check check-one run install uninstall clean bench bench-long fuzz \
	deb rpm

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
