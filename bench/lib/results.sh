# The result lines bench/run gathers into bench/results.md; sourced by every bench.
# One line per target, appended to $BENCH_RESULTS when bench/run set it: case, figure, ceiling,
# ratio (or the figure itself), target, pass or fail, each separated by a tab.
bench_result() { # bench_result <case> <figure> <ceiling> <value> <op: >= or <=> <target>
  local verdict
  verdict="$(awk -v v="$4" -v op="$5" -v t="$6" \
    'BEGIN { ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "pass" : "fail" }')"
  [[ -n "${BENCH_RESULTS:-}" ]] &&
    printf '%s\t%s\t%s\t%s\t%s %s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$verdict" >>"$BENCH_RESULTS"
  return 0
}
