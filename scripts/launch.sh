# Sourced by the bin/* launchers: `launch PROGRAM BUNDLE ARGS...` runs the program's esbuild
# bundle (scripts/build-launchers.mjs, built by bootstrap) with plain node. When a source file the
# bundle was built from is newer than the bundle (an edit since the last build), it is rebuilt
# first, so bin/* always run the sources as they are; the check is one `find` over the
# recorded inputs (a few ms).
launch() {
  local program=$1 bundle=$2
  shift 2
  if [ ! -f "$root/$bundle" ]; then
    if [ ! -d "$root/node_modules" ]; then
      echo "$program: dependencies are not installed; run 'make bootstrap' (or 'make test') in $root first" >&2
    else
      echo "$program: not built ($bundle is missing); run 'make bootstrap' (or 'make test') in $root first" >&2
    fi
    exit 1
  fi
  local inputs=() newer="missing inputs"
  if [ -f "$root/$bundle.inputs" ]; then
    mapfile -t inputs < <(tail -n +2 "$root/$bundle.inputs")
    newer=$(cd "$root" && find "${inputs[@]}" -newer "$bundle" -print -quit 2>&1 || echo gone)
  fi
  if [ -n "$newer" ]; then
    node "$root/scripts/build-launchers.mjs" --if-changed --quiet "$program" || exit 1
  fi
  exec node "$root/$bundle" "$@"
}
