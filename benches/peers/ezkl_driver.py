#!/usr/bin/env python3
"""One ezkl step per process, for benches/peers/ezkl_compare.sh.

Each subcommand does exactly one ezkl step on a work folder, so the caller can
time it with /usr/bin/time and get that step's own wall time and peak RSS.
Every subcommand prints one JSON line on stdout (the last line); errors go to
stderr and give exit code 1.

  prep      MODEL WORK CALIB [--samples N] [--scales S,S] [--logrows auto|calibrated|K,K]
            gen_settings (input public, params fixed, output public),
            calibrate_settings (target "resources"), compile_circuit; one folder
            WORK/k<logrows>/ per settings candidate (see cmd_prep); the later steps take
            such a candidate folder as WORK
  srs       WORK          gen_srs for the settings' logrows (local dev SRS)
  setup     WORK          setup (pk, vk)
  witness   WORK INPUT    gen_witness
  prove     WORK          prove (loads pk + SRS, like `poa prove`)
  verify    WORK          verify
  info      WORK          logrows, scales, rows, proof bytes, ezkl version
  report    --machine F --out MD RESULT...
            renders the Markdown table from the per-model key=value result files

Written for the ezkl version pinned in requirements.txt; the calls are wrapped
so that the async variants some ezkl releases have also work.
"""

import argparse
import asyncio
import inspect
import json
import math
import os
import sys
import time

ezkl = None  # imported in main() for every subcommand but `report`


def _await(r):
    """Runs a coroutine/awaitable to completion (some ezkl versions are async)."""
    return asyncio.run(r) if inspect.isawaitable(r) else r


def _paths(work):
    return {
        "settings": os.path.join(work, "settings.json"),
        "compiled": os.path.join(work, "network.ezkl"),
        "srs": os.path.join(work, "kzg.srs"),
        "pk": os.path.join(work, "pk.key"),
        "vk": os.path.join(work, "vk.key"),
        "witness": os.path.join(work, "witness.json"),
        "proof": os.path.join(work, "proof.json"),
        "calib": os.path.join(work, "calibration.json"),
    }


def _emit(obj):
    print(json.dumps(obj), flush=True)


def _settings(p):
    with open(p["settings"]) as f:
        return json.load(f)


def _run_args():
    ra = ezkl.PyRunArgs()
    ra.input_visibility = "public"
    ra.param_visibility = "fixed"
    ra.output_visibility = "public"
    return ra


def _calibrate(a, work, scales, max_logrows):
    """gen_settings + calibrate_settings + compile_circuit into `work`; returns its settings."""
    os.makedirs(work, exist_ok=True)
    p = _paths(work)
    if not _await(ezkl.gen_settings(a.model, p["settings"], py_run_args=_run_args())):
        raise RuntimeError("gen_settings returned False")
    ok = _await(
        ezkl.calibrate_settings(
            _paths(a.work)["calib"],
            a.model,
            p["settings"],
            "resources",
            lookup_safety_margin=2.0,
            scales=scales,
            scale_rebase_multiplier=[1],
            max_logrows=max_logrows,
        )
    )
    if not ok:
        raise RuntimeError("calibrate_settings returned False")
    if not _await(ezkl.compile_circuit(a.model, p["compiled"], p["settings"])):
        raise RuntimeError("compile_circuit returned False")
    return _settings(p)


def _describe(tag, s, source):
    r = s["run_args"]
    return {
        "tag": tag,
        "logrows": r["logrows"],
        "input_scale": r["input_scale"],
        "param_scale": r["param_scale"],
        "num_rows": s.get("num_rows"),
        "source": source,
    }


