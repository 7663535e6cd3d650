# Shared by the bench scripts (sourced): the reference venv and the synthetic cache.
PY=target/venv/bin/python

# ensure_cache WORK CACHE REPOS: generates the cache of REPOS repos once, reused after.
ensure_cache() {
  local work=$1 cache=$2 repos=$3
  [ -x "$PY" ] || scripts/install-deps.sh
  if [ ! -f "$work/.done-$repos" ]; then
    echo "==> generating $repos repos in $cache" >&2
    rm -rf "$work" && mkdir -p "$work"
    "$PY" bench/gen_cache.py "$cache" --repos "$repos"
    touch "$work/.done-$repos"
  fi
}
