# deps.sh: install missing Debian packages. Sourced by scripts/serve and
# scripts/test; needs root or sudo on a fresh Debian 12 machine.
deps_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing Debian packages: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# What building and running the server needs.
BUILD_PACKAGES=(gcc pkg-config meson ninja-build libmicrohttpd-dev libjansson-dev
	libsodium-dev libsqlite3-dev libcyaml-dev libyaml-dev uthash-dev libgnutls28-dev
	libcmocka-dev libvips-dev libmagic-dev
	libcurl4-gnutls-dev)   # URL previews, and chappe-bench (bench/), the load generator
