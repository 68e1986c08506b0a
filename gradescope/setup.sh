#!/usr/bin/env bash
# Gradescope image setup (run once, as root, when the autograder is built): installs a Rust
# toolchain and labgrade, and warms labgrade's build cache so gradings compile only the
# student's crate, offline.
#
# The autograder zip (gradescope/make-autograder-zip.sh) holds this file and run_autograder at
# its top and the labgrade repository in labgrade/; Gradescope unpacks it in /autograder/source.
# Run from a checkout (gradescope/setup.sh), the repository is the parent directory.
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

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends ca-certificates curl build-essential

if ! command -v cargo >/dev/null 2>&1 && [[ ! -x $HOME/.cargo/bin/cargo ]]; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
export PATH="$HOME/.cargo/bin:$PATH"

cargo install --locked --path "$source_dir" --root "$prefix"
labgrade=$prefix/bin/labgrade

# Fetch and compile the course dependencies (libc, nix) once, into the cache run_autograder uses.
export LABGRADE_CACHE_DIR=$root/labgrade-cache
"$labgrade" grade "$source_dir/fixtures/submissions/reference" --only 'pool-sum/n=0 p=1' \
  --format json --out /dev/null
echo "setup.sh: $("$labgrade" --version) in $prefix/bin; build cache warm in $LABGRADE_CACHE_DIR"
