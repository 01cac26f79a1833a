# contree - see README.  Plain POSIX make.
.POSIX:
.SUFFIXES:
.SUFFIXES: .c .o

CC = cc
CFLAGS = -O2 -g
LDFLAGS =
LDLIBS = -lbearssl
PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d
DESTDIR =

# Our own flags: kept apart so a user's CFLAGS cannot drop them.
WFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pedantic
ALL_CFLAGS = $(WFLAGS) $(CFLAGS)

# Sanitizer build used by `make asan`.
SANFLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

OBJ = contree.o parse.o ctx.o config.o table.o util.o json.o ini.o out.o store.o \
	http.o tls.o api.o ops.o files.o diff.o cmd_images.o cmd_fs.o \
	cmd_session.o cmd_auth.o cmd_run.o cmd_ops.o cmd_misc.o cmd_skill.o \
	cmd_shell.o cmd_diff.o manual.o complete.o edit.o jobs.o build.o \
	cmd_build.o treediff.o explore.o cmd_explore.o mcp.o cmd_mcp.o \
	prose.o mcpguide.o
HDR = util.h json.h ini.h out.h store.h http.h tls.h api.h contree.h cmds.h \
	ops.h files.h diff.h config.h manual.h complete.h edit.h jobs.h build.h \
	treediff.h explore.h mcp.h prose.h prose.def

UNIT = tests/unit_json tests/unit_util tests/unit_ini tests/unit_out \
	tests/unit_store tests/unit_http tests/unit_parse tests/unit_edit \
	tests/unit_files tests/unit_config tests/unit_tls tests/unit_diff \
	tests/unit_jobs tests/unit_build tests/unit_prose
# unit_store again without the x86-64 fast paths (SSE2 record cutting,
# carry-less CRC): what other machines run
UNIT += tests/unit_store_portable
TESTBIN = tests/jsonparse tests/apitool $(UNIT)

all: contree tests/jsonparse

contree: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(OBJ): $(HDR)

# The long texts (prose.def) are stored packed: textpack, a build tool
# run here (HOSTCC: the build machine's compiler), writes prose_z.h.
HOSTCC = $(CC)
textpack: textpack.c prose.h prose.def
	$(HOSTCC) $(WFLAGS) -O2 -o $@ textpack.c
prose_z.h: textpack
	./textpack > prose_z.h.tmp && mv prose_z.h.tmp prose_z.h
prose.o: prose_z.h
# The MCP server's texts (mcp.def) the same way, apart: mcp_z.h.
textpack: mcp.def
mcp_z.h: textpack
	./textpack mcp > mcp_z.h.tmp && mv mcp_z.h.tmp mcp_z.h
mcpguide.o: mcp_z.h
cmd_mcp.o mcp.o mcpguide.o: mcp.def
static static-size: mcp_z.h

.c.o:
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

tests/jsonparse: tests/jsonparse.c json.c util.c json.h util.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/jsonparse.c json.c util.c

