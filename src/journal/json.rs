//! JSON as Python's `json` module reads and writes it: the one JSON reader and writer of the
//! crate (the Optuna codec and the CLI's canonical dump both use it).
//!
//! Differences from strict JSON, all Python's: the bare literals `NaN`, `Infinity` and
//! `-Infinity` are numbers; integers (no `.`, `e` or `E`) stay distinct from floats; objects keep
//! their keys in order (a repeated key: the last one wins on lookup, as in a Python `dict`).
//! Floats are written as Python's `repr`, strings with `ensure_ascii` escaping.

use std::fmt::Write as _;

pub use crate::model::py_float;
use crate::model::{BigInt, Integer, MAX_INT_DIGITS, Utf16String};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in an `i64`.
    Int(i64),
    /// An integer outside the `i64` range (Python's ints have no size limit).
    BigInt(BigInt),
    /// A float (including `NaN`, `Infinity`, `-Infinity`).
    Float(f64),
    /// A string.
    Str(String),
    /// A string with a lone UTF-16 surrogate (`"\udc00"`: Python keeps it).
    Utf16(Utf16String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object, keys in the order written.
    Object(Vec<(String, JsonValue)>),
}

impl JsonValue {
    /// The value of `key` in an object (the last one if repeated); `None` for a missing key or a
    /// value that is not an object.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        match self {
            JsonValue::Object(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number as an `f64` (an integer converted), or `None` for anything else.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            JsonValue::Int(i) => Some(*i as f64),
            JsonValue::BigInt(i) => Some(i.to_f64()),
            JsonValue::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// Writes the value in Python's `json.dumps` style with the given separators
    /// (`(",", ":")` for Optuna's journal lines, `(", ", ": ")` for `json.dumps` defaults).
    pub fn write(&self, out: &mut String, item_sep: &str, key_sep: &str) {
        match self {
            JsonValue::Null => out.push_str("null"),
            JsonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            JsonValue::Int(i) => {
                let _ = write!(out, "{i}");
            }
            JsonValue::BigInt(i) => out.push_str(i.as_str()),
            JsonValue::Float(x) => out.push_str(&py_float(*x)),
            JsonValue::Str(s) => quote_into(s, out),
            JsonValue::Utf16(u) => quote_units_into(u.units(), out),
            JsonValue::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    item.write(out, item_sep, key_sep);
                }
                out.push(']');
            }
            JsonValue::Object(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    quote_into(k, out);
                    out.push_str(key_sep);
                    v.write(out, item_sep, key_sep);
                }
                out.push('}');
            }
        }
    }
}

/// Deepest nesting the parser accepts (deeper input is an error, never a stack overflow): an
/// attribute value of [`crate::model::MAX_ATTR_DEPTH`] levels inside a journal line's object and
/// its `{"key": value}` object.
pub const MAX_DEPTH: usize = crate::model::MAX_ATTR_DEPTH + 2;

