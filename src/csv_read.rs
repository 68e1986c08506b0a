//! Reading CSV text (RFC 4180: fields in double quotes, `""` inside them, quoted line breaks,
//! CRLF or LF): the TA's roster, and the tests that read back what the reports write, so both
//! read CSV as a spreadsheet does. (The extensions file has a stricter, line-numbered reader of
//! its own, `spec::extensions`: a TA's mistake there must point at its line.)

/// A CSV text as rows of fields (RFC 4180: quotes, doubled quotes, CRLF or LF); `None` when a
/// quoted field is never closed.
pub fn rows(text: &str) -> Option<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::rows;

    #[test]
    fn quotes_doubled_quotes_and_line_breaks_inside_quotes() {
        let text = "name,note\r\n\"Doe, Jane\",\"said \"\"hi\"\"\nthen left\"\nbob,\n";
        assert_eq!(
            rows(text).unwrap(),
            [
                vec!["name", "note"],
                vec!["Doe, Jane", "said \"hi\"\nthen left"],
                vec!["bob", ""],
            ]
        );
        assert_eq!(rows("a,\"b").unwrap_or_default().len(), 0);
        assert!(rows("a,\"b").is_none());
        assert_eq!(rows("last,row").unwrap(), [vec!["last", "row"]]);
    }
}