def cmd_prep(a):
    """Settings candidates for one model, each in WORK/k<logrows>/.

    The first is ezkl's own calibration (target "resources", no logrows cap). ezkl 23 can
    also lay the same circuit out at a smaller logrows (rows wrap into more columns, lookup
    tables split), and its calibration does not pick the fastest one, so with --logrows auto the
    smallest logrows that holds every row in one column ("fit") is added as a second candidate,
    recalibrated with max_logrows and the scale the first calibration chose. An explicit list
    (--logrows 12,13) adds those instead. The caller proves every candidate and keeps the
    fastest.
    """
    os.makedirs(a.work, exist_ok=True)
    # ezkl's calibration data: one flat list per input; ezkl cuts it into chunks of the
    # model's input size and runs each chunk as a sample. poa's file is {"inputs": [[…], …]}.
    with open(a.calib) as f:
        raw = json.load(f)
    samples = (raw.get("inputs") or raw.get("input_data"))[: a.samples]
    with open(_paths(a.work)["calib"], "w") as f:
        json.dump({"input_data": [[x for s in samples for x in s]]}, f)

    scales = [int(x) for x in a.scales.split(",")] if a.scales else None
    t = time.perf_counter()
    tmp = os.path.join(a.work, "calibrated")
    s = _calibrate(a, tmp, scales, None)
    k0 = s["run_args"]["logrows"]
    tag0 = f"k{k0}"
    os.replace(tmp, os.path.join(a.work, tag0))
    cands = [_describe(tag0, s, "calibrated")]

    if a.logrows == "auto":
        rows = int(s.get("num_rows") or 0)
        # 64 rows of headroom for blinding/reserved rows; ezkl refused logrows below 11 here.
        extra = [max(11, math.ceil(math.log2(rows + 64)))]
    elif a.logrows == "calibrated":
        extra = []
    else:
        extra = [int(x) for x in a.logrows.split(",")]
    chosen_scale = [s["run_args"]["input_scale"]]
    for k in extra:
        if any(c["logrows"] == k for c in cands):
            continue
        if a.logrows == "auto" and k >= k0:
            continue
        tag = f"k{k}"
        try:
            sk = _calibrate(a, os.path.join(a.work, tag), chosen_scale, k)
        except Exception as e:  # noqa: BLE001 - a candidate that does not fit is skipped
            print(f"candidate logrows {k} skipped: {e}", file=sys.stderr)
            continue
        if sk["run_args"]["logrows"] != k or any(c["logrows"] == k for c in cands):
            continue
        cands.append(_describe(tag, sk, f"max_logrows={k}"))
    _emit({"candidates": cands, "calibrate_s": round(time.perf_counter() - t, 3), "samples": len(samples)})


def cmd_srs(a):
    p = _paths(a.work)
    k = _settings(p)["run_args"]["logrows"]
    _await(ezkl.gen_srs(p["srs"], k))
    _emit({"logrows": k, "srs_bytes": os.path.getsize(p["srs"])})


def cmd_setup(a):
    p = _paths(a.work)
    ok = _await(
        ezkl.setup(
            p["compiled"],
            p["vk"],
            p["pk"],
            srs_path=p["srs"],
            witness_path=None,
            disable_selector_compression=False,
        )
    )
    if not ok:
        raise RuntimeError("setup returned False")
    _emit({"pk_bytes": os.path.getsize(p["pk"]), "vk_bytes": os.path.getsize(p["vk"])})


def cmd_witness(a):
    p = _paths(a.work)
    _await(ezkl.gen_witness(a.input, p["compiled"], p["witness"], vk_path=None, srs_path=None))
    _emit({"witness": p["witness"]})


def cmd_prove(a):
    p = _paths(a.work)
    t = time.perf_counter()
    _await(ezkl.prove(p["witness"], p["compiled"], p["pk"], p["proof"], srs_path=p["srs"]))
    _emit({"call_s": round(time.perf_counter() - t, 4)})


def cmd_verify(a):
    p = _paths(a.work)
    t = time.perf_counter()
    ok = _await(ezkl.verify(p["proof"], p["settings"], p["vk"], srs_path=p["srs"], reduced_srs=False))
    if not ok:
        raise RuntimeError("verify returned False")
    _emit({"valid": True, "call_s": round(time.perf_counter() - t, 4)})


def cmd_info(a):
    p = _paths(a.work)
    s = _settings(p)
    out = {
        "ezkl_version": getattr(ezkl, "__version__", "unknown"),
        "logrows": s["run_args"]["logrows"],
        "input_scale": s["run_args"]["input_scale"],
        "param_scale": s["run_args"]["param_scale"],
        "num_rows": s.get("num_rows"),
        "check_mode": s["run_args"].get("check_mode"),
    }
    if os.path.exists(p["proof"]):
        with open(p["proof"]) as f:
            proof = json.load(f)
        # `proof` is the raw transcript as a list of byte values (hex_proof is the same, hex).
        raw = proof.get("proof")
        if isinstance(raw, list):
            out["proof_bytes"] = len(raw)
        elif isinstance(raw, str):
            out["proof_bytes"] = len(bytes.fromhex(raw.removeprefix("0x")))
        hexp = proof.get("hex_proof")
        if isinstance(hexp, str):
            out["hex_proof_bytes"] = len(bytes.fromhex(hexp.removeprefix("0x")))
        out["proof_json_bytes"] = os.path.getsize(p["proof"])
    _emit(out)


# ---------------------------------------------------------------------------------------------
# report: the Markdown table (no ezkl import needed).


def _read_kv(path):
    d = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                d[k] = v
    return d


