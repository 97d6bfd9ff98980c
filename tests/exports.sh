#!/bin/sh
# TAP test: the symbols libfaas.so and spank_faas.so export are exactly
# their list files (libfaas/libfaas.exports, spank-plugin/spank_faas.exports),
# as jansson's check-exports does: a new public function is added to its
# list on purpose, and nothing internal leaks into a user's program or into
# slurmstepd.
n=0
failed=0
check_exports() { # NAME LIBRARY LISTFILE
	n=$((n + 1))
	if [ ! -f "$2" ]; then
		echo "ok $n - $1 # SKIP $2 is not built"
		return
	fi
	got=$(nm -D --defined-only "$2" | awk '{print $3}' | LC_ALL=C sort)
	want=$(LC_ALL=C sort "$3")
	if [ "$got" = "$want" ]; then
		echo "ok $n - $1 exports exactly $(echo "$want" | wc -l) symbols of $3"
	else
		failed=$((failed + 1))
		echo "not ok $n - $1 exports what $3 does not list, or lacks what it lists"
		printf '%s\n' "$want" >"exports.want.$$"
		printf '%s\n' "$got" | diff "exports.want.$$" - | sed 's/^/# /'
		rm -f "exports.want.$$"
	fi
}
: "${abs_top_builddir:?make check sets it}" "${abs_top_srcdir:?make check sets it}"
check_exports libfaas.so "$abs_top_builddir/libfaas/.libs/libfaas.so" "$abs_top_srcdir/libfaas/libfaas.exports"
check_exports spank_faas.so "$abs_top_builddir/spank-plugin/.libs/spank_faas.so" \
	"$abs_top_srcdir/spank-plugin/spank_faas.exports"
# the Debian package's symbols file lists every exported function (a
# missing one gets the build's version with its Debian revision: lintian's
# error, found only by the packages stage)
n=$((n + 1))
syms=$(sed -n 's/^ \([a-z_0-9]*\)@Base .*/\1/p' "$abs_top_srcdir/debian/libfaas0.symbols" | LC_ALL=C sort)
want=$(LC_ALL=C sort "$abs_top_srcdir/libfaas/libfaas.exports")
if [ "$syms" = "$want" ]; then
	echo "ok $n - debian/libfaas0.symbols lists the $(echo "$want" | wc -l) functions of libfaas.exports"
else
	failed=$((failed + 1))
	echo "not ok $n - debian/libfaas0.symbols and libfaas/libfaas.exports differ"
	printf '%s\n' "$want" >"exports.want.$$"
	printf '%s\n' "$syms" | diff "exports.want.$$" - | sed 's/^/# /'
	rm -f "exports.want.$$"
fi
echo "1..$n"
[ $failed = 0 ]
