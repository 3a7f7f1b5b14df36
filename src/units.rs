//! Sizes as podman prints them: docker/go-units' HumanSize and BytesSize,
//! which are Go's `%.Ng` of the value scaled to its unit.

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units HumanSize: four significant digits, no space ("2.152MB").
pub fn human_size(n: u64) -> String {
    scaled(n, 1000.0, &DECIMAL, 4, "")
}

/// go-units HumanSizeWithPrecision(n, 3) with podman's space before the
/// unit, as `images` prints it ("7.63 MB").
pub fn human_size3_spaced(n: u64) -> String {
    scaled(n, 1000.0, &DECIMAL, 3, " ")
}

/// go-units BytesSize ("1.5MiB").
pub fn bytes_size(n: u64) -> String {
    scaled(n, 1024.0, &BINARY, 4, "")
}

fn scaled(n: u64, base: f64, units: &[&str], prec: usize, sep: &str) -> String {
    let mut v = n as f64;
    let mut i = 0;
    while v >= base && i < units.len() - 1 {
        v /= base;
        i += 1;
    }
    format!("{}{sep}{}", go_g(v, prec), units[i])
}

/// Go's `%.{prec}g` of a non-negative `v`: `prec` significant digits,
/// trailing zeros dropped, an exponent once the integer part needs more.
fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    // The decimal exponent after rounding to `prec` digits.
    let mantissa = format!("{:.*e}", prec - 1, v);
    let (digits, exp) = mantissa.split_once('e').unwrap_or((&mantissa, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_zeros(digits), exp.abs());
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(12), "12B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(7680), "7.68kB");
        assert_eq!(human_size(10240), "10.24kB");
        assert_eq!(human_size(11350), "11.35kB");
        assert_eq!(human_size(49_152), "49.15kB");
        assert_eq!(human_size(999_999), "1000kB");
        assert_eq!(human_size(1_234_567), "1.235MB");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(2_150_400), "2.15MB");
        assert_eq!(human_size(3_092_000), "3.092MB");
        assert_eq!(human_size(16_700_000_000), "16.7GB");
        assert_eq!(bytes_size(1024 * 1024 * 3 / 2), "1.5MiB");
        assert_eq!(bytes_size(1023), "1023B");
        assert_eq!(human_size3_spaced(0), "0 B");
        assert_eq!(human_size3_spaced(999), "999 B");
        assert_eq!(human_size3_spaced(1000), "1 kB");
        assert_eq!(human_size3_spaced(251_000), "251 kB");
        assert_eq!(human_size3_spaced(7_633_383), "7.63 MB");
        // Go: fmt.Sprintf("%.3g", 999.9) == "1e+03".
        assert_eq!(human_size3_spaced(999_900), "1e+03 kB");
    }
}
