#!/usr/bin/env bash
# Gradescope image setup (run once, as root, when the autograder is built): installs a pinned
# Rust toolchain (under /usr/local, world-readable) and labgrade, and warms labgrade's build cache in every profile a grading
# builds with, so gradings compile only the student's crate, offline.
#
# The autograder zip (gradescope/make-autograder-zip.sh) holds this file and run_autograder at
# its top and the labgrade repository in labgrade/; Gradescope unpacks it in /autograder/source.
# Run from a checkout (gradescope/setup.sh), the repository is the parent directory.
#
# Network: Debian/Ubuntu packages (apt-get), the Rust toolchain (sh.rustup.rs and
# static.rust-lang.org), and crates.io (labgrade's own dependencies, then the course's libc and
# nix for the cache). Nothing after setup needs the network.
#
# Overrides (the end-to-end test uses them where the machine already has what a step installs;
# Gradescope needs none):
#   AUTOGRADER_ROOT          instead of /autograder
#   LABGRADE_PREFIX          where labgrade is installed (bin/labgrade; default /usr/local)
#   LABGRADE_RUST_TOOLCHAIN  the toolchain to install (default: the one CI tests, below)
#   LABGRADE_SETUP_SKIP_APT=1     skip apt-get (the packages are there)
#   LABGRADE_SETUP_SKIP_RUSTUP=1  skip the toolchain install (cargo is on PATH)
#   LABGRADE_PREBUILT=FILE        install this labgrade binary instead of `cargo install`
# The cache warm-up always runs for real.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ -f $here/labgrade/Cargo.toml ]]; then
  source_dir=$here/labgrade
else
  source_dir=$(cd "$here/.." && pwd)
fi
root=${AUTOGRADER_ROOT:-/autograder}
# Where labgrade is installed (bin/labgrade under it); run_autograder looks in /usr/local/bin.
prefix=${LABGRADE_PREFIX:-/usr/local}
# Pinned: the build cache is only reused by the compiler that filled it, and a course wants
# the same compiler all term. 1.95.0 is what CI runs; Cargo.toml's rust-version (1.85) is the
# oldest that builds labgrade.
toolchain=${LABGRADE_RUST_TOOLCHAIN:-1.95.0}

if [[ ${LABGRADE_SETUP_SKIP_APT:-} != 1 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends ca-certificates curl build-essential
fi

# The toolchain goes under /usr/local, readable by every user: labgrade builds submissions as
# its build user (not root) only where that user can run cargo and rustc, and root's home
# (rustup's default for root) is mode 700. run_autograder exports the same two variables.
if [[ ${LABGRADE_SETUP_SKIP_RUSTUP:-} != 1 ]]; then
  export RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo
fi
export PATH="/usr/local/cargo/bin:$HOME/.cargo/bin:$PATH"
if [[ ${LABGRADE_SETUP_SKIP_RUSTUP:-} != 1 ]]; then
  if ! [[ -x $CARGO_HOME/bin/rustup ]]; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
      sh -s -- -y --no-modify-path --profile minimal --default-toolchain "$toolchain"
  else
    rustup toolchain install "$toolchain" --profile minimal
    rustup default "$toolchain"
  fi
  chmod -R a+rX "$RUSTUP_HOME" "$CARGO_HOME"
fi

mkdir -p "$prefix/bin"
if [[ -n ${LABGRADE_PREBUILT:-} ]]; then
  install -m 755 "$LABGRADE_PREBUILT" "$prefix/bin/labgrade"
else
  # Built in a temporary target directory, removed after: `cargo install` would otherwise
  # leave ~260 MB of build products in the image.
  build_dir=$(mktemp -d)
  trap 'rm -rf "$build_dir"' EXIT
  cargo install --locked --path "$source_dir" --root "$prefix" --target-dir "$build_dir"
  rm -rf "$build_dir"
fi
labgrade=$prefix/bin/labgrade

# Fetch and compile the course dependencies (libc, nix) once, in release and in the
# unoptimised profile the race tests also build with, into the cache run_autograder uses.
export LABGRADE_CACHE_DIR=$root/labgrade-cache
"$labgrade" cache warm
echo "setup.sh: $("$labgrade" --version) in $prefix/bin; build cache warm in $LABGRADE_CACHE_DIR"
du -sh "$labgrade" "$LABGRADE_CACHE_DIR" 2>/dev/null || true
