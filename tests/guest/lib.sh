# shellcheck shell=bash
# Shared by cgroup2-qemu.sh and testing-build.sh: coloc's sources into a
# Debian root filesystem and commands run in it with chroot. Sourced.

# guest_copy_source SRC DEST: the checkout's files (git's list where SRC is
# a git work tree, else everything but build/ and .git) into DEST, times
# kept, over what DEST holds (make then rebuilds only what changed).
guest_copy_source() {
	local src=$1 dest=$2
	mkdir -p "$dest"
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$src" && git ls-files -z -co --exclude-standard | cpio -0 -pdmu --quiet "$dest")
	else
		(cd "$src" && tar --exclude=./build --exclude=./.git -cf - . | tar -C "$dest" -xf -)
	fi
}

# guest_chroot ROOT CMD...: CMD in ROOT with /proc and /dev bound and a
# clean environment; its exit status.
guest_chroot() {
	local root=$1 rc
	shift
	mount --bind /proc "$root/proc" && mount --bind /dev "$root/dev" || return 1
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
	rc=$?
	umount "$root/dev" "$root/proc"
	return $rc
}

# guest_args PROG SRCDIR CACHE: src and cache from the arguments, absolute
# paths; CACHE is created.
guest_args() {
	src=$(cd "${2:?usage: $1 SRCDIR CACHE}" && pwd) || exit 1
	cache=${3:?usage: $1 SRCDIR CACHE}
	mkdir -p "$cache" && cache=$(cd "$cache" && pwd) || exit 1
}
