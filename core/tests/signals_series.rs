//! Property tests of the one-value-per-line parser behind `--rr-file` and `--counts-file`.

use migru_core::signals::series::parse_series;
use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse_series("values", &text);
    }

    #[test]
    fn written_numbers_read_back_exactly(values in proptest::collection::vec(-1e9f64..1e9, 0..200)) {
        let text: String = values.iter().map(|v| format!("{v}\n")).collect();
        prop_assert_eq!(parse_series("values", &text).unwrap(), values);
    }

    #[test]
    fn the_error_names_the_first_bad_line(good in 0usize..50, junk in "[a-z]{1,8}") {
        let text = format!("{}{junk}\n1\n", "1\n".repeat(good));
        let err = parse_series("values", &text).unwrap_err().to_string();
        prop_assert!(err.contains(&format!("line {}", good + 1)), "{}", err);
    }
}
