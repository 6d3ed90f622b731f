# Sourced by scripts/test and scripts/fuzz: the clang build with AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation, the runtime options
# that make any report fatal, and the loop that runs the fuzz targets.
# shellcheck shell=bash

# One configuration for the sanitizer suite (build/asan) and the fuzz targets (build/fuzz;
# build/asan too when scripts/test runs both, so the libraries are compiled once). -O1 and
# line tables only: a third of the compile time of -O2 -g, with stacks that still name lines.
# No -Werror: clang's warnings differ from GCC's, which the normal build holds to -Werror.
# shellcheck disable=SC2034  # used by the scripts that source this file
sanitizer_cmake_args=(
  -DCMAKE_CXX_COMPILER=clang++
  -DKEYFLOW_SANITIZE=ON
  -DKEYFLOW_FUZZ=ON
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only"
)

# Every report stops the process with a failing exit status: ASan and UBSan (built without
# recovery) abort, LeakSanitizer fails at exit. tests/sanitizers/lsan.supp lists third-party
# leaks only. The caller's own *SAN_OPTIONS come first, so that they can add to these.
keyflow_caller_asan_options="${ASAN_OPTIONS:-}"
keyflow_caller_ubsan_options="${UBSAN_OPTIONS:-}"
keyflow_caller_lsan_options="${LSAN_OPTIONS:-}"
export_sanitizer_options() {
  local supp="$KEYFLOW_ROOT/tests/sanitizers/lsan.supp"
  local asan="$keyflow_caller_asan_options" ubsan="$keyflow_caller_ubsan_options"
  local lsan="$keyflow_caller_lsan_options"
  export ASAN_OPTIONS="${asan:+$asan:}halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_odr_violation=2"
  export UBSAN_OPTIONS="${ubsan:+$ubsan:}halt_on_error=1:print_stacktrace=1:report_error_type=1"
  export LSAN_OPTIONS="${lsan:+$lsan:}suppressions=$supp:print_suppressions=0"
  local symbolizer
  symbolizer="$(command -v llvm-symbolizer || true)"
  [[ -n "$symbolizer" ]] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
  return 0
}

# The fuzz targets: one per tests/fuzz/*_fuzz.cpp.
fuzz_target_names() {
  local f
  for f in "$KEYFLOW_ROOT"/tests/fuzz/*_fuzz.cpp; do
    f="${f##*/}"
    echo "${f%.cpp}"
  done
}

# run_fuzz_targets <build dir> <seconds> <merge 0|1> [targets...]
# Runs each target (default: all) for <seconds>, as many at once as there are cores, from
# its committed corpus (tests/fuzz/corpus/<target>, read only) and what earlier runs found
# (<build dir>/corpus/<target>, where new inputs go). Crashing inputs are saved in
# <build dir>/crashes/. With merge=1, inputs that add coverage are then merged into the
# committed corpus. Returns nonzero when any target crashed, leaked, timed out or failed.
run_fuzz_targets() {
  local dir="$1" seconds="$2" merge="$3"
  shift 3
  local targets=("$@")
  ((${#targets[@]} > 0)) || mapfile -t targets < <(fuzz_target_names)
  local seeds="$KEYFLOW_ROOT/tests/fuzz/corpus" bin="$dir/tests/fuzz"
  local corpus="$dir/corpus" crashes="$dir/crashes" logs="$dir/fuzz-logs"
  mkdir -p "$crashes" "$logs"
  export_sanitizer_options
  local t
  for t in "${targets[@]}"; do
    [[ -x "$bin/$t" ]] || die "no fuzz target $bin/$t (known: $(fuzz_target_names | xargs))"
    mkdir -p "$corpus/$t" "$seeds/$t"
    rm -f "$logs/$t.log" "$logs/$t.status"
  done

  local parallel
  parallel="$(nproc)"
  log "fuzzing ${#targets[@]} targets for $seconds s each, $parallel at a time (logs in ${logs#"$KEYFLOW_ROOT"/})"
  for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
    (
      dict=()
      [[ -f "$KEYFLOW_ROOT/tests/fuzz/$t.dict" ]] && dict=(-dict="$KEYFLOW_ROOT/tests/fuzz/$t.dict")
      rc=0
      "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$crashes/$t-" "${dict[@]}" \
        "$corpus/$t" "$seeds/$t" >"$logs/$t.log" 2>&1 || rc=$?
      echo "$rc" >"$logs/$t.status"
    ) &
  done
  wait

  local status=0 rc runs cov artifact
  for t in "${targets[@]}"; do
    rc="$(cat "$logs/$t.status" 2>/dev/null || echo 1)"
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)"
    cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$logs/$t.log" | tail -1)"
    if [[ "$rc" == 0 ]]; then
      printf '%-22s ok: %s runs, %s\n' "$t" "${runs:-?}" "${cov:-no coverage line}" >&2
      continue
    fi
    status=1
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logs/$t.log" | tail -1)"
    printf '%-22s FAILED (exit %s) after %s runs\n' "$t" "$rc" "${runs:-?}" >&2
    # The report: from the first sanitizer, libFuzzer or property line, at most 60 lines.
    grep -m1 -A60 -E '^==[0-9]+==|^\*\*\* |runtime error:|^SUMMARY:|deadly signal|ERROR: libFuzzer' \
      "$logs/$t.log" | head -60 | sed 's/^/    /' >&2 || true
    if [[ -n "$artifact" ]]; then
      printf '    crashing input saved to %s\n    reproduce: %s %s\n' \
        "${artifact#"$KEYFLOW_ROOT"/}" "${bin#"$KEYFLOW_ROOT"/}/$t" "${artifact#"$KEYFLOW_ROOT"/}" >&2
    fi
    printf '    full log: %s\n' "${logs#"$KEYFLOW_ROOT"/}/$t.log" >&2
  done

  if ((merge)); then
    for t in "${targets[@]}"; do
      log "merging new coverage of $t into tests/fuzz/corpus/$t"
      "$bin/$t" -merge=1 -max_len=4096 "$seeds/$t" "$corpus/$t" >"$logs/$t.merge.log" 2>&1 ||
        warn "merging $t failed; see ${logs#"$KEYFLOW_ROOT"/}/$t.merge.log"
    done
  fi
  return "$status"
}
