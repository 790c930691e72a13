//! Property tests for the quantized ops. Every op is checked against a reference written here
//! from its specification, on a different code path from the runtime's (exact i128 rationals
//! instead of `div_euclid`, explicit padded arrays and im2col instead of `Window::tap`, direct
//! f64 evaluation instead of a table), so a shared mistake cannot make both sides agree.

use poa_runtime::graph::{GraphBuilder, TensorInfo, ACCUMULATOR_LIMIT_BITS};
use poa_runtime::ops::{Conv, Gemm, Op, Table, TableFn, Window};
use poa_runtime::quant::{dequantize, div_round, div_round_bound, div_round_remainder, quantize};
use poa_runtime::{RuntimeError, Tensor};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------------

/// Mathematical floor of `num / den` for `den > 0`.
fn floor_div(num: i128, den: i128) -> i128 {
    assert!(den > 0);
    let q = num / den; // truncates toward zero
    if num % den != 0 && num < 0 {
        q - 1
    } else {
        q
    }
}

/// Round half up of the exact rational `x / d`: `floor((2x + d) / (2d))`.
fn ref_div_round(x: i128, d: i128) -> i128 {
    floor_div(2 * x + d, 2 * d)
}

/// Evaluates `op` on `inputs` the way the graph does: shape first, then `eval`.
fn eval(op: &Op, inputs: &[&Tensor]) -> Tensor {
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape.as_slice()).collect();
    let out_shape = op.out_shape(&shapes).expect("shapes fit");
    let out = op.eval(inputs, &out_shape);
    assert_eq!(out.shape, out_shape, "eval must produce the declared shape");
    assert_eq!(out.data.len(), out_shape.iter().product::<usize>());
    out
}

fn tensor(shape: Vec<usize>, data: Vec<i64>) -> Tensor {
    assert_eq!(shape.iter().product::<usize>(), data.len());
    Tensor::new(shape, data)
}

/// NCHW geometry plus data of a random tensor.
fn nchw_tensor(
    n: std::ops::Range<usize>,
    c: std::ops::Range<usize>,
    hw: std::ops::RangeInclusive<usize>,
    values: std::ops::RangeInclusive<i64>,
) -> impl Strategy<Value = Tensor> {
    (n, c, hw.clone(), hw).prop_flat_map(move |(n, c, h, w)| {
        proptest::collection::vec(values.clone(), n * c * h * w)
            .prop_map(move |data| tensor(vec![n, c, h, w], data))
    })
}

/// The input plane `(b, c)` of an NCHW tensor zero-padded into an explicit 2-D array of
/// `Option`s (`None` = padding).
fn padded_plane(x: &Tensor, b: usize, c: usize, pads: [usize; 4]) -> Vec<Vec<Option<i64>>> {
    let (ch, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
    let [pt, pl, pb, pr] = pads;
    let mut plane = vec![vec![None; w + pl + pr]; h + pt + pb];
    for y in 0..h {
        for xx in 0..w {
            plane[y + pt][xx + pl] = Some(x.data[((b * ch + c) * h + y) * w + xx]);
        }
    }
    plane
}

fn out_dim(size: usize, k: usize, stride: usize) -> usize {
    (size - k) / stride + 1
}

// ---------------------------------------------------------------------------------------------
// div_round
// ---------------------------------------------------------------------------------------------

fn any_x() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        i64::MIN..=i64::MIN + 4096,
        i64::MAX - 4096..=i64::MAX,
        -4096i64..=4096,
    ]
}