/// Parses one JSON document (surrounding whitespace allowed). The error says what is wrong and
/// at which byte of `input`.
pub fn parse(input: &[u8]) -> Result<JsonValue, String> {
    let mut p = Parser { s: input, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("extra data after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    // The recursion runs through `value`, `object` and `array` only; each keeps a small frame
    // (scalars are parsed out of line), so the deepest value Optuna writes fits a thread's stack.
    fn value(&mut self, depth: usize) -> Result<JsonValue, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("JSON nested too deeply"));
        }
        match self.s.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            _ => self.scalar(),
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonValue, String> {
        self.i += 1;
        let mut pairs = Vec::new();
        self.ws();
        if self.eat("}") {
            return Ok(JsonValue::Object(pairs));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(self.err("expected ':'"));
            }
            self.ws();
            let v = self.value(depth + 1)?;
            pairs.push((key, v));
            self.ws();
            if self.eat("}") {
                return Ok(JsonValue::Object(pairs));
            }
            if !self.eat(",") {
                return Err(self.err("expected ',' or '}'"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat("]") {
                return Ok(JsonValue::Array(items));
            }
            if !self.eat(",") {
                return Err(self.err("expected ',' or ']'"));
            }
        }
    }

    #[inline(never)]
    fn scalar(&mut self) -> Result<JsonValue, String> {
        match self.s.get(self.i) {
            None => Err(self.err("unexpected end of line")),
            Some(b'"') => Ok(match self.string_units()? {
                Ok(s) => JsonValue::Str(s),
                Err(u) => JsonValue::Utf16(u),
            }),
            Some(_) => {
                for (lit, v) in [
                    ("null", JsonValue::Null),
                    ("true", JsonValue::Bool(true)),
                    ("false", JsonValue::Bool(false)),
                    ("NaN", JsonValue::Float(f64::NAN)),
                    ("Infinity", JsonValue::Float(f64::INFINITY)),
                    ("-Infinity", JsonValue::Float(f64::NEG_INFINITY)),
                ] {
                    if self.eat(lit) {
                        return Ok(v);
                    }
                }
                self.number()
            }
        }
    }

    /// Python's number grammar: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`.
    fn number(&mut self) -> Result<JsonValue, String> {
        let start = self.i;
        let digits = |p: &mut Self| {
            let from = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - from
        };
        self.eat("-");
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => {
                self.i = start;
                return Err(self.err("expected a JSON value"));
            }
        }
        let mut float = false;
        if self.s.get(self.i) == Some(&b'.')
            && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit)
        {
            self.i += 1;
            digits(self);
            float = true;
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            let save = self.i;
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                self.i = save;
            } else {
                float = true;
            }
        }
        // The bytes are ASCII digits, signs, '.' and 'e' only.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
        if float {
            text.parse().map(JsonValue::Float).map_err(|_| self.err("bad number"))
        } else {
            match Integer::parse(text) {
                Some(Integer::Small(i)) => Ok(JsonValue::Int(i)),
                Some(Integer::Big(b)) => Ok(JsonValue::BigInt(b)),
                None => Err(format!(
                    "integer at byte {start} has more than {MAX_INT_DIGITS} digits (Python \
                     refuses to read it too)"
                )),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self.s.get(self.i..self.i + 4).ok_or_else(|| self.err("truncated \\u escape"))?;
        let text = std::str::from_utf8(hex).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    /// A string as Python reads it: a `String`, or a [`Utf16String`] when it holds a lone
    /// surrogate escape (`"\udc00"`), which Python keeps.
    fn string_units(&mut self) -> Result<Result<String, Utf16String>, String> {
        self.i += 1; // the opening quote
        // Fast path: a string without escapes is one copy of its bytes.
        let plain = self.s[self.i..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        if let Some(n) = plain {
            if self.s[self.i + n] == b'"' {
                let bytes = &self.s[self.i..self.i + n];
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| self.err("string is not valid UTF-8"))?;
                self.i += n + 1;
                return Ok(Ok(s.to_owned()));
            }
        }
        // Escapes: collect UTF-16 code units, as Python's str holds them; adjacent surrogate
        // escapes pair up into one character, a lone one stays.
        let mut units: Vec<u16> = Vec::new();
        let mut run = self.i;
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            match b {
                b'"' | b'\\' => {
                    let raw = std::str::from_utf8(&self.s[run..self.i])
                        .map_err(|_| self.err("string is not valid UTF-8"))?;
                    units.extend(raw.encode_utf16());
                    self.i += 1;
                    if b == b'"' {
                        break;
                    }
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.i += 1;
                    let unit = match e {
                        b'"' => u16::from(b'"'),
                        b'\\' => u16::from(b'\\'),
                        b'/' => u16::from(b'/'),
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => u16::from(b'\n'),
                        b'r' => u16::from(b'\r'),
                        b't' => u16::from(b'\t'),
                        b'u' => self.hex4()? as u16,
                        _ => return Err(self.err("invalid escape")),
                    };
                    units.push(unit);
                    run = self.i;
                }
                0..0x20 => return Err(self.err("control character in string")),
                _ => self.i += 1,
            }
        }
        Ok(Utf16String::from_units(units))
    }

    /// A string where only valid text will do (object keys): a lone surrogate becomes U+FFFD.
    fn string(&mut self) -> Result<String, String> {
        Ok(self.string_units()?.unwrap_or_else(|u| u.to_string_lossy()))
    }
}

/// A JSON string literal with Python's `ensure_ascii` escaping.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote_into(s, &mut out);
    out
}

