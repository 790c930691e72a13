#!/usr/bin/env bash
# benches/peers/ezkl_compare.sh: side-by-side proving benchmark, OpenPoA `poa` vs ezkl.
#
# For every fixture model (fixtures/models/<name>.onnx) both provers get the same ONNX file,
# the same calibration samples (fixtures/data/calibration.json), the same input
# (fixtures/data/input_0.json) and the same visibility: input public, weights fixed (baked into
# the verifying key), output public. Both use a locally generated, INSECURE dev SRS
# (`poa setup --dev-srs`, ezkl `gen_srs`); SRS generation is not timed as part of proving.
#
# Measured, each step in its own process under GNU time (`/usr/bin/time -f '%e %M'`), so every
# number belongs to one step:
#   prove   wall-clock seconds of the whole prove process (process start, SRS + proving-key
#           loading, proving, proof writing) and its peak RSS. This is the like-for-like number
#           the speedup and RSS ratio use. poa's in-process `prove_ms` (proving only) and ezkl's
#           in-call time of `ezkl.prove` are reported separately as notes.
#   verify  wall-clock seconds of the verify process.
#   size    raw proof bytes (not JSON), circuit size (poa k, ezkl logrows).
# Output: one Markdown table + geometric means on stdout, also written to benches/peers/RESULTS.md.
#
# Environment (all optional):
#   EZKL_VENV          venv for ezkl (default /tmp/ezkl-venv; created and filled from requirements.txt)
#   CARGO_TARGET_DIR   cargo target dir (default $HOME/.cache/openpoa/target)
#   BENCH_WORK         scratch folder for keys/proofs (default /tmp/openpoa-ezkl-bench; wiped per model)
#   MODELS             space-separated fixture names (default: all seven: the five small ones, then
#                      mlp_26k and mlp_85k, the MLPs of the sizes users bring)
#   EZKL_CALIB_SAMPLES calibration samples given to ezkl (default 128, the same set poa uses)
#   EZKL_SCALES        comma-separated scales ezkl's calibration may try (default: ezkl's own list)
#   EZKL_LOGROWS       ezkl settings candidates to prove, the fastest is reported (default auto:
#                      ezkl's calibrated logrows + the smallest logrows holding all rows in one
#                      column; "calibrated": ezkl's choice only; "12,13": these as well)
#   REPS               prove/verify repetitions per model; min wall and max RSS are kept (default 1)
#   RESULTS_MD         where to write the table (default benches/peers/RESULTS.md)
#   POA_LAYOUT         `poa setup --layout`: wide (default; fastest proving), narrow (one advice
#                      column: 1 KB proofs and a verifier that fits a contract) or dense (five
#                      lanes, weights as gate coefficients: ~1.9 KB proofs at wide's speed);
#                      narrow and dense take Gemm/Conv/Relu/Add/rescale models only, not ops_zoo
#   POA_NARROW_K_DROP  narrow layout: set up again at the one-column k minus this (`--narrow-k`),
#                      spreading the circuit over more columns (default 0: one column)
#   POA_REV            build poa from this git revision (exported with `git archive` into
#                      $BENCH_WORK/poa-src) instead of the working tree, e.g. POA_REV=HEAD while
#                      the working tree is mid-edit. It builds in its own target dir
#                      (POA_REV_TARGET_DIR, default $HOME/.cache/openpoa/target-rev): cargo keys
#                      workspace crates by their path relative to the workspace root, so an export
#                      built in the shared target dir could pass for the working tree's build
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EZKL_VENV=${EZKL_VENV:-/tmp/ezkl-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/openpoa/target}
BENCH_WORK=${BENCH_WORK:-/tmp/openpoa-ezkl-bench}
MODELS=${MODELS:-mlp_small mlp_deep cnn_small mlp_argmax ops_zoo mlp_26k mlp_85k}
EZKL_CALIB_SAMPLES=${EZKL_CALIB_SAMPLES:-128}
EZKL_SCALES=${EZKL_SCALES:-}
EZKL_LOGROWS=${EZKL_LOGROWS:-auto}
REPS=${REPS:-1}
RESULTS_MD=${RESULTS_MD:-$HERE/RESULTS.md}
POA_REV=${POA_REV:-}
POA_LAYOUT=${POA_LAYOUT:-wide}
POA_NARROW_K_DROP=${POA_NARROW_K_DROP:-0}
INPUT=$ROOT/fixtures/data/input_0.json
CALIB=$ROOT/fixtures/data/calibration.json
TIME=/usr/bin/time
START_S=$SECONDS

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -x $TIME ]] || die "GNU time ($TIME) is required for per-step peak RSS"
command -v jq >/dev/null || die "jq is required"
[[ -f $INPUT && -f $CALIB ]] || die "fixtures missing under $ROOT/fixtures/data"

