//! The one-value-per-line text format read by `migru hrv --rr-file` and `migru actigraphy
//! --counts-file`: one number a line; blank lines and lines starting with `#` are skipped; a
//! trailing `\r` (Windows line ends) is tolerated.

use super::SignalError;

/// Parses `text`; errors name the first bad line (1-based) and keep at most 40 of its characters.
pub fn parse_series(what: &'static str, text: &str) -> Result<Vec<f64>, SignalError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(v),
            _ => {
                return Err(SignalError::Parse {
                    what,
                    line: i + 1,
                    text: line.chars().take(40).collect(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blanks_and_crlf() {
        assert_eq!(
            parse_series("RR", "# rr\r\n800\r\n\r\n812.5\n").unwrap(),
            vec![800.0, 812.5]
        );
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse_series("RR", "800\nabc\n").unwrap_err();
        assert_eq!(
            e,
            SignalError::Parse {
                what: "RR",
                line: 2,
                text: "abc".into()
            }
        );
        assert_eq!(e.to_string(), "RR: line 2 is not a number: \"abc\"");
        assert!(matches!(
            parse_series("RR", "NaN"),
            Err(SignalError::Parse { line: 1, .. })
        ));
    }
}
