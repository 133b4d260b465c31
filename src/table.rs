//! Plain-text tables for the terminal: cells stripped of control characters (so stored text
//! cannot drive the terminal), columns fitted to a width by shortening the widest. Never
//! decides what is shown.

/// A cell as it may be printed: control characters (escape sequences included) become `?`.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn cut(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut t: String = s.chars().take(w - 1).collect();
    t.push('…');
    t
}

/// Renders `rows` under `header`, two spaces between columns. With `max_width`, the widest
/// columns are shortened (with `…`) until a line fits, none below 6 characters.
pub fn render(header: &[&str], rows: &[Vec<String>], max_width: Option<usize>) -> String {
    let cols = header.len();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            (0..cols)
                .map(|i| clean(r.get(i).map_or("", |s| s)))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    if let Some(max) = max_width {
        let sep = 2 * cols.saturating_sub(1);
        while widths.iter().sum::<usize>() + sep > max {
            let (i, &w) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .expect("at least one column");
            if w <= 6 {
                break;
            }
            let excess = widths.iter().sum::<usize>() + sep - max;
            widths[i] = (w - excess).max(6).max(w / 2).min(w - 1);
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let c = cut(c, *w);
            l.push_str(&c);
            if i + 1 < cols {
                l.push_str(&" ".repeat(w - width(&c) + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
    out
}

/// The terminal's width when stdout is a terminal.
pub fn stdout_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, w)| w as usize)
}

/// A Unix time as RFC 3339, or `-`.
pub fn time(t: Option<i64>) -> String {
    t.and_then(|t| jiff::Timestamp::from_second(t).ok())
        .map_or_else(|| "-".to_string(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &[&str], rows: &[&[&str]], max: Option<usize>, expected: &str) {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        assert_eq!(render(header, &rows, max), expected);
    }

    #[test]
    fn tables() {
        check(
            &["a", "bb"],
            &[&["1", "x"], &["22", "\x1b[31mred"]],
            None,
            "a   bb\n1   x\n22  ?[31mred\n",
        );
        check(
            &["time", "target"],
            &[&["2026", "/a/very/long/path/indeed"]],
            Some(20),
            "time  target\n2026  /a/very/long/…\n",
        );
    }
}
