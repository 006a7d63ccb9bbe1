//! Aligned text tables for the admin CLI's `list` commands.

use crate::cli::output;

/// Print `headers` and `rows` in left-aligned columns separated by two spaces; `empty` when
/// there is no row.
pub fn print(headers: &[&str], rows: &[Vec<String>], empty: &str) {
    if rows.is_empty() {
        output::line(empty);
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  "));
            }
        }
        line.trim_end().to_string()
    };
    output::line(render(headers.to_vec()));
    for row in rows {
        output::line(render(row.iter().map(String::as_str).collect()));
    }
}
