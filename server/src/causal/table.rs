//! An in-memory table of named `f64` columns, and a small CSV reader for it.
//!
//! Booleans are stored as 0.0/1.0. The reader parses only the columns asked for, so a CSV may carry
//! other columns (dates, notes) that are not numbers.

use std::collections::HashMap;

/// What was wrong with a table or its CSV text. Line numbers are 1-based and count the header.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    #[error("the CSV text is empty (no header line)")]
    Empty,
    #[error("column '{0}' is not in the header")]
    MissingColumn(String),
    #[error("column '{0}' appears twice in the header")]
    DuplicateColumn(String),
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount { line: usize, expected: usize, found: usize },
    #[error("line {line}, column '{column}': '{value}' is not a number or a boolean")]
    BadValue { line: usize, column: String, value: String },
    #[error("line {line}, column '{column}': empty value (missing values are not supported)")]
    EmptyValue { line: usize, column: String },
    #[error("line {line}: unterminated quoted field")]
    Unterminated { line: usize },
    #[error("column '{column}' has {found} rows, the table has {expected}")]
    Length { column: String, expected: usize, found: usize },
}

/// Named numeric columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

impl Table {
    pub fn new() -> Self {
        Table::default()
    }

    /// Adds (or replaces) a column; it must be as long as the others.
    pub fn insert(&mut self, name: &str, values: Vec<f64>) -> Result<(), TableError> {
        if !self.columns.is_empty() && values.len() != self.n_rows() {
            return Err(TableError::Length {
                column: name.to_owned(),
                expected: self.n_rows(),
                found: values.len(),
            });
        }
        match self.names.iter().position(|n| n == name) {
            Some(i) => self.columns[i] = values,
            None => {
                self.names.push(name.to_owned());
                self.columns.push(values);
            }
        }
        Ok(())
    }

    /// Builder form of [`Table::insert`] for tests and generators.
    pub fn with(mut self, name: &str, values: Vec<f64>) -> Result<Self, TableError> {
        self.insert(name, values)?;
        Ok(self)
    }

    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn column(&self, name: &str) -> Result<&[f64], TableError> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.columns[i].as_slice())
            .ok_or_else(|| TableError::MissingColumn(name.to_owned()))
    }

    /// The table as CSV (header + rows), numbers in Rust's shortest round-trip form.
    pub fn to_csv(&self) -> String {
        let mut out = self.names.join(",");
        out.push('\n');
        for r in 0..self.n_rows() {
            let row: Vec<String> = self.columns.iter().map(|c| format!("{}", c[r])).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }

    /// Parses CSV text, keeping only `wanted` columns (all of them must be present).
    pub fn from_csv(text: &str, wanted: &[&str]) -> Result<Table, TableError> {
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (header_idx, header) = lines.next().ok_or(TableError::Empty)?;
        let header = split_fields(header, header_idx + 1)?;
        let index = header_index(&header)?;
        let picks: Vec<(usize, &str)> = wanted
            .iter()
            .map(|w| {
                index.get(*w).map(|&i| (i, *w)).ok_or_else(|| TableError::MissingColumn((*w).to_owned()))
            })
            .collect::<Result<_, _>>()?;
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); picks.len()];
        for (idx, line) in lines {
            let line_no = idx + 1;
            let fields = split_fields(line, line_no)?;
            if fields.len() != header.len() {
                return Err(TableError::FieldCount {
                    line: line_no,
                    expected: header.len(),
                    found: fields.len(),
                });
            }
            for (col, (i, name)) in columns.iter_mut().zip(&picks) {
                col.push(parse_cell(&fields[*i], line_no, name)?);
            }
        }
        let mut table = Table::new();
        for (col, (_, name)) in columns.into_iter().zip(&picks) {
            table.insert(name, col)?;
        }
        Ok(table)
    }
}

fn header_index(header: &[String]) -> Result<HashMap<&str, usize>, TableError> {
    let mut index = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if index.insert(name.as_str(), i).is_some() {
            return Err(TableError::DuplicateColumn(name.clone()));
        }
    }
    Ok(index)
}

/// Splits one CSV line on commas, honouring double quotes (`""` is a literal quote).
fn split_fields(line: &str, line_no: usize) -> Result<Vec<String>, TableError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_owned()),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err(TableError::Unterminated { line: line_no });
    }
    fields.push(field.trim().to_owned());
    Ok(fields)
}

/// A number, or a boolean (`true`/`false` in any letter case) as 1.0/0.0.
pub fn parse_cell(value: &str, line: usize, column: &str) -> Result<f64, TableError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(TableError::EmptyValue { line, column: column.to_owned() });
    }
    if v.eq_ignore_ascii_case("true") {
        return Ok(1.0);
    }
    if v.eq_ignore_ascii_case("false") {
        return Ok(0.0);
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(TableError::BadValue { line, column: column.to_owned(), value: v.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_wanted_columns_and_booleans() {
        let csv = "date,t,y\n2026-01-01,TRUE,1.5\n2026-01-02,false,2\n2026-01-03,1,-3e-1\n";
        let t = Table::from_csv(csv, &["t", "y"]).unwrap();
        assert_eq!(t.column("t").unwrap(), &[1.0, 0.0, 1.0]);
        assert_eq!(t.column("y").unwrap(), &[1.5, 2.0, -0.3]);
        assert_eq!(t.names(), &["t".to_owned(), "y".to_owned()]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let csv = "t,y\n1,2\n0,abc\n";
        let err = Table::from_csv(csv, &["t", "y"]).unwrap_err();
        assert_eq!(err.to_string(), "line 3, column 'y': 'abc' is not a number or a boolean");
        let err = Table::from_csv("t,y\n1\n", &["t"]).unwrap_err();
        assert_eq!(err, TableError::FieldCount { line: 2, expected: 2, found: 1 });
        let err = Table::from_csv("t,y\n1,\n", &["y"]).unwrap_err();
        assert_eq!(err, TableError::EmptyValue { line: 2, column: "y".into() });
        assert_eq!(Table::from_csv("t\n1\n", &["x"]).unwrap_err(), TableError::MissingColumn("x".into()));
        assert_eq!(Table::from_csv("", &["x"]).unwrap_err(), TableError::Empty);
        assert_eq!(Table::from_csv("t,\"y\n", &["t"]).unwrap_err(), TableError::Unterminated { line: 1 });
    }

    #[test]
    fn quoted_fields_and_crlf() {
        let t = Table::from_csv("\"a\",b\r\n\"1\",\"x,y\"\r\n", &["a"]).unwrap();
        assert_eq!(t.column("a").unwrap(), &[1.0]);
    }

    #[test]
    fn unequal_columns_are_refused() {
        let err = Table::new().with("a", vec![1.0]).unwrap().with("b", vec![1.0, 2.0]).unwrap_err();
        assert!(matches!(err, TableError::Length { .. }));
    }

    proptest! {
        #[test]
        fn csv_round_trips(rows in proptest::collection::vec((any::<bool>(), -1e9f64..1e9), 0..40)) {
            let table = Table::new()
                .with("t", rows.iter().map(|r| f64::from(u8::from(r.0))).collect()).unwrap()
                .with("y", rows.iter().map(|r| r.1).collect()).unwrap();
            let back = Table::from_csv(&table.to_csv(), &["t", "y"]);
            if rows.is_empty() {
                prop_assert_eq!(back.unwrap().n_rows(), 0);
            } else {
                prop_assert_eq!(back.unwrap(), table);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
            let _ = Table::from_csv(&text, &["a"]);
        }
    }
}
