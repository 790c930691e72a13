//! The reward preview for people: OPEN amounts with 18 decimals, and a small self-contained SVG
//! (or HTML page holding it) with one horizontal bar per party and contributor.

use poa_runtime::attribution::RewardSplit;

/// Decimals of the OPEN token.
pub const DECIMALS: u32 = 18;

/// `amount` token units as OPEN with all 18 decimals, e.g. `0.300000000000000000`.
pub fn format_open(amount: u128) -> String {
    let unit = 10u128.pow(DECIMALS);
    format!(
        "{}.{:0width$}",
        amount / unit,
        amount % unit,
        width = DECIMALS as usize
    )
}

/// `format_open` with trailing zeros trimmed (at least one decimal), for labels.
fn short_open(amount: u128) -> String {
    let s = format_open(amount);
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_string()
    }
}

/// `0x1234…abcd`.
fn short_address(a: &str) -> String {
    if a.len() > 12 {
        format!("{}…{}", &a[..6], &a[a.len() - 4..])
    } else {
        a.to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The split as a standalone SVG document titled `title`.
pub fn svg(split: &RewardSplit, title: &str) -> String {
    let mut rows: Vec<(String, u128, &str)> = split
        .contributors
        .iter()
        .map(|c| {
            (
                short_address(&c.contributor.to_string()),
                c.amount,
                "#2b8a3e",
            )
        })
        .collect();
    rows.push(("model owner".into(), split.owner, "#1c7ed6"));
    rows.push(("prover".into(), split.prover, "#f08c00"));
    rows.push(("treasury".into(), split.treasury, "#868e96"));
    let (label_w, bar_w, row_h, top) = (130u32, 360u32, 24u32, 56u32);
    let width = label_w + bar_w + 190;
    let height = top + row_h * rows.len() as u32 + 16;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n\
         <text x=\"10\" y=\"40\">fee {} OPEN; shares owner/contributors/prover/treasury (bps) {}; dust {} units</text>\n",
        escape(title),
        short_open(split.fee),
        split.shares,
        split.dust
    );
    for (i, (label, amount, colour)) in rows.iter().enumerate() {
        let y = top + row_h * i as u32;
        // Proportional width (display only, so f64 is precise enough).
        let w = (*amount as f64 / max as f64 * f64::from(bar_w)).round();
        s += &format!(
            "<text x=\"10\" y=\"{ty}\">{}</text>\n\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{colour}\"/>\n\
             <text x=\"{tx}\" y=\"{ty}\">{} OPEN</text>\n",
            escape(label),
            short_open(*amount),
            ty = y + 15,
            h = row_h - 6,
            tx = label_w + bar_w + 8,
        );
    }
    s += "</svg>\n";
    s
}

/// The SVG inside a minimal self-contained HTML page.
pub fn html(split: &RewardSplit, title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{}</body></html>\n",
        escape(title),
        svg(split, title)
    )
}

/// The report as HTML (`html`) or a bare SVG document.
pub fn document(split: &RewardSplit, title: &str, html: bool) -> String {
    if html {
        self::html(split, title)
    } else {
        svg(split, title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_18_decimals() {
        assert_eq!(
            format_open(1_000_000_000_000_000_000),
            "1.000000000000000000"
        );
        assert_eq!(format_open(5), "0.000000000000000005");
        assert_eq!(short_open(300_000_000_000_000_000), "0.3");
        assert_eq!(short_open(2_000_000_000_000_000_000), "2.0");
    }
}