def _num(d, k):
    try:
        v = float(d[k])
    except (KeyError, ValueError):
        return None
    return v


def _fmt(v, nd=2):
    if v is None:
        return "—"
    if nd == 0:
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def _geomean(xs):
    import math

    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def cmd_report(a):
    m = _read_kv(a.machine)
    rows = [_read_kv(p) for p in a.results]
    L = []
    L.append("# poa vs ezkl: side-by-side proving benchmark")
    L.append("")
    L.append("Generated by `benches/peers/ezkl_compare.sh`; overwritten on every run. Do not edit by hand.")
    L.append("")
    L.append(
        f"Machine: {m.get('nproc')} cores ({m.get('cpu')}), {m.get('ram')} RAM; load average at the end "
        f"{m.get('loadavg')}. Date: {m.get('date')}."
    )
    L.append(
        f"Versions: ezkl {m.get('ezkl')} ({m.get('python')}), poa commit {m.get('poa_commit')} "
        f"({m.get('poa_version')}, {m.get('rustc')}). Repetitions per prove/verify: {m.get('reps')} "
        f"(min wall, max RSS kept). Total run time: {m.get('total_s')} s."
    )
    layout = m.get("poa_layout", "wide")
    drop = int(m.get("poa_narrow_k_drop") or 0)
    if layout == "narrow" and drop:
        layout += f", set up at the one-column k minus {drop} (`poa setup --narrow-k`)"
    L.append(f"poa layout: {layout}.")
    L.append("")
    L.append(
        "Same ONNX file, same input (`fixtures/data/input_0.json`), same visibility (input public, "
        "weights fixed in the verifying key, output public), insecure local dev SRS for both. "
        "Times are wall-clock seconds of the whole step process (process start and key/SRS "
        "loading included); RSS is that process's peak. **speedup** = ezkl prove s / poa prove s; "
        "**RSS ratio** = ezkl peak RSS / poa peak RSS (both > 1 mean poa is ahead). "
        "Proof B = raw proof bytes, not JSON: poa's as its proof file carries them (curve points "
        "compressed, `openpoa-proof-v2`), poa EVM B the same proof as verifier calldata (points "
        "uncompressed, what ezkl's proof bytes are too)."
    )
    L.append("")
    hdr = [
        "model", "poa k", "ezkl logrows", "poa prove s", "ezkl prove s", "speedup",
        "poa verify s", "ezkl verify s", "poa peak RSS MiB", "ezkl peak RSS MiB", "RSS ratio",
        "poa proof B", "poa EVM B", "ezkl proof B", "notes",
    ]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 2) + ["---"]) + "|")
    speedups, rss_ratios = [], []
    for d in rows:
        pp, ep = _num(d, "poa_prove_s"), _num(d, "ezkl_prove_s")
        pr, er = _num(d, "poa_prove_rss"), _num(d, "ezkl_prove_rss")
        both = d.get("poa_ok") == "1" and d.get("ezkl_ok") == "1"
        sp = ep / pp if both and pp and ep else None
        rr = er / pr if both and pr and er else None
        if sp is not None:
            speedups.append(sp)
        if rr is not None:
            rss_ratios.append(rr)
        notes = "; ".join(
            [f"{who} failed at {d[who + '_error']}" for who in ("poa", "ezkl") if d.get(who + "_error")]
            + ([d["ezkl_note"]] if d.get("ezkl_note") else [])
        )
        cells = [
            d.get("model", "?"),
            d.get("poa_k", "—"),
            d.get("ezkl_logrows", "—"),
            _fmt(pp),
            _fmt(ep),
            (_fmt(sp) + "×") if sp is not None else "—",
            _fmt(_num(d, "poa_verify_s")),
            _fmt(_num(d, "ezkl_verify_s")),
            _fmt(pr, 0),
            _fmt(er, 0),
            (_fmt(rr) + "×") if rr is not None else "—",
            d.get("poa_proof_b", "—"),
            d.get("poa_evm_proof_b", "—"),
            d.get("ezkl_proof_b", "—"),
            notes,
        ]
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    gs, gr = _geomean(speedups), _geomean(rss_ratios)
    L.append(
        f"Geometric mean over the {len(speedups)} model(s) both provers completed: "
        f"prove speedup **{_fmt(gs)}×**, RSS ratio **{_fmt(gr)}×**."
    )
    L.append("")
    L.append("## Details")
    L.append("")
    L.append(
        "poa prove ms = poa's in-process proving time (`prove_ms` of `poa prove --json`), without "
        "process start, key loading (load ms) or the native check of the fresh proof that "
        "`poa prove` always runs before writing it (check ms; all three are inside poa prove s). "
        "ezkl call s = time inside the `ezkl.prove(...)` call (pk/SRS loading and proving, without "
        "Python start and the `import ezkl`, which took "
        f"{m.get('python_import_s')} s on its own). Setup s = key generation process (SRS "
        "generation is a separate, untimed step for ezkl; poa's `setup --dev-srs` includes making "
        "its SRS). Scales: poa activation/weight fractional bits; ezkl input/param scale."
    )
    L.append("")
    hdr2 = [
        "model", "poa scales", "ezkl scales", "poa rows", "ezkl rows", "poa prove ms",
        "poa load ms", "poa check ms", "ezkl call s", "poa setup s", "ezkl setup s",
        "poa pk MiB", "ezkl pk MiB", "ezkl calibrated logrows", "ezkl candidates (prove s)",
    ]
    L.append("| " + " | ".join(hdr2) + " |")
    L.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(hdr2) - 3)) + "|")
    for d in rows:
        cells = [
            d.get("model", "?"),
            d.get("poa_scales", "—"),
            d.get("ezkl_scales", "—"),
            d.get("poa_rows", "—"),
            d.get("ezkl_rows", "—"),
            _fmt(_num(d, "poa_prove_ms"), 0),
            _fmt(_num(d, "poa_load_ms"), 0),
            _fmt(_num(d, "poa_check_ms"), 0),
            _fmt(_num(d, "ezkl_prove_call_s")),
            _fmt(_num(d, "poa_setup_s")),
            _fmt(_num(d, "ezkl_setup_s")),
            d.get("poa_pk_mib", "—"),
            d.get("ezkl_pk_mib", "—"),
            d.get("ezkl_calibrated_logrows", "—"),
            d.get("ezkl_sweep", "—") or "—",
        ]
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("## Caveats")
    L.append("")
    L.append(
        f"- The machine has {m.get('nproc')} cores and other builds/benchmarks may have run at the "
        "same time (load average above); absolute times are noisy, and both provers ran "
        "interleaved per model under the same conditions. Treat ratios as indicative."
    )
    L.append(
        "- `poa prove` verifies every fresh proof natively before writing it; ezkl "
        f"(check_mode {rows[0].get('ezkl_check_mode', '?') if rows else '?'}) does not. "
        "That check is counted against poa in poa prove s."
    )
    L.append(
        "- Each prover chooses its own fixed-point scales from the same calibration samples "
        f"({m.get('ezkl_calib_samples')} samples for ezkl; `calibrate_settings` target "
        "\"resources\", lookup safety margin 2, scales tried: "
        f"{m.get('ezkl_scales')}). ezkl's row is its fastest settings candidate "
        f"(EZKL_LOGROWS={m.get('ezkl_logrows')}): its own calibrated logrows and, with auto, the "
        "smallest logrows that holds all its rows in one column, which ezkl's calibration does "
        "not pick by itself but often proves faster. See benches/peers/README.md."
    )
    L.append(
        "- The scales differ: each prover keeps the fewest fractional bits that meet its own "
        "accuracy target, so ezkl's circuit carries more precision than poa's. Forcing ezkl "
        "to poa's scale (EZKL_SCALES) did not lower its logrows on mlp_small (15 at scale 5 "
        "and at 13), because ezkl's range-check tables, not value sizes, set its rows."
    )
    text = "\n".join(L) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("prep")
    s.add_argument("model")
    s.add_argument("work")
    s.add_argument("calib")
    s.add_argument("--samples", type=int, default=128)
    s.add_argument("--scales", default="", help="comma-separated scales for calibrate_settings to try")
    s.add_argument("--logrows", default="auto", help='"auto", "calibrated" or a comma-separated list')
    s.set_defaults(fn=cmd_prep)
    for name, fn in [("srs", cmd_srs), ("setup", cmd_setup), ("prove", cmd_prove), ("verify", cmd_verify), ("info", cmd_info)]:
        s = sub.add_parser(name)
        s.add_argument("work")
        s.set_defaults(fn=fn)
    s = sub.add_parser("witness")
    s.add_argument("work")
    s.add_argument("input")
    s.set_defaults(fn=cmd_witness)
    s = sub.add_parser("report")
    s.add_argument("--machine", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("results", nargs="+")
    s.set_defaults(fn=cmd_report)
    a = ap.parse_args()
    if a.cmd != "report":
        global ezkl
        import ezkl as _ezkl

        ezkl = _ezkl
    try:
        a.fn(a)
    except Exception as e:  # noqa: BLE001 - one short line for the results table
        msg = " ".join(str(e).split())
        print(f"ezkl {a.cmd} failed: {type(e).__name__}: {msg}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
