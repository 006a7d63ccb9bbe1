#!/usr/bin/env bash
# Install conduit from a git URL or a local checkout, in one command:
#
#   bash install.sh                      # from the checkout this script sits in
#   bash install.sh --from <git-url|dir> [--ref <branch|tag>]
#
# It clones the source into $CONDUIT_HOME/src (default ~/.conduit/src), builds it with
# `cargo build --release`, installs `conduit` into ~/.local/bin, and tells you the PATH line
# to add when that directory is not on your PATH. `conduit update` repeats the pull and build.
#
# Honoured: CONDUIT_HOME (state and source), CARGO_TARGET_DIR (where cargo builds; the tests
# point it at a shared target directory so the release build is not repeated).
set -euo pipefail

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

from=""
ref=""
while [ $# -gt 0 ]; do
    case "$1" in
        --from) [ $# -ge 2 ] || die "--from needs a git URL or a directory"; from="$2"; shift 2 ;;
        --ref) [ $# -ge 2 ] || die "--ref needs a branch or tag"; ref="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

[ -n "${HOME:-}" ] || die "HOME is not set"
conduit_home="${CONDUIT_HOME:-$HOME/.conduit}"
src="$conduit_home/src"
bin_dir="$HOME/.local/bin"

# The toolchain: say what is missing and how to get it.
if ! command -v git >/dev/null 2>&1; then
    die "git is not installed: install it with your package manager (apt install git, brew install git), then run this again"
fi
if ! command -v cargo >/dev/null 2>&1; then
    die "the Rust toolchain (cargo) is not installed or not on PATH: install it from https://rustup.rs
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh
then open a new shell (or run: . \"\$HOME/.cargo/env\") and run this again"
fi
if ! cargo --version >/dev/null 2>&1; then
    die "cargo is on PATH but does not run (no default toolchain?): run \`rustup default stable\`, then run this again"
fi

# Where the source comes from: --from, else the checkout this script sits in.
if [ -z "$from" ]; then
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    if [ -f "$here/Cargo.toml" ] && [ -d "$here/crates/conduit" ]; then
        from="$here"
    else
        die "no source given: run it from a conduit checkout, or pass --from <git-url|dir>"
    fi
fi
if [ -d "$from" ]; then
    from="$(cd "$from" && pwd)"
    git -C "$from" rev-parse --git-dir >/dev/null 2>&1 || die "$from is not a git checkout"
    if [ -n "$(git -C "$from" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        say "note: $from has uncommitted changes; the install builds its last commit"
    fi
fi

mkdir -p "$conduit_home"
chmod 700 "$conduit_home" 2>/dev/null || true
if [ -d "$src/.git" ]; then
    say "==> updating $src"
    git -C "$src" remote set-url origin "$from"
    git -C "$src" fetch --quiet origin
    if [ -n "$ref" ]; then
        git -C "$src" checkout --quiet "$ref"
    fi
    git -C "$src" pull --quiet --ff-only
else
    [ ! -e "$src" ] || die "$src exists but is not a git checkout: move it away and run this again"
    say "==> cloning $from into $src"
    if [ -n "$ref" ]; then
        git clone --quiet --branch "$ref" "$from" "$src"
    else
        git clone --quiet "$from" "$src"
    fi
fi

say "==> building (cargo build --release); the first build takes a few minutes"
(cd "$src" && cargo build --release -p conduit)
built="${CARGO_TARGET_DIR:-$src/target}/release/conduit"
[ -x "$built" ] || die "the build finished but $built is missing"

mkdir -p "$bin_dir"
# Copy then rename: a running conduit keeps its old inode, and a half-written file is never seen.
cp "$built" "$bin_dir/.conduit.new"
chmod 755 "$bin_dir/.conduit.new"
mv -f "$bin_dir/.conduit.new" "$bin_dir/conduit"
say "==> installed $bin_dir/conduit ($("$bin_dir/conduit" --version))"

case ":${PATH:-}:" in
    *":$bin_dir:"*) ;;
    *)
        case "${SHELL:-}" in
            */zsh) profile="~/.zshrc" ;;
            */fish) profile="~/.config/fish/config.fish" ;;
            *) profile="~/.bashrc (or ~/.profile)" ;;
        esac
        say ""
        say "$bin_dir is not on your PATH. Add this line to $profile:"
        say ""
        say "    export PATH=\"$bin_dir:\$PATH\""
        ;;
esac

say ""
say "Next: \`conduit start\` (it points Claude Code at conduit), then run \`claude\`."
say "Shell completions: \`conduit completions bash|zsh|fish\`; diagnostics: \`conduit doctor\`."
