//! Numbers as people read them: `format_number` for message templates
//! (rounded as `round` rounds, thousands separators) and values with their
//! unit for reports and summaries ("5.9%", "$803,796", "12.5 days").

/// The most digits after the point `format_number` writes (as for `round`).
pub const MAX_DIGITS: i64 = 15;

/// `x` rounded half away from zero to `digits` decimals, with a comma
/// between each group of three digits before the point; `None` for an
/// infinite or NaN `x`. A value that rounds to zero has no sign.
pub fn format_number(x: f64, digits: i64) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let digits = digits.clamp(0, MAX_DIGITS);
    let factor = 10f64.powi(digits as i32);
    let rounded = (x * factor).round() / factor;
    let text = format!("{:.*}", digits as usize, rounded.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text.as_str(), None),
    };
    let mut out = String::with_capacity(text.len() + whole.len() / 3 + 1);
    if rounded < 0.0 && text.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        out.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    Some(out)
}

/// `x` as a reader expects it given its declared `unit`: `percent` as a
/// percentage with one decimal (`0.059` → "5.9%"), `usd` as whole
/// dollars ("$803,796"), whole numbers without decimals, others with up
/// to two, followed by the unit ("12.5 days"). Infinite or NaN → "—".
pub fn with_unit(x: f64, unit: Option<&str>) -> String {
    let plain = |x: f64| {
        let digits = if x.fract() == 0.0 || x.abs() >= 1000.0 {
            0
        } else {
            2
        };
        format_number(x, digits).map(|t| {
            if t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                t
            }
        })
    };
    let text = match unit {
        Some("percent") => format_number(x * 100.0, 1).map(|t| format!("{t}%")),
        Some("usd") => format_number(x, 0).map(|t| match t.strip_prefix('-') {
            Some(positive) => format!("-${positive}"),
            None => format!("${t}"),
        }),
        Some(unit) if !unit.is_empty() => plain(x).map(|t| format!("{t} {unit}")),
        _ => plain(x),
    };
    text.unwrap_or_else(|| "—".to_string())
}

/// `n` and a noun that takes an `s` in the plural: "1 row", "57 rows".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_their_unit_says() {
        assert_eq!(with_unit(0.058950386, Some("percent")), "5.9%");
        assert_eq!(with_unit(803_796.000_000_002, Some("usd")), "$803,796");
        assert_eq!(with_unit(-1234.5, Some("usd")), "-$1,235");
        assert_eq!(with_unit(156.0, Some("accounts")), "156 accounts");
        assert_eq!(with_unit(71.16077, None), "71.16");
        assert_eq!(with_unit(12.5, Some("days")), "12.5 days");
        assert_eq!(with_unit(290_131.53, None), "290,132");
        assert_eq!(with_unit(f64::NAN, None), "—");
    }

    #[test]
    fn numbers_written_from_integers_read_as_formatted_floats() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let float_formatted = |x: f64, digits: i64| {
            let factor = 10f64.powi(digits as i32);
            let rounded = (x * factor).round() / factor;
            format!("{:.*}", digits as usize, rounded.abs())
        };
        for _ in 0..200_000 {
            let magnitude = 10f64.powi(rng.random_range(-6..16));
            let x = rng.random_range(-1.0..1.0) * magnitude;
            let digits = rng.random_range(0..=6);
            let got = format_number(x, digits).expect("finite");
            let expected = float_formatted(x, digits).replace(',', "");
            assert_eq!(
                got.replace([',', '-'], ""),
                expected,
                "{x} to {digits} digits"
            );
        }
        for (x, digits, text) in [
            (0.05, 1, "0.1"),
            (-0.04, 1, "0.0"),
            (2.5, 0, "3"),
            (-2.5, 0, "-3"),
            (1e15, 2, "1,000,000,000,000,000.00"),
        ] {
            assert_eq!(format_number(x, digits).expect("finite"), text, "{x}");
        }
    }
}