fn any_divisor() -> impl Strategy<Value = i64> {
    prop_oneof![
        1i64..=17,
        1i64..(1 << 40),
        (0u32..=40).prop_map(|k| 1i64 << k),
        (1u32..=40).prop_map(|k| (1i64 << k) - 1),
        (1u32..=40).prop_map(|k| (1i64 << k) + 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn div_round_is_round_half_up_of_the_exact_quotient(x in any_x(), d in any_divisor()) {
        let want = ref_div_round(i128::from(x), i128::from(d));
        prop_assert_eq!(i128::from(div_round(x, d)), want, "x={} d={}", x, d);
    }

    #[test]
    fn div_round_ties_go_up(q in -(1i64 << 40)..(1i64 << 40), k in 0u32..=20) {
        // x / d is exactly q + 1/2 when d = 2^(k+1) and x = q·d + d/2.
        let d = 1i64 << (k + 1);
        let x = q * d + d / 2;
        prop_assert_eq!(div_round(x, d), q + 1);
        prop_assert_eq!(div_round(x - 1, d), q);
    }

    #[test]
    fn div_round_remainder_satisfies_the_circuit_identity(x in any_x(), d in any_divisor()) {
        let y = div_round(x, d);
        let r = div_round_remainder(x, d);
        prop_assert!((0..d).contains(&r), "remainder {} outside [0, {})", r, d);
        let (x, d, y, r) = (i128::from(x), i128::from(d), i128::from(y), i128::from(r));
        prop_assert_eq!(x + d / 2, y * d + r);
    }

    #[test]
    fn div_round_bound_bounds_and_is_attained(
        (bound, x) in (0i64..(1i64 << 62)).prop_flat_map(|b| (Just(b), -b..=b)),
        d in any_divisor(),
    ) {
        let limit = div_round_bound(bound, d);
        prop_assert!(div_round(x, d).abs() <= limit, "|div_round({}, {})| > {}", x, d, limit);
        // The bound is the larger of the two extremes, so it is tight.
        let ext = ref_div_round(i128::from(bound), i128::from(d))
            .abs()
            .max(ref_div_round(-i128::from(bound), i128::from(d)).abs());
        prop_assert_eq!(i128::from(limit), ext);
    }
}

#[test]
fn div_round_handles_the_extremes_of_i64() {
    assert_eq!(div_round(i64::MAX, 1), i64::MAX);
    assert_eq!(div_round(i64::MIN, 1), i64::MIN);
    // MIN / 2 is exact; MAX / 2 = 2^62 - 1/2 rounds up to 2^62.
    assert_eq!(div_round(i64::MIN, 2), i64::MIN / 2);
    assert_eq!(div_round(i64::MAX, 2), 1i64 << 62);
    assert_eq!(div_round(-3, 2), -1); // -1.5 rounds half up to -1
    assert_eq!(div_round(-5, 2), -2); // -2.5 → -2
    assert_eq!(div_round(5, 2), 3); // 2.5 → 3
                                    // MIN = -2^23 · 2^40 exactly, so the remainder is just the added half: 2^39.
    assert_eq!(div_round_remainder(i64::MIN, 1 << 40), 1 << 39);
}

// ---------------------------------------------------------------------------------------------
// quantize / dequantize
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn quantize_is_round_of_v_times_two_to_the_scale(v in -1.0e6f64..1.0e6, s in 0u32..=30) {
        prop_assert_eq!(quantize(v, s), (v * 2f64.powi(s as i32)).round() as i64);
    }

    #[test]
    fn quantize_rounds_exact_fractions_half_away_from_zero(
        n in -(1i64 << 39)..(1i64 << 39),
        k in 0i64..4096,
        s in 0u32..=20,
    ) {
        // v = (n + k/4096) / 2^s is exact in f64; its quantization is the rounding of the
        // rational V / 4096 with V = 4096·n + k, half away from zero, done in integers.
        let v = (n as f64 + k as f64 / 4096.0) / 2f64.powi(s as i32);
        let big = 4096 * i128::from(n) + i128::from(k);
        let mag = floor_div(big.abs() + 2048, 4096);
        let want = if big < 0 { -mag } else { mag };
        prop_assert_eq!(i128::from(quantize(v, s)), want, "v={}", v);
    }

    #[test]
    fn dequantize_of_quantize_is_within_half_a_step(v in -1.0e6f64..1.0e6, s in 0u32..=30) {
        let err = (dequantize(quantize(v, s), s) - v).abs();
        prop_assert!(err <= 2f64.powi(-(s as i32 + 1)), "v={} s={} err={}", v, s, err);
    }
}

// ---------------------------------------------------------------------------------------------
// Gemm
// ---------------------------------------------------------------------------------------------

/// `(x [m,k], W [n,k], b [n])` with the given magnitudes.
fn gemm_case(xmax: i64) -> impl Strategy<Value = (Tensor, Gemm)> {
    (1usize..=3, 1usize..=9, 1usize..=6).prop_flat_map(move |(m, k, n)| {
        (
            proptest::collection::vec(-xmax..=xmax, m * k),
            proptest::collection::vec(-(1i64 << 20)..=(1 << 20), n * k),
            proptest::collection::vec(-(1i64 << 30)..=(1 << 30), n),
        )
            .prop_map(move |(x, w, bias)| {
                (
                    tensor(vec![m, k], x),
                    Gemm {
                        weight: tensor(vec![n, k], w),
                        bias,
                    },
                )
            })
    })
}

fn ref_gemm(x: &Tensor, g: &Gemm) -> Vec<i128> {
    let (m, k) = (x.shape[0], x.shape[1]);
    let n = g.weight.shape[0];
    let mut out = vec![0i128; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = i128::from(g.bias[j]);
            for t in 0..k {
                acc += i128::from(x.data[i * k + t]) * i128::from(g.weight.data[j * k + t]);
            }
            out[i * n + j] = acc;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn gemm_matches_naive_matrix_product((x, g) in gemm_case(1 << 20)) {
        let (m, n) = (x.shape[0], g.weight.shape[0]);
        let out = eval(&Op::Gemm(g.clone()), &[&x]);
        prop_assert_eq!(&out.shape, &vec![m, n]);
        let got: Vec<i128> = out.data.iter().map(|&v| i128::from(v)).collect();
        prop_assert_eq!(got, ref_gemm(&x, &g));
    }

    #[test]
    fn gemm_bound_holds_for_every_input_within_the_input_bound(
        ((x, g), x_bound) in (0i64..=(1 << 20)).prop_flat_map(|b| (gemm_case(b), Just(b))),
    ) {
        let op = Op::Gemm(g.clone());
        let bound = op.bound(&[x_bound], &x.shape);
        prop_assert_eq!(bound, g.bound(x_bound));
        for v in ref_gemm(&x, &g) {
            prop_assert!(v.abs() <= bound, "|{}| > bound {}", v, bound);
        }
    }

    #[test]
    fn gemm_bound_is_attained_by_the_sign_pattern_of_a_row(
        ((_, g), x_bound) in (0i64..=(1 << 20)).prop_flat_map(|b| (gemm_case(1), Just(b))),
    ) {
        // For row j, x = ±x_bound · sign(W_j) (sign chosen to agree with b_j) gives
        // |y_j| = ‖W_j‖₁·x_bound + |b_j|; the bound is the largest of these.
        let (n, k) = (g.weight.shape[0], g.weight.shape[1]);
        let mut best = 0i128;
        for j in 0..n {
            let s = if g.bias[j] < 0 { -1 } else { 1 };
            let x: Vec<i64> = g.weight.data[j * k..(j + 1) * k]
                .iter()
                .map(|w| s * w.signum() * x_bound)
                .collect();
            let y = eval(&Op::Gemm(g.clone()), &[&tensor(vec![1, k], x)]);
            let l1: i128 = g.weight.data[j * k..(j + 1) * k].iter().map(|w| i128::from(w.abs())).sum();
            let row_max = l1 * i128::from(x_bound) + i128::from(g.bias[j].abs());
            prop_assert_eq!(i128::from(y.data[j].abs()), row_max);
            best = best.max(row_max);
        }
        prop_assert_eq!(g.bound(x_bound), best);
    }
}

#[test]
fn gemm_rejects_an_input_with_the_wrong_feature_count() {
    let op = Op::Gemm(Gemm {
        weight: tensor(vec![2, 3], vec![1; 6]),
        bias: vec![0, 0],
    });
    let err = op
        .out_shape(&[&[1, 4]])
        .expect_err("k = 4 does not match 3");
    assert!(err.contains("[m, 3]") && err.contains("[1, 4]"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Conv (reference: explicit padding + im2col + matrix multiply)
// ---------------------------------------------------------------------------------------------

fn conv_case() -> impl Strategy<Value = (Tensor, Conv)> {
    (
        nchw_tensor(1..3, 1..4, 3..=9, -(1i64 << 16)..=(1 << 16)),
        1usize..=4,
        (1usize..=3, 1usize..=3),
        (1usize..=2, 1usize..=2),
        proptest::array::uniform4(0usize..=2),
    )
        .prop_flat_map(|(x, c_out, (kh, kw), (sh, sw), pads)| {
            let c_in = x.shape[1];
            (
                proptest::collection::vec(-(1i64 << 12)..=(1 << 12), c_out * c_in * kh * kw),
                proptest::collection::vec(-(1i64 << 24)..=(1 << 24), c_out),
            )
                .prop_map(move |(w, bias)| {
                    let conv = Conv {
                        weight: tensor(vec![c_out, c_in, kh, kw], w),
                        bias,
                        window: Window {
                            kernel: [kh, kw],
                            stride: [sh, sw],
                            pads,
                        },
                    };
                    (x.clone(), conv)
                })
        })
}

fn ref_conv(x: &Tensor, conv: &Conv) -> (Vec<usize>, Vec<i64>) {
    let (n, c_in) = (x.shape[0], x.shape[1]);
    let (c_out, kh, kw) = (
        conv.weight.shape[0],
        conv.weight.shape[2],
        conv.weight.shape[3],
    );
    let [sh, sw] = conv.window.stride;
    let planes: Vec<Vec<Vec<Vec<Option<i64>>>>> = (0..n)
        .map(|b| {
            (0..c_in)
                .map(|c| padded_plane(x, b, c, conv.window.pads))
                .collect()
        })
        .collect();
    let (ph, pw) = (planes[0][0].len(), planes[0][0][0].len());
    let (oh, ow) = (out_dim(ph, kh, sh), out_dim(pw, kw, sw));
    let patch = c_in * kh * kw;
    let mut out = vec![0i64; n * c_out * oh * ow];
    for b in 0..n {
        // im2col: one column of `patch` values per output position.
        let mut cols = vec![vec![0i128; oh * ow]; patch];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut row = 0;
                for plane in &planes[b] {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            cols[row][oy * ow + ox] =
                                i128::from(plane[oy * sh + ky][ox * sw + kx].unwrap_or(0));
                            row += 1;
                        }
                    }
                }
            }
        }
        // [c_out, patch] × [patch, oh·ow] + bias.
        for o in 0..c_out {
            for p in 0..oh * ow {
                let mut acc = i128::from(conv.bias[o]);
                for (r, col) in cols.iter().enumerate() {
                    acc += i128::from(conv.weight.data[o * patch + r]) * col[p];
                }
                out[((b * c_out + o) * oh * ow) + p] = i64::try_from(acc).expect("fits i64");
            }
        }
    }
    (vec![n, c_out, oh, ow], out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn conv_matches_im2col_matmul_including_output_shape((x, conv) in conv_case()) {
        let (want_shape, want) = ref_conv(&x, &conv);
        let out = eval(&Op::Conv(conv.clone()), &[&x]);
        prop_assert_eq!(&out.shape, &want_shape);
        prop_assert_eq!(out.data, want);
    }

    #[test]
    fn conv_bound_holds_for_random_inputs((x, conv) in conv_case()) {
        let bound = conv.bound(1 << 16);
        for v in ref_conv(&x, &conv).1 {
            prop_assert!(i128::from(v.abs()) <= bound);
        }
    }
}

#[test]
fn conv_rejects_a_channel_mismatch() {
    let op = Op::Conv(Conv {
        weight: tensor(vec![1, 2, 3, 3], vec![1; 18]),
        bias: vec![0],
        window: Window {
            kernel: [3, 3],
            stride: [1, 1],
            pads: [0; 4],
        },
    });
    assert!(op.out_shape(&[&[1, 2, 5, 5]]).is_ok());
    let err = op
        .out_shape(&[&[1, 3, 5, 5]])
        .expect_err("3 channels for a 2-channel kernel");
    assert!(
        err.contains("[1, 2, 3, 3]") && err.contains("[1, 3, 5, 5]"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// MaxPool / SumPool (reference: explicit Option-padded planes)
// ---------------------------------------------------------------------------------------------

/// Windows with pads smaller than the kernel (as ONNX requires), so no window is all padding.
fn pool_case(values: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = (Tensor, Window)> {
    (
        nchw_tensor(1..3, 1..4, 3..=9, values),
        (1usize..=3, 1usize..=3),
        (1usize..=2, 1usize..=2),
    )
        .prop_flat_map(|(x, (kh, kw), (sh, sw))| {
            (0..kh, 0..kw, 0..kh, 0..kw).prop_map(move |(pt, pl, pb, pr)| {
                (
                    x.clone(),
                    Window {
                        kernel: [kh, kw],
                        stride: [sh, sw],
                        pads: [pt, pl, pb, pr],
                    },
                )
            })
        })
}

/// Pools every plane; `combine` sees the window's taps, padding as `None`.
fn ref_pool(
    x: &Tensor,
    w: &Window,
    combine: impl Fn(&[Option<i64>]) -> i64,
) -> (Vec<usize>, Vec<i64>) {
    let (n, c) = (x.shape[0], x.shape[1]);
    let [kh, kw] = w.kernel;
    let [sh, sw] = w.stride;
    let mut out = Vec::new();
    let (mut oh, mut ow) = (0, 0);
    for b in 0..n {
        for ch in 0..c {
            let plane = padded_plane(x, b, ch, w.pads);
            oh = out_dim(plane.len(), kh, sh);
            ow = out_dim(plane[0].len(), kw, sw);
            for oy in 0..oh {
                for ox in 0..ow {
                    let taps: Vec<Option<i64>> = (0..kh)
                        .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
                        .map(|(ky, kx)| plane[oy * sh + ky][ox * sw + kx])
                        .collect();
                    out.push(combine(&taps));
                }
            }
        }
    }
    (vec![n, c, oh, ow], out)
}

fn max_ignoring_padding(taps: &[Option<i64>]) -> i64 {
    taps.iter()
        .flatten()
        .copied()
        .max()
        .expect("every window holds a real value")
}

fn sum_padding_as_zero(taps: &[Option<i64>]) -> i64 {
    taps.iter().map(|t| t.unwrap_or(0)).sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn maxpool_matches_reference_where_padding_never_wins((x, w) in pool_case(-(1i64 << 40)..=(1 << 40))) {
        let (shape, want) = ref_pool(&x, &w, max_ignoring_padding);
        let out = eval(&Op::MaxPool(w.clone()), &[&x]);
        prop_assert_eq!(&out.shape, &shape);
        prop_assert_eq!(out.data, want);
    }

    #[test]
    fn maxpool_of_negative_values_stays_negative_under_padding(
        (x, w) in pool_case(-(1i64 << 40)..=-1),
    ) {
        // A zero pad that took part in the max would show up as a 0 here.
        let out = eval(&Op::MaxPool(w.clone()), &[&x]);
        prop_assert!(out.data.iter().all(|&v| v < 0), "window {:?}: {:?}", w, out.data);
    }

    #[test]
    fn sumpool_matches_reference_where_padding_counts_zero((x, w) in pool_case(-(1i64 << 40)..=(1 << 40))) {
        let (shape, want) = ref_pool(&x, &w, sum_padding_as_zero);
        let out = eval(&Op::SumPool(w.clone()), &[&x]);
        prop_assert_eq!(&out.shape, &shape);
        prop_assert_eq!(&out.data, &want);
        let bound = Op::SumPool(w.clone()).bound(&[1 << 40], &x.shape);
        prop_assert!(out.data.iter().all(|v| i128::from(v.abs()) <= bound));
    }
}

#[test]
fn sumpool_of_ones_counts_the_in_bounds_taps() {
    // 3×3 of ones, 2×2 kernel, stride 1, pad 1 all round: corners see 1 tap, edges 2, inside 4.
    let x = tensor(vec![1, 1, 3, 3], vec![1; 9]);
    let w = Window {
        kernel: [2, 2],
        stride: [1, 1],
        pads: [1, 1, 1, 1],
    };
    let out = eval(&Op::SumPool(w), &[&x]);
    assert_eq!(out.shape, vec![1, 1, 4, 4]);
    assert_eq!(
        out.data,
        vec![1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1]
    );
}

// ---------------------------------------------------------------------------------------------
// Add, AddConst, MulConst
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn add_shifts_each_operand_then_sums(
        (a, b) in (1usize..=40).prop_flat_map(|n| (
            proptest::collection::vec(-(1i64 << 40)..=(1 << 40), n),
            proptest::collection::vec(-(1i64 << 40)..=(1 << 40), n),
        )),
        shift_a in 0u32..=12,
        shift_b in 0u32..=12,
    ) {
        let n = a.len();
        let (ta, tb) = (tensor(vec![1, n], a.clone()), tensor(vec![1, n], b.clone()));
        let op = Op::Add { shift_a, shift_b };
        let out = eval(&op, &[&ta, &tb]);
        let bound = op.bound(&[1 << 40, 1 << 40], &ta.shape);
        for i in 0..n {
            let want = i128::from(a[i]) * (1i128 << shift_a) + i128::from(b[i]) * (1i128 << shift_b);
            prop_assert_eq!(i128::from(out.data[i]), want);
            prop_assert!(want.abs() <= bound);
        }
    }
}

#[test]
fn add_rejects_operands_of_different_shapes() {
    let op = Op::Add {
        shift_a: 0,
        shift_b: 0,
    };
    let err = op
        .out_shape(&[&[1, 4], &[1, 5]])
        .expect_err("[1,4] + [1,5]");
    assert!(err.contains("[1, 4]") && err.contains("[1, 5]"), "{err}");
}

/// How a constant broadcasts over an NCHW tensor, resolved by coordinates.
#[derive(Clone, Copy, Debug)]
enum ConstShape {
    /// `[]`
    Scalar,
    /// `[C, 1, 1]` (per channel, ONNX style)
    Chw,
    /// `[1, C, 1, 1]`
    NChw,
    /// `[W]` (last axis)
    LastAxis,
    /// `[H, W]`
    Plane,
    /// the full shape
    Full,
}

impl ConstShape {
    fn shape(self, [n, c, h, w]: [usize; 4]) -> Vec<usize> {
        match self {
            Self::Scalar => vec![],
            Self::Chw => vec![c, 1, 1],
            Self::NChw => vec![1, c, 1, 1],
            Self::LastAxis => vec![w],
            Self::Plane => vec![h, w],
            Self::Full => vec![n, c, h, w],
        }
    }

    /// Index into the constant's data for coordinate `(b, ch, y, x)`.
    fn index(self, [_, c, h, w]: [usize; 4], (b, ch, y, x): (usize, usize, usize, usize)) -> usize {
        match self {
            Self::Scalar => 0,
            Self::Chw | Self::NChw => ch,
            Self::LastAxis => x,
            Self::Plane => y * w + x,
            Self::Full => ((b * c + ch) * h + y) * w + x,
        }
    }
}

fn broadcast_case() -> impl Strategy<Value = (Tensor, ConstShape, Tensor)> {
    (
        nchw_tensor(1..3, 1..4, 1..=5, -(1i64 << 30)..=(1 << 30)),
        prop_oneof![
            Just(ConstShape::Scalar),
            Just(ConstShape::Chw),
            Just(ConstShape::NChw),
            Just(ConstShape::LastAxis),
            Just(ConstShape::Plane),
            Just(ConstShape::Full),
        ],
    )
        .prop_flat_map(|(x, kind)| {
            let dims = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
            let cshape = kind.shape(dims);
            let len = cshape.iter().product::<usize>();
            proptest::collection::vec(-(1i64 << 30)..=(1 << 30), len)
                .prop_map(move |data| (x.clone(), kind, tensor(cshape.clone(), data)))
        })
}

/// `f(x[b,c,y,x], constant[...])` over all coordinates in row-major order.
fn ref_broadcast(
    x: &Tensor,
    kind: ConstShape,
    c: &Tensor,
    f: impl Fn(i128, i128) -> i128,
) -> Vec<i128> {
    let dims = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
    let mut out = Vec::new();
    let mut flat = 0;
    for b in 0..dims[0] {
        for ch in 0..dims[1] {
            for y in 0..dims[2] {
                for xx in 0..dims[3] {
                    let cv = c.data[kind.index(dims, (b, ch, y, xx))];
                    out.push(f(i128::from(x.data[flat]), i128::from(cv)));
                    flat += 1;
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn add_const_broadcasts_like_numpy((x, kind, c) in broadcast_case()) {
        let op = Op::AddConst { constant: c.clone() };
        let out = eval(&op, &[&x]);
        prop_assert_eq!(&out.shape, &x.shape);
        let got: Vec<i128> = out.data.iter().map(|&v| i128::from(v)).collect();
        prop_assert_eq!(got, ref_broadcast(&x, kind, &c, |a, b| a + b));
    }

    #[test]
    fn mul_const_broadcasts_like_numpy((x, kind, c) in broadcast_case()) {
        let op = Op::MulConst { constant: c.clone() };
        let out = eval(&op, &[&x]);
        prop_assert_eq!(&out.shape, &x.shape);
        let got: Vec<i128> = out.data.iter().map(|&v| i128::from(v)).collect();
        let want = ref_broadcast(&x, kind, &c, |a, b| a * b);
        let bound = op.bound(&[1 << 30], &x.shape);
        prop_assert!(want.iter().all(|v| v.abs() <= bound));
        prop_assert_eq!(got, want);
    }
}

#[test]
fn constants_that_do_not_broadcast_are_rejected() {
    let c = tensor(vec![3, 1, 1], vec![1, 2, 3]);
    for op in [
        Op::AddConst {
            constant: c.clone(),
        },
        Op::MulConst { constant: c },
    ] {
        assert!(op.out_shape(&[&[1, 3, 4, 4]]).is_ok());
        let err = op
            .out_shape(&[&[1, 2, 4, 4]])
            .expect_err("3 channels onto 2");
        assert!(
            err.contains("[3, 1, 1]") && err.contains("[1, 2, 4, 4]"),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Lookup tables
// ---------------------------------------------------------------------------------------------

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `round(f(x / 2^s) · 2^s)`, computed directly.
fn direct(func: TableFn, x: i64, s: u32) -> i64 {
    let step = 2f64.powi(s as i32);
    let real = x as f64 / step;
    let y = match func {
        TableFn::Sigmoid => sigmoid(real),
        TableFn::Tanh => real.tanh(),
    };
    (y * step).round() as i64
}

#[test]
fn tables_are_exact_for_every_integer_far_beyond_their_domain() {
    for func in [TableFn::Sigmoid, TableFn::Tanh] {
        for s in 2..=10u32 {
            // 16 real units: both functions have rounded to their limits long before.
            let bound = 16i64 << s;
            let table = Table::build(func, s, bound);
            let hi = table.lo + table.values.len() as i64 - 1;
            assert!(
                table.lo > -bound && hi < bound,
                "{func:?} s={s}: domain [{}, {hi}] should be cut well inside ±{bound}",
                table.lo
            );
            let op = Op::Table(table.clone());
            assert_eq!(op.bound(&[bound], &[1, 1]), i128::from(1i64 << s));
            for x in -4 * bound..=4 * bound {
                assert_eq!(
                    table.lookup(x),
                    direct(func, x, s),
                    "{func:?} at scale {s}, x = {x} (table domain [{}, {hi}])",
                    table.lo
                );
            }
        }
    }
}

#[test]
fn tables_cut_short_by_the_input_bound_are_exact_within_it() {
    for func in [TableFn::Sigmoid, TableFn::Tanh] {
        for s in 2..=10u32 {
            // Half a real unit: the functions are nowhere near their limits yet.
            let bound = 1i64 << (s - 1);
            let table = Table::build(func, s, bound);
            for x in -bound..=bound {
                assert_eq!(table.lookup(x), direct(func, x, s), "{func:?} s={s} x={x}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ArgMax
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn argmax_returns_the_first_index_of_the_maximum(
        (rows, cols, data) in (1usize..=4, 1usize..=10)
            .prop_flat_map(|(r, c)| (Just(r), Just(c), proptest::collection::vec(-2i64..=2, r * c))),
        keepdims in any::<bool>(),
    ) {
        // Values from {-2..2} make ties the common case.
        let x = tensor(vec![rows, cols], data.clone());
        let out = eval(&Op::ArgMax { keepdims }, &[&x]);
        let want_shape = if keepdims { vec![rows, 1] } else { vec![rows] };
        prop_assert_eq!(&out.shape, &want_shape);
        for (r, row) in data.chunks(cols).enumerate() {
            let max = *row.iter().max().expect("non-empty row");
            let first = row.iter().position(|&v| v == max).expect("max is in the row") as i64;
            prop_assert_eq!(out.data[r], first, "row {:?}", row);
        }
    }
}

#[test]
fn argmax_of_all_equal_values_is_zero() {
    let x = tensor(vec![1, 5], vec![3; 5]);
    assert_eq!(eval(&Op::ArgMax { keepdims: true }, &[&x]).data, vec![0]);
}

// ---------------------------------------------------------------------------------------------
// Whole graphs
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Mlp {
    k: usize,
    h: usize,
    o: usize,
    s_a: u32,
    s_w: u32,
    in_bound: i64,
    w1: Vec<i64>,
    b1: Vec<i64>,
    w2: Vec<i64>,
    b2: Vec<i64>,
    x: Vec<i64>,
}

fn mlp_case() -> impl Strategy<Value = Mlp> {
    (
        1usize..=16,
        1usize..=16,
        1usize..=16,
        0u32..=8,
        0u32..=8,
        1i64..=(1 << 12),
    )
        .prop_flat_map(|(k, h, o, s_a, s_w, in_bound)| {
            let w = || -(1i64 << 7)..=(1 << 7);
            let b = || -(1i64 << 16)..=(1 << 16);
            (
                proptest::collection::vec(w(), h * k),
                proptest::collection::vec(b(), h),
                proptest::collection::vec(w(), o * h),
                proptest::collection::vec(b(), o),
                proptest::collection::vec(-in_bound..=in_bound, k),
            )
                .prop_map(move |(w1, b1, w2, b2, x)| Mlp {
                    k,
                    h,
                    o,
                    s_a,
                    s_w,
                    in_bound,
                    w1,
                    b1,
                    w2,
                    b2,
                    x,
                })
        })
}

/// Gemm → DivRound → Relu → Gemm → DivRound, built with the public builder.
fn build_mlp(m: &Mlp) -> poa_runtime::QModel {
    let input = TensorInfo {
        name: "input".into(),
        shape: vec![1, m.k],
        scale: m.s_a,
        bound: m.in_bound,
    };
    let mut b = GraphBuilder::new("mlp".into(), input, 1.0);
    let acc_scale = m.s_a + m.s_w;
    let divisor = 1i64 << m.s_w;
    let gemm = |w: &[i64], bias: &[i64], n: usize, k: usize| {
        Op::Gemm(Gemm {
            weight: tensor(vec![n, k], w.to_vec()),
            bias: bias.to_vec(),
        })
    };
    let t = b
        .push(
            "fc1".into(),
            gemm(&m.w1, &m.b1, m.h, m.k),
            vec![0],
            acc_scale,
        )
        .expect("fc1");
    let t = b
        .push(
            "fc1.rescale".into(),
            Op::DivRound { divisor },
            vec![t],
            m.s_a,
        )
        .expect("fc1.rescale");
    let t = b
        .push("relu".into(), Op::Relu, vec![t], m.s_a)
        .expect("relu");
    let t = b
        .push(
            "fc2".into(),
            gemm(&m.w2, &m.b2, m.o, m.h),
            vec![t],
            acc_scale,
        )
        .expect("fc2");
    b.push(
        "fc2.rescale".into(),
        Op::DivRound { divisor },
        vec![t],
        m.s_a,
    )
    .expect("fc2.rescale");
    b.finish()
}

/// Every tensor of the forward pass, written out directly.
fn ref_mlp(m: &Mlp) -> Vec<Vec<i128>> {
    let d = 1i128 << m.s_w;
    let dense = |x: &[i128], w: &[i64], b: &[i64], n: usize| -> Vec<i128> {
        (0..n)
            .map(|j| {
                let row = &w[j * x.len()..(j + 1) * x.len()];
                i128::from(b[j])
                    + row
                        .iter()
                        .zip(x)
                        .map(|(&w, &v)| i128::from(w) * v)
                        .sum::<i128>()
            })
            .collect()
    };
    let x: Vec<i128> = m.x.iter().map(|&v| i128::from(v)).collect();
    let acc1 = dense(&x, &m.w1, &m.b1, m.h);
    let r1: Vec<i128> = acc1.iter().map(|&v| ref_div_round(v, d)).collect();
    let relu: Vec<i128> = r1.iter().map(|&v| v.max(0)).collect();
    let acc2 = dense(&relu, &m.w2, &m.b2, m.o);
    let out: Vec<i128> = acc2.iter().map(|&v| ref_div_round(v, d)).collect();
    vec![x, acc1, r1, relu, acc2, out]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_mlps_match_a_reference_forward_pass_within_their_bounds(m in mlp_case()) {
        let model = build_mlp(&m);
        let trace = model
            .run_quantized(tensor(vec![1, m.k], m.x.clone()))
            .expect("an in-bound input runs");
        let want = ref_mlp(&m);
        prop_assert_eq!(trace.tensors.len(), want.len());
        for (id, (t, w)) in trace.tensors.iter().zip(&want).enumerate() {
            let got: Vec<i128> = t.data.iter().map(|&v| i128::from(v)).collect();
            prop_assert_eq!(&got, w, "tensor {}", id);
            let info = &model.tensors[id];
            prop_assert_eq!(&t.shape, &info.shape, "tensor {} shape", id);
            prop_assert!(
                t.data.iter().all(|v| v.unsigned_abs() <= info.bound.unsigned_abs()),
                "tensor {} `{}` escapes its bound {}", id, info.name, info.bound
            );
        }
        prop_assert_eq!(trace.output, 5);
        prop_assert_eq!(trace.embedding, 3, "embedding is the input of the last Gemm");

        let again = model
            .run_quantized(tensor(vec![1, m.k], m.x.clone()))
            .expect("second run");
        prop_assert_eq!(trace.hash(), again.hash());
        prop_assert_eq!(&trace, &again);
    }
}

/// Input bound 1 and a single weight: the Gemm's static bound is exactly `weight + |bias|`.
fn one_weight_layer(weight: i64, bias: i64) -> poa_runtime::Result<usize> {
    let input = TensorInfo {
        name: "input".into(),
        shape: vec![1, 1],
        scale: 0,
        bound: 1,
    };
    let mut b = GraphBuilder::new("edge".into(), input, 1.0);
    b.push(
        "wide_fc".into(),
        Op::Gemm(Gemm {
            weight: tensor(vec![1, 1], vec![weight]),
            bias: vec![bias],
        }),
        vec![0],
        0,
    )
}

#[test]
fn a_layer_bound_of_two_to_the_62_is_rejected_naming_the_layer() {
    assert_eq!(ACCUMULATOR_LIMIT_BITS, 62);
    let limit = 1i64 << 62;
    for (w, b) in [
        (limit, 0),
        (limit - 2, 2),
        (limit - 1, 1),
        (i64::MAX, i64::MAX),
    ] {
        let err = one_weight_layer(w, b).expect_err("bound ≥ 2^62 overflows the accumulator");
        let msg = err.to_string();
        match err {
            RuntimeError::AccumulatorOverflow {
                layer,
                bound,
                bits_needed,
                limit_bits,
            } => {
                assert_eq!(layer, "wide_fc");
                assert_eq!(bound, i128::from(w) + i128::from(b));
                assert_eq!(bits_needed, 63 + u32::from(bound >= 1i128 << 63));
                assert_eq!(limit_bits, 62);
            }
            other => panic!("expected AccumulatorOverflow, got {other:?}"),
        }
        assert!(msg.contains("`wide_fc`") && msg.contains("62"), "{msg}");
    }
}

#[test]
fn a_layer_bound_just_under_two_to_the_62_is_accepted() {
    let limit = 1i64 << 62;
    for (w, b) in [(limit - 1, 0), (limit - 2, 1), (1, limit - 2)] {
        one_weight_layer(w, b).expect("bound 2^62 - 1 fits");
    }
}

#[test]
fn the_overflow_message_states_the_bits_truthfully() {
    // 2^62 needs 63 bits; the message must not claim the bound is ≥ 2^63.
    let err = one_weight_layer(1 << 62, 0).expect_err("overflows");
    let msg = err.to_string();
    assert!(msg.contains("4611686018427387904"), "{msg}");
    assert!(msg.contains("63 bits"), "{msg}");
    assert!(!msg.contains("2^63"), "{msg}");
}

#[test]
fn an_add_whose_shift_overflows_the_bound_arithmetic_is_rejected_not_wrapped() {
    // 2^30 << 100 does not fit even an i128: the bound must saturate (and be rejected), not
    // wrap to a small number that lets `eval` shift an i64 by 100.
    for (shift_a, shift_b) in [(100, 0), (0, 127), (70, 70), (33, 0)] {
        let input = TensorInfo {
            name: "input".into(),
            shape: vec![1, 2],
            scale: 0,
            bound: 1 << 30,
        };
        let mut b = GraphBuilder::new("shifty".into(), input, 1.0);
        let err = b
            .push(
                "skip_add".into(),
                Op::Add { shift_a, shift_b },
                vec![0, 0],
                0,
            )
            .expect_err("the shifted operand cannot fit 62 bits");
        // A shift that cannot be applied to an i64 at all is a graph error; a legal shift whose
        // result is too wide is an accumulator overflow. Both name the layer.
        let named = if shift_a.max(shift_b) >= 62 {
            matches!(&err, RuntimeError::InvalidGraph { node, detail } if node == "skip_add" && detail.contains("shift"))
        } else {
            matches!(&err, RuntimeError::AccumulatorOverflow { layer, .. } if layer == "skip_add")
        };
        assert!(named, "shifts ({shift_a}, {shift_b}): {err:?}");
    }
}
