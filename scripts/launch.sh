# Sourced by the bin/* launchers: `launch PROGRAM BUNDLE ARGS...` runs the program's esbuild
# bundle (scripts/build-launchers.mjs, built by bootstrap) with plain node. When a source file the
# bundle was built from is newer than the bundle (an edit since the last build), it is rebuilt
# first, so bin/* always run the sources as they are; the check is a few ms of bash builtins
# over the recorded inputs.
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
  # Pure bash (no find, no subshell): this runs on every start, so it must cost next to nothing.
  local stale=yes line first=yes
  if [ -f "$root/$bundle.inputs" ]; then
    stale=""
    while IFS= read -r line; do
      if [ -n "$first" ]; then first="" && continue; fi # the hash line
      if [ ! -e "$root/$line" ] || [ "$root/$line" -nt "$root/$bundle" ]; then
        stale=yes
        break
      fi
    done <"$root/$bundle.inputs"
  fi
  if [ -n "$stale" ]; then
    node "$root/scripts/build-launchers.mjs" --if-changed --quiet "$program" || exit 1
  fi
  exec node "$root/$bundle" "$@"
}
