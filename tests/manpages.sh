#!/bin/sh
# TAP test: the man pages a sysadmin and a programmer read.
#   - every function <faas.h> declares is named in faas(3) and has a page
#     of its own that sources faas(3) (docs/Makefile.am, FAAS_ALIASES), so
#     that `man faas_invoke` works once installed;
#   - the installed pages carry configure's version and date in .TH;
#   - faas-trace-replay(1) has an entry for every option of its --help;
#   - installed into a DESTDIR, `man faas_invoke` (MANPATH) shows faas(3)
#     (skipped without man).
top=${abs_top_srcdir:?make check sets it}
build=${abs_top_builddir:?make check sets it}
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1 # $2"; }

fns=$(grep -oE '^[a-z].*[ *](faas_[a-z_]+)\(' "$top/libfaas/faas.h" | grep -oE 'faas_[a-z_]+\($' |
	tr -d '(' | LC_ALL=C sort -u)
name=$(sed -n '/^\.SH NAME/,/^\.SH/p' "$top/docs/man/faas.3")
missing=
for f in $fns; do
	echo "$name" | grep -qw "$f" || missing="$missing $f"
done
if [ -n "$fns" ] && [ -z "$missing" ]; then
	ok "faas(3) NAME names the $(echo "$fns" | wc -l) functions of faas.h"
else
	not_ok "faas(3) NAME names every function of faas.h" "missing:$missing"
fi
missing=
for f in $fns; do
	[ "$(cat "$build/docs/$f.3" 2>/dev/null)" = ".so man3/faas.3" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	ok "each has a page sourcing faas(3) (.so man3/faas.3)"
else
	not_ok "each function has a page sourcing faas(3)" "no page for:$missing (add it to FAAS_ALIASES in docs/Makefile.am)"
fi

# faas-trace-replay(1) documents every option its --help lists
replay=$build/tests/bench/faas-trace-replay
if [ -x "$replay" ]; then
	page=$(sed 's/\\-/-/g' "$top/docs/man/faas-trace-replay.1")
	opts=$("$replay" --help | grep -oE -- '--[a-z][a-z-]*' | LC_ALL=C sort -u)
	missing=
	for o in $opts; do
		printf '%s\n' "$page" | grep -qE -- "^\.(B|BI|BR) $o( |\$)" || missing="$missing $o"
	done
	if [ -n "$opts" ] && [ -z "$missing" ]; then
		ok "faas-trace-replay(1) documents the $(echo "$opts" | wc -l) options of its --help"
	else
		not_ok "faas-trace-replay(1) documents every option of its --help" "missing:$missing"
	fi
else
	ok "faas-trace-replay(1) documents its options # SKIP faas-trace-replay is not built"
fi

bad=
for p in "$build"/docs/*.[1-8]; do
	case $(sed -n 1p "$p") in .so*) continue ;; esac
	grep -q "^\.TH [^ ]* [0-9][^ ]* ${MAN_DATE:?} \"coloc ${PACKAGE_VERSION:?}\"" "$p" || bad="$bad ${p##*/}"
done
if [ -z "$bad" ]; then
	ok "every page's .TH carries configure's date $MAN_DATE and version $PACKAGE_VERSION"
else
	not_ok "every page's .TH carries configure's date and version" "not:$bad"
fi

if command -v man >/dev/null; then
	dest=$(mktemp -d) || exit 1
	trap 'rm -rf "$dest"' EXIT
	if ${MAKE:-make} -s -C "$build/docs" install DESTDIR="$dest" >"$dest/log" 2>&1; then
		mp=$(find "$dest" -type d -name man | head -1)
		out=$(MANPATH=$mp MANWIDTH=80 man -P cat faas_invoke 2>&1)
		if echo "$out" | grep -q "^FAAS(3) .*coloc Programmer.s Manual" &&
			[ -f "$mp/man3/faas_invoke.3" ]; then
			ok "installed, man faas_invoke shows faas(3)"
		else
			not_ok "installed, man faas_invoke shows faas(3)" "$(echo "$out" | head -3)"
		fi
	else
		not_ok "the man pages install into a DESTDIR" "$(tail -3 "$dest/log")"
	fi
else
	ok "man faas_invoke # SKIP man is not installed"
fi
echo "1..$n"
[ $failed = 0 ]