tests/apitool: tests/apitool.c api.c http.c tls.c json.c util.c jobs.c $(HDR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/apitool.c api.c http.c \
		tls.c json.c util.c jobs.c $(LDLIBS)

tests/unit_json: tests/unit_json.c json.c util.c json.h util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_json.c json.c util.c

tests/unit_util: tests/unit_util.c util.c util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_util.c util.c

tests/unit_ini: tests/unit_ini.c ini.c util.c ini.h util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_ini.c ini.c util.c

tests/unit_config: tests/unit_config.c config.c ini.c util.c config.h ini.h \
	util.h tests/unit.h prose.c prose_z.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_config.c config.c \
		ini.c util.c prose.c $(LDLIBS)

tests/unit_out: tests/unit_out.c out.c json.c util.c $(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_out.c out.c json.c \
		util.c

tests/unit_store: tests/unit_store.c store.c util.c $(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_store.c store.c util.c

tests/unit_store_portable: tests/unit_store.c store.c util.c $(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) -DSTORE_PORTABLE $(LDFLAGS) -o $@ tests/unit_store.c \
		store.c util.c

tests/unit_diff: tests/unit_diff.c diff.c util.c diff.h util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_diff.c diff.c util.c

tests/bench_store: tests/bench_store.c store.c util.c store.h util.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/bench_store.c store.c util.c

tests/unit_http: tests/unit_http.c http.c tls.c api.c json.c util.c jobs.c \
	$(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_http.c http.c tls.c \
		api.c json.c util.c jobs.c $(LDLIBS)

tests/unit_parse: tests/unit_parse.c parse.c out.c api.c http.c tls.c json.c \
	util.c jobs.c prose.c prose_z.h $(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_parse.c parse.c out.c \
		api.c http.c tls.c json.c util.c jobs.c prose.c $(LDLIBS)

tests/unit_edit: tests/unit_edit.c edit.c util.c edit.h util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_edit.c edit.c util.c

tests/unit_files: tests/unit_files.c files.c http.c tls.c api.c json.c util.c \
	jobs.c prose.c prose_z.h $(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_files.c files.c http.c \
		tls.c api.c json.c util.c jobs.c prose.c $(LDLIBS)

tests/unit_build: tests/unit_build.c build.c files.c http.c tls.c api.c \
	json.c util.c jobs.c prose.c prose_z.h $(HDR) tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_build.c build.c files.c \
		http.c tls.c api.c json.c util.c jobs.c prose.c $(LDLIBS)

tests/unit_jobs: tests/unit_jobs.c jobs.c util.c jobs.h util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_jobs.c jobs.c util.c

tests/unit_prose: tests/unit_prose.c prose.c textpack.c prose.h prose.def \
	prose_z.h mcp.def mcp_z.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -DTEXTPACK_NO_MAIN -o $@ \
		tests/unit_prose.c prose.c textpack.c

tests/unit_tls: tests/unit_tls.c tls.c util.c tls.h util.h tests/unit.h
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/unit_tls.c tls.c util.c \
		$(LDLIBS)

# Build everything, then run every test; the last line is
# "N passed, N failed".
test: contree $(TESTBIN)
	sh tests/run.sh

# The same tests with AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) clean
	$(MAKE) CFLAGS="$(SANFLAGS)" LDFLAGS="$(SANFLAGS)" test
	$(MAKE) clean

# libFuzzer targets (clang); not part of all.
FUZZ = tests/fuzz_json tests/fuzz_http tests/fuzz_sse tests/fuzz_store \
	tests/fuzz_ini
FUZZFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined
fuzz: $(FUZZ)
tests/fuzz_json: tests/fuzz_json.c json.c util.c
	clang $(WFLAGS) $(FUZZFLAGS) -o $@ tests/fuzz_json.c json.c util.c
tests/fuzz_http: tests/fuzz_http.c http.c tls.c util.c
	clang $(WFLAGS) $(FUZZFLAGS) -o $@ tests/fuzz_http.c http.c tls.c \
		util.c $(LDLIBS)
tests/fuzz_sse: tests/fuzz_sse.c http.c tls.c util.c
	clang $(WFLAGS) $(FUZZFLAGS) -o $@ tests/fuzz_sse.c http.c tls.c \
		util.c $(LDLIBS)
tests/fuzz_store: tests/fuzz_store.c store.c util.c
	clang $(WFLAGS) $(FUZZFLAGS) -o $@ tests/fuzz_store.c store.c util.c
tests/fuzz_ini: tests/fuzz_ini.c ini.c util.c
	clang $(WFLAGS) $(FUZZFLAGS) -o $@ tests/fuzz_ini.c ini.c util.c

# Benchmarks: numbers for the notes, never pass/fail.
bench: contree $(TESTBIN) tests/bench_store
	sh tests/bench.sh

# A tour of the tool against the bundled fake API (no account needed).
# On a fresh machine it first installs what is missing (as `make deps`).
demo:
	sh tests/deps.sh
	$(MAKE) contree
	sh tests/demo.sh

# Static binary with musl (Debian: musl-tools), stripped: ./contree
# (STATIC_OUT=path puts it elsewhere; make bench does).
# One compiler run over the sources, so no musl object is left behind
# for a later `make` to link with glibc.  Each flag earns its bytes (sizes
# in README, "Static binary"):
#   -Os, -ffunction-sections -fdata-sections with --gc-sections: smallest
#     code, unused functions dropped;
#   -fno-asynchronous-unwind-tables: no .eh_frame for our code (C needs
#     no unwinding; musl never uses it); the same for BearSSL, whose
#     archive is copied without .eh_frame;
#   -fno-pie -no-pie: a static musl binary is ET_EXEC either way (Debian
#     ships no rcrt1.o for static-pie), so PIE code only cost bytes;
#   -z noseparate-code: headers, code and rodata in one R+X segment (the
#     layout before binutils 2.31) instead of three page-aligned ones:
#     -8 KB of padding; rodata becomes executable (more ROP gadgets),
#     acceptable for a client with no untrusted code;
#   -z norelro: nothing applies PT_GNU_RELRO in a static non-PIE musl
#     binary (only a dynamic loader does), so it was padding alone.
# Not taken: LTO, clang -Oz (no gain measured), -fno-jump-tables (-0.8
# KB for slower switches), --build-id=none (musl-gcc writes none),
# -fno-stack-protector (off already; not a size knob we want).
MUSLCC = musl-gcc
STATIC_OUT = contree
BEARSSL_A = /usr/lib/$$(gcc -dumpmachine)/libbearssl.a
# -flto with one partition: the whole program optimised at once (1.3 KB
# smaller than per-file -Os, no parallel LTRANS jobs to warn about)
STATIC_CFLAGS = -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-pie -I/usr/include/bearssl \
	-flto -flto-partition=one
STATIC_LDFLAGS = -static -no-pie -s -Wl,--gc-sections \
	-Wl,-z,noseparate-code -Wl,-z,norelro -Wl,-z,common-page-size=64
STATIC_SRC = $(OBJ:.o=.c) compat_musl.c
static: $(OBJ:.o=.c) compat_musl.c $(HDR) prose_z.h
	objcopy -R .eh_frame $(BEARSSL_A) bearssl-static.a
	$(MUSLCC) $(WFLAGS) $(STATIC_CFLAGS) $(STATIC_LDFLAGS) -o $(STATIC_OUT) \
		$(STATIC_SRC) bearssl-static.a
	rm -f bearssl-static.a

# The same without the MCP server: mcp.c, cmd_mcp.c and mcpguide.c out,
# the stub tests/nomcp.c in (their entry points only), so what only they
# use drops out; make bench weighs the server's share as the difference.
NOMCP_OUT = contree-nomcp
static-nomcp:
	src=$$(echo ' $(OBJ:.o=.c) ' | \
	    sed 's/ mcp\.c / /; s/ cmd_mcp\.c / /; s/ mcpguide\.c / /') && \
	$(MAKE) static STATIC_OUT="$(NOMCP_OUT)" \
		STATIC_SRC="$$src compat_musl.c tests/nomcp.c"

# Where the static binary's bytes go, per file (numbers only).
static-size: prose_z.h
	MUSLCC="$(MUSLCC)" WFLAGS="$(WFLAGS)" STATIC_CFLAGS="$(STATIC_CFLAGS)" \
		BEARSSL_A="$(BEARSSL_A)" SRC="$(OBJ:.o=.c) compat_musl.c" \
		STATIC_LDFLAGS="$(STATIC_LDFLAGS)" \
		sh tests/static_size.sh

# The static binary alone in an empty root: TLS and plain HTTP against
# the fake server (CI runs it; needs root or unprivileged user namespaces).
static-test: static
	sh tests/static_smoke.sh ./contree

# Debian package from the tree (debian/rules: dpkg-dev, no debhelper);
# the .deb lands in ..; DEB_BUILD_OPTIONS=nocheck skips the tests.
# Alpine: packaging/alpine/APKBUILD (abuild -r there).
deb:
	dpkg-buildpackage -us -uc -b

# Both packages built in a scratch copy of the tree and checked (CI).
pkg-test:
	sh tests/packaging.sh

# Install what building and testing need (Debian/Ubuntu apt-get, Alpine apk).
deps:
	sh tests/deps.sh

install: contree
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1
	cp -f contree $(DESTDIR)$(PREFIX)/bin/contree
	chmod 755 $(DESTDIR)$(PREFIX)/bin/contree
	cp -f contree.1 $(DESTDIR)$(MANPREFIX)/man1/contree.1
	chmod 644 $(DESTDIR)$(MANPREFIX)/man1/contree.1
	mkdir -p $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(FISHCOMPDIR)
	./contree completion bash > $(DESTDIR)$(BASHCOMPDIR)/contree
	./contree completion zsh > $(DESTDIR)$(ZSHCOMPDIR)/_contree
	./contree completion fish > $(DESTDIR)$(FISHCOMPDIR)/contree.fish
	chmod 644 $(DESTDIR)$(BASHCOMPDIR)/contree \
		$(DESTDIR)$(ZSHCOMPDIR)/_contree \
		$(DESTDIR)$(FISHCOMPDIR)/contree.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/contree \
		$(DESTDIR)$(MANPREFIX)/man1/contree.1 \
		$(DESTDIR)$(BASHCOMPDIR)/contree \
		$(DESTDIR)$(ZSHCOMPDIR)/_contree \
		$(DESTDIR)$(FISHCOMPDIR)/contree.fish

clean:
	rm -f contree $(OBJ) compat_musl.o $(TESTBIN) $(FUZZ) tests/bench_store \
		bearssl-static.a contree-nomcp textpack prose_z.h prose_z.h.tmp \
		mcp_z.h mcp_z.h.tmp

.PHONY: all test asan fuzz bench demo static static-size static-test deb \
	static-nomcp \
	pkg-test deps install uninstall clean