# ---------------------------------------------------------------------------------------------
# 1. ezkl in a venv (PyPI only; nothing else is downloaded).
if [[ ! -x $EZKL_VENV/bin/python ]]; then
    log "creating venv $EZKL_VENV"
    python3 -m venv "$EZKL_VENV"
fi
log "pip install -r benches/peers/requirements.txt"
"$EZKL_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
PY=$EZKL_VENV/bin/python
DRIVER=$HERE/ezkl_driver.py
EZKL_VERSION=$("$PY" -c 'import ezkl; print(getattr(ezkl, "__version__", "unknown"))')

# 2. Our binary (from the working tree, or from POA_REV).
POA_SRC=$ROOT
if [[ -n $POA_REV ]]; then
    POA_SRC=$BENCH_WORK/poa-src
    log "exporting $POA_REV to $POA_SRC"
    rm -rf "$POA_SRC"
    mkdir -p "$POA_SRC"
    # -m: files get the current time, so cargo never takes an older build for this export.
    git -C "$ROOT" archive "$POA_REV" | tar -x -m -C "$POA_SRC"
    export CARGO_TARGET_DIR=${POA_REV_TARGET_DIR:-$HOME/.cache/openpoa/target-rev}
fi
log "cargo build --release --locked --bin poa (CARGO_TARGET_DIR=$CARGO_TARGET_DIR; waits if another build holds the lock)"
(cd "$POA_SRC" && cargo build --release --locked --bin poa)
POA=$CARGO_TARGET_DIR/release/poa
[[ -x $POA ]] || die "no binary at $POA"