/// Appends a string given as UTF-16 code units (lone surrogates allowed) as a JSON string
/// literal with Python's `ensure_ascii` escaping (see [`quote_into`]).
pub fn quote_units_into(units: &[u16], out: &mut String) {
    out.push('"');
    for &u in units {
        match char::from_u32(u32::from(u)) {
            Some(c) if c.is_ascii() => quote_char(c, out),
            _ => {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out.push('"');
}

fn quote_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
        c => {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
}

/// Appends `s` as a JSON string literal with Python's `ensure_ascii` escaping: `\"`, `\\`, `\n`,
/// `\r`, `\t`, `\b`, `\f`, every other character outside printable ASCII as `\uXXXX` (UTF-16
/// surrogate pairs above U+FFFF).
pub fn quote_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        quote_char(c, out);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python_repr() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e20, "1.2345e+20"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (123456.789, "123456.789"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float(x), want, "{x:e}");
        }
    }

    #[test]
    fn strings_escape_like_python() {
        assert_eq!(quote("a\"b\\c\n\u{1}é😀"), "\"a\\\"b\\\\c\\n\\u0001\\u00e9\\ud83d\\ude00\"");
    }

    #[test]
    fn parses_python_json() {
        let v = parse(br#" {"a": [1, -0, 2.5, 1e400, NaN, -Infinity, null, true], "b": "\u00e9\ud83d\ude00\/", "a": 3} "#)
            .unwrap();
        assert_eq!(v.get("a"), Some(&JsonValue::Int(3)));
        assert_eq!(v.get("b"), Some(&JsonValue::Str("é😀/".into())));
        let JsonValue::Object(pairs) = &v else { panic!() };
        let JsonValue::Array(items) = &pairs[0].1 else { panic!() };
        assert_eq!(items[1], JsonValue::Int(0));
        assert_eq!(items[3], JsonValue::Float(f64::INFINITY));
        assert!(matches!(items[4], JsonValue::Float(x) if x.is_nan()));
        assert_eq!(items[5], JsonValue::Float(f64::NEG_INFINITY));
    }

    #[test]
    fn lone_surrogates_are_kept_as_python_keeps_them() {
        let JsonValue::Utf16(u) = parse(br#""\udc00x\ud83d""#).unwrap() else { panic!() };
        assert_eq!(u.units(), [0xdc00, u16::from(b'x'), 0xd83d]);
        let mut out = String::new();
        JsonValue::Utf16(u).write(&mut out, ",", ":");
        assert_eq!(out, r#""\udc00x\ud83d""#);
        // A pair of escapes is one character; raw UTF-8 beside escapes stays itself.
        assert_eq!(
            parse(r#""é\ud83d\ude00\n""#.as_bytes()).unwrap(),
            JsonValue::Str("é😀\n".into())
        );
        // Keys must be text: a lone surrogate there becomes U+FFFD.
        let v = parse(br#"{"\udc00": 1}"#).unwrap();
        assert_eq!(v.get("\u{fffd}"), Some(&JsonValue::Int(1)));
    }

    #[test]
    fn integers_of_any_size_as_python_reads_them() {
        let v =
            parse(b"[-9223372036854775808, 18446744073709551615, -123456789012345678901234567890]")
                .unwrap();
        let JsonValue::Array(items) = &v else { panic!() };
        assert_eq!(items[0], JsonValue::Int(i64::MIN));
        let JsonValue::BigInt(b) = &items[1] else { panic!("{v:?}") };
        assert_eq!(b.as_str(), "18446744073709551615");
        let mut out = String::new();
        v.write(&mut out, ",", ":");
        assert_eq!(
            out,
            "[-9223372036854775808,18446744073709551615,-123456789012345678901234567890]"
        );
        // Python 3.11 refuses integers of more than 4300 digits (int_max_str_digits).
        assert!(parse("9".repeat(MAX_INT_DIGITS).as_bytes()).is_ok());
        assert!(parse("9".repeat(MAX_INT_DIGITS + 1).as_bytes()).is_err());
    }

    #[test]
    fn rejects_what_python_rejects() {
        for bad in [
            &b"{"[..],
            b"{\"a\" 1}",
            b"[1,]",
            b"01",
            b"1.",
            b"+1",
            b"nan",
            b"\"a\nb\"",
            b"{} {}",
            b"\"\xff\"",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).is_err());
    }

    proptest::proptest! {
        /// Every non-NaN double survives `repr` and back bit for bit (the codec is lossless).
        #[test]
        fn floats_round_trip(bits in proptest::prelude::any::<u64>()) {
            let x = f64::from_bits(bits);
            if !x.is_nan() {
                let text = py_float(x);
                proptest::prop_assert_eq!(parse(text.as_bytes()), Ok(JsonValue::Float(x)), "{}", text);
            }
        }

        /// Arbitrary bytes never panic the parser; strings survive quoting.
        #[test]
        fn never_panics_and_strings_round_trip(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), s in ".*") {
            let _ = parse(&bytes);
            proptest::prop_assert_eq!(parse(quote(&s).as_bytes()), Ok(JsonValue::Str(s)));
        }
    }

    #[test]
    fn writes_both_styles() {
        let v = parse(br#"{"a": [1, 1.0, "x"], "b": {}}"#).unwrap();
        let mut compact = String::new();
        v.write(&mut compact, ",", ":");
        assert_eq!(compact, r#"{"a":[1,1.0,"x"],"b":{}}"#);
        let mut spaced = String::new();
        v.write(&mut spaced, ", ", ": ");
        assert_eq!(spaced, r#"{"a": [1, 1.0, "x"], "b": {}}"#);
    }
}
