//! A tile-grid world map: one square per country, laid out by hand on a grid that roughly
//! keeps each country's neighbours around it (north up, west left). Owns the layout only;
//! never draws, and holds no geometry.

/// The grid, one string per row, two-letter ISO codes and `..` for empty cells.
const ROWS: &[&str] = &[
    ".. .. .. .. .. GL .. IS .. .. NO SE FI .. .. .. .. .. .. .. .. .. .. ..",
    ".. CA .. .. .. .. .. IE GB .. DK .. EE RU .. .. .. .. .. .. .. .. .. ..",
    ".. US .. .. .. .. .. .. BE NL DE PL LV BY KZ .. MN .. .. .. .. .. .. ..",
    "MX .. CU BS .. .. .. .. FR LU CZ SK LT UA UZ KG CN KP .. JP .. .. .. ..",
    "GT BZ JM HT DO PR .. PT ES CH AT HU RO MD GE TM TJ .. KR .. .. .. .. ..",
    "SV HN NI .. .. TT .. .. .. IT SI HR RS BG AM AZ AF PK NP BT TW .. .. ..",
    ".. CR PA VE GY SR .. .. .. MT BA ME MK TR SY IQ IR IN BD MM HK .. .. ..",
    ".. EC CO BR .. .. .. MA DZ TN LY AL GR CY LB JO KW .. LK LA VN PH .. ..",
    ".. .. PE BO PY .. .. EH MR ML NE EG IL PS SA BH QA MV TH KH .. .. .. ..",
    ".. .. CL AR UY .. SN GM GN BF NG TD SD ER YE AE OM .. MY SG BN .. .. ..",
    ".. .. .. .. .. .. GW SL LR CI GH TG BJ CM CF SS ET SO .. .. ID TL PG ..",
    ".. .. .. .. .. .. .. .. .. .. .. GQ GA CG CD UG KE .. .. .. .. .. .. ..",
    ".. .. .. .. .. .. .. .. .. .. .. .. AO ZM RW BI TZ .. .. .. .. AU .. FJ",
    ".. .. .. .. .. .. .. .. .. .. .. .. NA BW ZW MW MZ MG .. .. .. .. NZ ..",
    ".. .. .. .. .. .. .. .. .. .. .. .. .. ZA LS SZ .. .. .. .. .. .. .. ..",
];

/// Every country of the map with its column and row.
pub fn tiles() -> Vec<(&'static str, usize, usize)> {
    let mut out = Vec::new();
    for (row, line) in ROWS.iter().enumerate() {
        for (col, code) in line.split(' ').enumerate() {
            if code != ".." {
                out.push((code, col, row));
            }
        }
    }
    out
}

/// Columns and rows of the grid.
pub fn size() -> (usize, usize) {
    let cols = ROWS.iter().map(|r| r.split(' ').count()).max().unwrap_or(0);
    (cols, ROWS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_country_once_with_a_valid_code() {
        let t = tiles();
        let mut codes: Vec<&str> = t.iter().map(|t| t.0).collect();
        for c in &codes {
            assert!(
                c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()),
                "bad code {c:?}"
            );
        }
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n, "a country appears twice");
        let (cols, rows) = size();
        assert!(ROWS.iter().all(|r| r.split(' ').count() == cols));
        assert_eq!((cols, rows), (24, 15));
        for (code, col, row) in [("US", 1, 2), ("FR", 8, 3), ("JP", 19, 3), ("AU", 21, 12)] {
            assert!(t.contains(&(code, col, row)), "{code} not at {col},{row}");
        }
    }
}