# ---------------------------------------------------------------------------------------------
# Step helpers. A step writes <step>.out, <step>.err and <step>.time (GNU time: "wall_s rss_kib")
# into $STEP_DIR; its exit status is returned.
STEP_DIR=
run_step() {
    local name=$1
    shift
    local rc=0
    "$TIME" -f '%e %M' -o "$STEP_DIR/$name.time" "$@" >"$STEP_DIR/$name.out" 2>"$STEP_DIR/$name.err" || rc=$?
    return "$rc"
}
wall_s() { tail -n1 "$STEP_DIR/$1.time" | awk '{print $1}'; }
rss_mib() { tail -n1 "$STEP_DIR/$1.time" | awk '{printf "%.0f", $2 / 1024}'; }
# Last stdout line of an ezkl_driver.py step (its JSON result).
driver_json() { tail -n1 "$STEP_DIR/$1.out"; }
# A short, table-safe error for a failed step: poa's {"error": …}, the driver's own line, or
# the last stderr line.
step_error() {
    local name=$1 msg=''
    msg=$(jq -r '.error? // empty' "$STEP_DIR/$name.out" 2>/dev/null || true)
    if [[ -z $msg ]]; then
        msg=$(grep -E 'failed:|error|Error|panicked' "$STEP_DIR/$name.err" | tail -n1 || true)
    fi
    if [[ -z $msg ]]; then
        msg=$(tail -n1 "$STEP_DIR/$name.err" 2>/dev/null || true)
    fi
    [[ -n $msg ]] || msg="exit status $(head -n1 "$STEP_DIR/$name.time" 2>/dev/null || echo '?')"
    msg=$(printf '%s' "$msg" | tr '\n|' ' /' | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/  */ /g')
    printf '%s: %.160s' "$name" "$msg"
}
# Appends key=value to the model's result file.
RESULT=
put() { printf '%s=%s\n' "$1" "$2" >>"$RESULT"; }

# Repeats a prove/verify step REPS times. <name>.time gets the min wall time and the max RSS;
# <name>.out is the stdout of the fastest repetition (so in-process times match the wall time).
run_reps() {
    local name=$1
    shift
    local i best_wall='' best_rep=1 max_rss=0 w r
    for ((i = 1; i <= REPS; i++)); do
        run_step "$name" "$@" || return 1
        w=$(tail -n1 "$STEP_DIR/$name.time" | awk '{print $1}')
        r=$(tail -n1 "$STEP_DIR/$name.time" | awk '{print $2}')
        if [[ -z $best_wall ]] || awk -v a="$w" -v b="$best_wall" 'BEGIN { exit !(a < b) }'; then
            best_wall=$w
            best_rep=$i
        fi
        if ((r > max_rss)); then max_rss=$r; fi
        cp "$STEP_DIR/$name.out" "$STEP_DIR/$name.rep$i.out"
        cp "$STEP_DIR/$name.time" "$STEP_DIR/$name.rep$i.time"
    done
    cp "$STEP_DIR/$name.rep$best_rep.out" "$STEP_DIR/$name.out"
    printf '%s %s\n' "$best_wall" "$max_rss" >"$STEP_DIR/$name.time"
}

bench_poa() {
    local model=$1 dir=$2
    STEP_DIR=$dir
    local onnx=$ROOT/fixtures/models/$model.onnx out proof=$dir/proof.json
    run_step poa_compile "$POA" --json compile "$onnx" --calibration "$CALIB" --out "$dir/model" ||
        { put poa_error "$(step_error poa_compile)"; return; }
    out=$(cat "$dir/poa_compile.out")
    put poa_scales "a$(jq -r '.settings.scales.activation' <<<"$out")/w$(jq -r '.settings.scales.weight' <<<"$out")"
    run_step poa_setup "$POA" --json setup "$dir/model" --dev-srs --layout "$POA_LAYOUT" ||
        { put poa_error "$(step_error poa_setup)"; return; }
    out=$(cat "$dir/poa_setup.out")
    if [[ $POA_LAYOUT == narrow && $POA_NARROW_K_DROP != 0 ]]; then
        run_step poa_setup "$POA" --json setup "$dir/model" --dev-srs --layout narrow \
            --narrow-k "$(($(jq -r '.stats.k' <<<"$out") - POA_NARROW_K_DROP))" ||
            { put poa_error "$(step_error poa_setup)"; return; }
        out=$(cat "$dir/poa_setup.out")
    fi
    put poa_k "$(jq -r '.stats.k' <<<"$out")"
    put poa_rows "$(jq -r '.stats.rows' <<<"$out")"
    put poa_setup_s "$(wall_s poa_setup)"
    put poa_pk_mib "$(jq -r '.pk_bytes / 1048576 * 10 | round / 10' <<<"$out")"
    run_reps poa_prove "$POA" --json prove "$dir/model" --input "$INPUT" --out "$proof" ||
        { put poa_error "$(step_error poa_prove)"; return; }
    out=$(cat "$dir/poa_prove.out")
    put poa_prove_s "$(wall_s poa_prove)"
    put poa_prove_rss "$(rss_mib poa_prove)"
    put poa_prove_ms "$(jq -r '.prove_ms' <<<"$out")"
    put poa_load_ms "$(jq -r '.load_ms' <<<"$out")"
    put poa_check_ms "$(jq -r '.verify_ms' <<<"$out")"
    # Raw proof bytes: the 0x-hex `proof` field of poa's proof JSON (prover/src/artifact.rs:
    # points compressed), and the same proof as EVM calldata.
    put poa_proof_b "$(jq -r '.proof | ltrimstr("0x") | length / 2' "$proof")"
    put poa_evm_proof_b "$(jq -r '.evm_proof_bytes' <<<"$out")"
    run_reps poa_verify "$POA" --json verify "$dir/model" "$proof" ||
        { put poa_error "$(step_error poa_verify)"; return; }
    put poa_verify_s "$(wall_s poa_verify)"
    put poa_ok 1
}

# One ezkl settings candidate (folder $work/<tag>): srs, setup, witness, prove, verify, info.
# Step files are named ezkl_<step>_<tag>; on success prints "prove_s rss_mib" and returns 0.
bench_ezkl_candidate() {
    local cw=$1 tag=$2
    run_step "ezkl_srs_$tag" "$PY" "$DRIVER" srs "$cw" || { step_error "ezkl_srs_$tag"; return 1; }
    run_step "ezkl_setup_$tag" "$PY" "$DRIVER" setup "$cw" || { step_error "ezkl_setup_$tag"; return 1; }
    run_step "ezkl_witness_$tag" "$PY" "$DRIVER" witness "$cw" "$INPUT" || { step_error "ezkl_witness_$tag"; return 1; }
    run_reps "ezkl_prove_$tag" "$PY" "$DRIVER" prove "$cw" || { step_error "ezkl_prove_$tag"; return 1; }
    run_reps "ezkl_verify_$tag" "$PY" "$DRIVER" verify "$cw" || { step_error "ezkl_verify_$tag"; return 1; }
    run_step "ezkl_info_$tag" "$PY" "$DRIVER" info "$cw" || { step_error "ezkl_info_$tag"; return 1; }
    printf '%s %s' "$(wall_s "ezkl_prove_$tag")" "$(rss_mib "ezkl_prove_$tag")"
}

bench_ezkl() {
    local model=$1 dir=$2
    STEP_DIR=$dir
    local onnx=$ROOT/fixtures/models/$model.onnx work=$dir/ezkl out tag cw res err
    local best='' best_s='' sweep='' errors=''
    local -a scales=() tags=()
    [[ -n $EZKL_SCALES ]] && scales=(--scales "$EZKL_SCALES")
    run_step ezkl_prep "$PY" "$DRIVER" prep "$onnx" "$work" "$CALIB" --samples "$EZKL_CALIB_SAMPLES" \
        --logrows "$EZKL_LOGROWS" "${scales[@]}" ||
        { put ezkl_error "$(step_error ezkl_prep)"; return; }
    out=$(driver_json ezkl_prep)
    mapfile -t tags < <(jq -r '.candidates[].tag' <<<"$out")
    for tag in "${tags[@]}"; do
        cw=$work/$tag
        if res=$(bench_ezkl_candidate "$cw" "$tag"); then
            sweep+="${sweep:+, }$tag ${res%% *} s"
            if [[ -z $best_s ]] || awk -v a="${res%% *}" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
                best=$tag
                best_s=${res%% *}
            fi
        else
            err=$res
            sweep+="${sweep:+, }$tag failed"
            errors+="${errors:+; }$err"
        fi
    done
    put ezkl_sweep "$sweep"
    if [[ -z $best ]]; then
        put ezkl_error "${errors:-no settings candidate}"
        return
    fi
    [[ -n $errors ]] && put ezkl_note "other candidates failed: $errors"
    cw=$work/$best
    out=$(driver_json "ezkl_info_$best")
    put ezkl_logrows "$(jq -r '.logrows' <<<"$out")"
    put ezkl_rows "$(jq -r '.num_rows' <<<"$out")"
    put ezkl_scales "in$(jq -r '.input_scale' <<<"$out")/p$(jq -r '.param_scale' <<<"$out")"
    put ezkl_proof_b "$(jq -r '.proof_bytes' <<<"$out")"
    put ezkl_check_mode "$(jq -r '.check_mode' <<<"$out")"
    put ezkl_calibrated_logrows "$(jq -r '.candidates[0].logrows' <(driver_json ezkl_prep))"
    put ezkl_setup_s "$(wall_s "ezkl_setup_$best")"
    put ezkl_pk_mib "$(driver_json "ezkl_setup_$best" | jq -r '.pk_bytes / 1048576 * 10 | round / 10')"
    put ezkl_witness_s "$(wall_s "ezkl_witness_$best")"
    put ezkl_prove_s "$(wall_s "ezkl_prove_$best")"
    put ezkl_prove_rss "$(rss_mib "ezkl_prove_$best")"
    put ezkl_prove_call_s "$(driver_json "ezkl_prove_$best" | jq -r '.call_s')"
    put ezkl_verify_s "$(wall_s "ezkl_verify_$best")"
    put ezkl_ok 1
}

# ---------------------------------------------------------------------------------------------
# 3. The models.
mkdir -p "$BENCH_WORK"
RESULT_FILES=()
for model in $MODELS; do
    dir=$BENCH_WORK/$model
    rm -rf "$dir"
    mkdir -p "$dir"
    RESULT=$dir/result.env
    : >"$RESULT"
    put model "$model"
    if [[ ! -f $ROOT/fixtures/models/$model.onnx ]]; then
        put poa_error "no fixtures/models/$model.onnx"
        put ezkl_error "no fixtures/models/$model.onnx"
    else
        log "$model: poa compile/setup/prove/verify"
        bench_poa "$model" "$dir"
        log "$model: ezkl prep/srs/setup/witness/prove/verify"
        bench_ezkl "$model" "$dir"
        grep -E '^(poa|ezkl)_(prove_s|error)=' "$RESULT" | awk -v m="$model" '{ print "[" m "] " $0 }' >&2 || true
    fi
    RESULT_FILES+=("$RESULT")
done

# ---------------------------------------------------------------------------------------------
# 4. Machine info and the table.
if [[ -n $POA_REV ]]; then
    git_commit="$(git -C "$ROOT" rev-parse --short=12 "$POA_REV^{commit}" 2>/dev/null || echo unknown) (POA_REV=$POA_REV)"
else
    git_commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        git_commit="$git_commit + uncommitted changes"
    fi
fi
machine=$(
    {
        printf 'date=%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        printf 'nproc=%s\n' "$(nproc)"
        printf 'cpu=%s\n' "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
        printf 'ram=%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
        printf 'loadavg=%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
        printf 'ezkl=%s\n' "$EZKL_VERSION"
        printf 'poa_commit=%s\n' "$git_commit"
        printf 'poa_version=%s\n' "$("$POA" --version 2>/dev/null || echo unknown)"
        printf 'rustc=%s\n' "$(rustc --version 2>/dev/null || echo unknown)"
        printf 'python=%s\n' "$("$PY" --version 2>&1)"
        printf 'reps=%s\n' "$REPS"
        printf 'poa_layout=%s\n' "$POA_LAYOUT"
        printf 'poa_narrow_k_drop=%s\n' "$POA_NARROW_K_DROP"
        printf 'ezkl_calib_samples=%s\n' "$EZKL_CALIB_SAMPLES"
        printf 'ezkl_scales=%s\n' "${EZKL_SCALES:-ezkl default}"
        printf 'ezkl_logrows=%s\n' "$EZKL_LOGROWS"
        printf 'python_import_s=%s\n' "$("$TIME" -f '%e' "$PY" -c 'import ezkl' 2>&1 | tail -n1)"
        printf 'total_s=%s\n' "$((SECONDS - START_S))"
    }
)
"$PY" "$DRIVER" report --machine <(printf '%s\n' "$machine") --out "$RESULTS_MD" "${RESULT_FILES[@]}"
log "done in $((SECONDS - START_S)) s; table written to $RESULTS_MD"
