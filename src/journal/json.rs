//! JSON as Python's `json` module reads and writes it: the one JSON reader and writer of the
//! crate (the Optuna codec and the CLI's canonical dump both use it).
//!
//! Differences from strict JSON, all Python's: the bare literals `NaN`, `Infinity` and
//! `-Infinity` are numbers; integers (no `.`, `e` or `E`) stay distinct from floats; objects keep
//! their keys in order (a repeated key: the last one wins on lookup, as in a Python `dict`).
//! Floats are written as Python's `repr`, strings with `ensure_ascii` escaping.

use std::borrow::Cow;
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

/// Parses one JSON document (surrounding whitespace allowed) into an owned tree. The error says
/// what is wrong and at which byte of `input`. (Hot paths parse with a reused [`Parser`] and read
/// the borrowed [`Value`] instead.)
pub fn parse(input: &[u8]) -> Result<JsonValue, String> {
    Ok(Parser::default().parse(input)?.to_owned_value())
}

/// A reusable JSON parser with Python's grammar (see the module docs).
///
/// [`Parser::parse`] validates the whole document and records it as a flat list of nodes in
/// document order (a "tape"), each string and big integer as a range of the input, so that
/// parsing allocates nothing once the parser's buffers have grown to the largest document seen,
/// and a string is unescaped only if someone asks for it. Nesting is tracked on an explicit
/// stack: no recursion, whatever the input.
#[derive(Debug, Default, Clone)]
pub struct Parser {
    nodes: Vec<Node>,
    /// The open containers: index of their node, and their entries so far.
    open: Vec<(usize, u32)>,
}

/// One node of the tape. A container is followed by its entries (an object's as key, value,
/// key, value, ...); `span` counts its nodes including itself, so a reader skips it in one step.
#[derive(Debug, Clone, Copy)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside the `i64` range: its text at `start..end`.
    BigInt {
        start: u32,
        end: u32,
    },
    Float(f64),
    /// A string's raw contents between its quotes; `escaped` if they hold a backslash.
    Str {
        start: u32,
        end: u32,
        escaped: bool,
    },
    Array {
        len: u32,
        span: u32,
    },
    Object {
        len: u32,
        span: u32,
    },
}

impl Node {
    #[inline]
    fn span(self) -> usize {
        match self {
            Node::Array { span, .. } | Node::Object { span, .. } => span as usize,
            _ => 1,
        }
    }
}

fn err(what: &str, at: usize) -> String {
    format!("{what} at byte {at}")
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = s.get(i) {
        i += 1;
    }
    i
}

/// The index of the first `"`, `\` or control character (below 0x20) of `s` at or after `i`,
/// or `s.len()`. Eight bytes per step: in each 64-bit word, a byte equal to `"` or `\` (XOR makes
/// it zero) or below 0x20 sets its high bit in `hits`; the lowest such bit is always a real match
/// (a false one can only appear above a real one, through a borrow).
#[inline]
fn string_stop(s: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = s.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else { break };
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let slash = x ^ (ONES * u64::from(b'\\'));
        let hits = ((quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (x.wrapping_sub(ONES * 0x20) & !x))
            & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

impl Parser {
    /// Parses one JSON document (surrounding whitespace allowed) and returns its root value,
    /// which borrows the input and this parser until the next parse. The error says what is
    /// wrong and at which byte of `input`.
    pub fn parse<'s, 't>(&'t mut self, input: &'s [u8]) -> Result<Value<'s, 't>, String> {
        let text = std::str::from_utf8(input)
            .map_err(|e| err("text is not valid UTF-8", e.valid_up_to()))?;
        if u32::try_from(input.len()).is_err() {
            return Err(format!("a JSON text of {} bytes is longer than 4 GiB", input.len()));
        }
        self.nodes.clear();
        self.open.clear();
        self.document(input)?;
        Ok(Value { text, nodes: &self.nodes })
    }

    fn document(&mut self, s: &[u8]) -> Result<(), String> {
        let mut i = skip_ws(s, 0);
        'value: loop {
            if self.open.len() > MAX_DEPTH {
                return Err(err("JSON nested too deeply", i));
            }
            match s.get(i) {
                Some(b'{') => {
                    self.open.push((self.nodes.len(), 0));
                    self.nodes.push(Node::Object { len: 0, span: 0 });
                    i = skip_ws(s, i + 1);
                    if s.get(i) == Some(&b'}') {
                        i += 1;
                        self.close();
                    } else {
                        self.count_entry();
                        i = self.key(s, i)?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.open.push((self.nodes.len(), 0));
                    self.nodes.push(Node::Array { len: 0, span: 0 });
                    i = skip_ws(s, i + 1);
                    if s.get(i) == Some(&b']') {
                        i += 1;
                        self.close();
                    } else {
                        self.count_entry();
                        continue 'value;
                    }
                }
                Some(b'"') => i = self.string(s, i)?,
                Some(_) => i = self.scalar(s, i)?,
                None => return Err(err("unexpected end of line", i)),
            }
            // After a value: the next entry of the innermost container, or its end.
            loop {
                i = skip_ws(s, i);
                let Some(&(top, _)) = self.open.last() else { break 'value };
                let object = matches!(self.nodes[top], Node::Object { .. });
                match s.get(i) {
                    Some(b',') => {
                        self.count_entry();
                        i = skip_ws(s, i + 1);
                        if object {
                            i = self.key(s, i)?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if object => {
                        i += 1;
                        self.close();
                    }
                    Some(b']') if !object => {
                        i += 1;
                        self.close();
                    }
                    _ if object => return Err(err("expected ',' or '}'", i)),
                    _ => return Err(err("expected ',' or ']'", i)),
                }
            }
        }
        if i != s.len() {
            return Err(err("extra data after the JSON value", i));
        }
        Ok(())
    }

    fn count_entry(&mut self) {
        if let Some((_, n)) = self.open.last_mut() {
            *n += 1;
        }
    }

    /// Ends the innermost open container (spans and counts fit in `u32`: the input does).
    fn close(&mut self) {
        if let Some((at, n)) = self.open.pop() {
            let span = (self.nodes.len() - at) as u32;
            self.nodes[at] = match self.nodes[at] {
                Node::Object { .. } => Node::Object { len: n, span },
                _ => Node::Array { len: n, span },
            };
        }
    }

    /// An object key and its `:` at `i`; returns where its value starts.
    fn key(&mut self, s: &[u8], i: usize) -> Result<usize, String> {
        if s.get(i) != Some(&b'"') {
            return Err(err("expected a string key", i));
        }
        let i = skip_ws(s, self.string(s, i)?);
        if s.get(i) != Some(&b':') {
            return Err(err("expected ':'", i));
        }
        Ok(skip_ws(s, i + 1))
    }

    /// The string whose opening quote is at `i`: checks its escapes (as Python's C scanner
    /// does: `\u` takes exactly four hex digits) and that it holds no control character; returns
    /// the index after its closing quote.
    fn string(&mut self, s: &[u8], i: usize) -> Result<usize, String> {
        let start = i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            j = string_stop(s, j);
            match s.get(j) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    j += match s.get(j + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                        Some(b'u') => {
                            let hex = s.get(j + 2..j + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(err("bad \\u escape", j));
                            }
                            6
                        }
                        Some(_) => return Err(err("invalid escape", j)),
                        None => return Err(err("unterminated string", j)),
                    };
                }
                Some(_) => return Err(err("control character in string", j)),
                None => return Err(err("unterminated string", j)),
            }
        }
        self.nodes.push(Node::Str { start: start as u32, end: j as u32, escaped });
        Ok(j + 1)
    }

    /// A literal or a number at `i`; returns the index after it.
    fn scalar(&mut self, s: &[u8], i: usize) -> Result<usize, String> {
        let rest = &s[i..];
        for (lit, node) in [
            (&b"null"[..], Node::Null),
            (b"true", Node::Bool(true)),
            (b"false", Node::Bool(false)),
            (b"NaN", Node::Float(f64::NAN)),
            (b"Infinity", Node::Float(f64::INFINITY)),
            (b"-Infinity", Node::Float(f64::NEG_INFINITY)),
        ] {
            if rest.starts_with(lit) {
                self.nodes.push(node);
                return Ok(i + lit.len());
            }
        }
        self.number(s, i)
    }

    /// Python's number grammar: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`; an integer (no fraction,
    /// no exponent) of any size stays an integer.
    fn number(&mut self, s: &[u8], start: usize) -> Result<usize, String> {
        let digits = |mut j: usize| {
            while s.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            j
        };
        let mut i = start + usize::from(s.get(start) == Some(&b'-'));
        let int_start = i;
        match s.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => return Err(err("expected a JSON value", start)),
        }
        let int_end = i;
        let mut float = false;
        if s.get(i) == Some(&b'.') && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 1);
            float = true;
        }
        if let Some(b'e' | b'E') = s.get(i) {
            let sign = usize::from(matches!(s.get(i + 1), Some(b'+' | b'-')));
            let end = digits(i + 1 + sign);
            if end > i + 1 + sign {
                i = end;
                float = true;
            }
        }
        // The bytes are ASCII digits, signs, '.' and 'e' only.
        let text = std::str::from_utf8(&s[start..i]).unwrap_or_default();
        if float {
            let x = text.parse().map_err(|_| err("bad number", start))?;
            self.nodes.push(Node::Float(x));
        } else if int_end - int_start <= 18 {
            // At most 18 digits: fits an i64 whatever they are.
            let mut v: i64 = 0;
            for &d in &s[int_start..int_end] {
                v = v * 10 + i64::from(d - b'0');
            }
            self.nodes.push(Node::Int(if int_start > start { -v } else { v }));
        } else {
            match Integer::parse(text) {
                Some(Integer::Small(v)) => self.nodes.push(Node::Int(v)),
                Some(Integer::Big(_)) => {
                    self.nodes.push(Node::BigInt { start: start as u32, end: i as u32 });
                }
                None => {
                    return Err(format!(
                        "integer at byte {start} has more than {MAX_INT_DIGITS} digits (Python \
                         refuses to read it too)"
                    ));
                }
            }
        }
        Ok(i)
    }
}

/// A value of a document parsed by [`Parser::parse`], borrowing its text (`'s`) and the parser's
/// tape (`'t`). Copying it is free.
#[derive(Debug, Clone, Copy)]
pub struct Value<'s, 't> {
    text: &'s str,
    /// This value's node and its descendants.
    nodes: &'t [Node],
}

/// What a [`Value`] is, with its contents.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'s, 't> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in an `i64`.
    Int(i64),
    /// An integer outside the `i64` range, as its canonical decimal text.
    BigInt(&'s str),
    /// A float (including `NaN`, `Infinity`, `-Infinity`).
    Float(f64),
    /// A string.
    Str(JsonStr<'s>),
    /// An array.
    Array(Items<'s, 't>),
    /// An object.
    Object(Members<'s, 't>),
}

impl<'s, 't> Value<'s, 't> {
    #[inline]
    fn head(&self) -> Node {
        self.nodes.first().copied().unwrap_or(Node::Null)
    }

    #[inline]
    fn slice(&self, start: u32, end: u32) -> &'s str {
        self.text.get(start as usize..end as usize).unwrap_or_default()
    }

    /// What the value is.
    #[inline]
    pub fn kind(&self) -> Kind<'s, 't> {
        let children = Children { text: self.text, nodes: self.nodes.get(1..).unwrap_or(&[]) };
        match self.head() {
            Node::Null => Kind::Null,
            Node::Bool(b) => Kind::Bool(b),
            Node::Int(i) => Kind::Int(i),
            Node::BigInt { start, end } => Kind::BigInt(self.slice(start, end)),
            Node::Float(x) => Kind::Float(x),
            Node::Str { start, end, escaped } => {
                Kind::Str(JsonStr { raw: self.slice(start, end), escaped })
            }
            Node::Array { len, .. } => Kind::Array(Items { children, left: len as usize }),
            Node::Object { len, .. } => Kind::Object(Members { children, left: len as usize }),
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.head(), Node::Null)
    }

    /// The entries of an object (`None` for anything else).
    pub fn members(&self) -> Option<Members<'s, 't>> {
        match self.kind() {
            Kind::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The elements of an array (`None` for anything else).
    pub fn items(&self) -> Option<Items<'s, 't>> {
        match self.kind() {
            Kind::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The string (`None` for anything else).
    pub fn as_str(&self) -> Option<JsonStr<'s>> {
        match self.kind() {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in an object (the last one if repeated, as in a Python `dict`);
    /// `None` for a missing key or a value that is not an object.
    pub fn get(&self, key: &str) -> Option<Value<'s, 't>> {
        self.members()?.filter(|(k, _)| k.is(key)).last().map(|(_, v)| v)
    }

    /// The number as an `f64` (an integer converted as Python's `float()` does), or `None` for
    /// anything else.
    pub fn as_f64(&self) -> Option<f64> {
        match self.kind() {
            Kind::Int(i) => Some(i as f64),
            Kind::BigInt(text) => Some(text.parse().unwrap_or(f64::NAN)),
            Kind::Float(x) => Some(x),
            _ => None,
        }
    }

    /// The value as an owned tree.
    pub fn to_owned_value(&self) -> JsonValue {
        match self.kind() {
            Kind::Null => JsonValue::Null,
            Kind::Bool(b) => JsonValue::Bool(b),
            Kind::Int(i) => JsonValue::Int(i),
            Kind::BigInt(text) => match Integer::parse(text) {
                Some(Integer::Big(b)) => JsonValue::BigInt(b),
                Some(Integer::Small(i)) => JsonValue::Int(i),
                None => JsonValue::Null, // unreachable: the parser checked the digits
            },
            Kind::Float(x) => JsonValue::Float(x),
            Kind::Str(s) => match s.decode() {
                Ok(s) => JsonValue::Str(s.into_owned()),
                Err(u) => JsonValue::Utf16(u),
            },
            Kind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.to_owned_value());
                }
                JsonValue::Array(out)
            }
            Kind::Object(members) => {
                let mut out = Vec::with_capacity(members.len());
                for (k, v) in members {
                    out.push((k.to_text().into_owned(), v.to_owned_value()));
                }
                JsonValue::Object(out)
            }
        }
    }
}

/// The entries of a container, in order.
#[derive(Debug, Clone, Copy, Default)]
struct Children<'s, 't> {
    text: &'s str,
    nodes: &'t [Node],
}

impl<'s, 't> Children<'s, 't> {
    #[inline]
    fn next_value(&mut self) -> Option<Value<'s, 't>> {
        let span = self.nodes.first()?.span().min(self.nodes.len());
        let (value, rest) = self.nodes.split_at(span);
        self.nodes = rest;
        Some(Value { text: self.text, nodes: value })
    }
}

/// The elements of an array, in order (none by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Items<'s, 't> {
    children: Children<'s, 't>,
    left: usize,
}

impl<'s, 't> Iterator for Items<'s, 't> {
    type Item = Value<'s, 't>;

    fn next(&mut self) -> Option<Self::Item> {
        let v = self.children.next_value()?;
        self.left -= 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Items<'_, '_> {}

/// The entries of an object (key, value), in the order written (none by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Members<'s, 't> {
    children: Children<'s, 't>,
    left: usize,
}

impl<'s, 't> Iterator for Members<'s, 't> {
    type Item = (JsonStr<'s>, Value<'s, 't>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let text = self.children.text;
        let (&Node::Str { start, end, escaped }, rest) = self.children.nodes.split_first()? else {
            return None; // unreachable: the parser puts a key before every value
        };
        let span = rest.first()?.span().min(rest.len());
        let (value, rest) = rest.split_at(span);
        self.children.nodes = rest;
        self.left -= 1;
        let raw = text.get(start as usize..end as usize).unwrap_or_default();
        Some((JsonStr { raw, escaped }, Value { text, nodes: value }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Members<'_, '_> {}

/// A string of a parsed document, still as written between its quotes (escapes checked, not
/// yet decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JsonStr<'s> {
    raw: &'s str,
    escaped: bool,
}

impl<'s> JsonStr<'s> {
    /// The contents as written, escapes and all (equal raw texts decode equally).
    pub fn raw(&self) -> &'s str {
        self.raw
    }

    /// The string as Python reads it: text (borrowed when it has no escapes), or a
    /// [`Utf16String`] when it holds a lone surrogate escape (`"\udc00"`), which Python keeps.
    #[inline]
    pub fn decode(&self) -> Result<Cow<'s, str>, Utf16String> {
        if self.escaped { unescape(self.raw).map(Cow::Owned) } else { Ok(Cow::Borrowed(self.raw)) }
    }

    /// The text, if it has no escapes (then it is exactly what was written).
    #[inline]
    pub fn plain(&self) -> Option<&'s str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The string where only valid text will do (object keys, names): a lone surrogate becomes
    /// U+FFFD.
    #[inline]
    pub fn to_text(&self) -> Cow<'s, str> {
        self.decode().unwrap_or_else(|u| Cow::Owned(u.to_string_lossy()))
    }

    /// Whether the string reads as `text` (see [`JsonStr::to_text`]).
    #[inline]
    pub fn is(&self, text: &str) -> bool {
        if self.escaped { self.to_text() == text } else { self.raw == text }
    }
}

/// The four hex digits at the start of `hex` (checked by the parser).
fn hex4(hex: &[u8]) -> u32 {
    hex.iter().take(4).fold(0, |v, &d| v * 16 + char::from(d).to_digit(16).unwrap_or(0))
}

/// Decodes the escapes of a string's checked contents. Adjacent surrogate escapes pair up into
/// one character; a lone one makes the string a [`Utf16String`] (decoded unit by unit by
/// [`unescape_units`]).
#[inline(never)]
fn unescape(raw: &str) -> Result<String, Utf16String> {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut run = 0;
    while let Some(k) = b[run..].iter().position(|&c| c == b'\\') {
        let at = run + k;
        out.push_str(&raw[run..at]);
        let (c, len) = match b.get(at + 1) {
            Some(b'u') => {
                let unit = hex4(&b[at + 2..]);
                let low = (b.get(at + 6) == Some(&b'\\') && b.get(at + 7) == Some(&b'u'))
                    .then(|| hex4(&b[at + 8..]));
                match (unit, low) {
                    (0xd800..=0xdbff, Some(lo @ 0xdc00..=0xdfff)) => {
                        (char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (lo - 0xdc00)), 12)
                    }
                    _ => (char::from_u32(unit), 6),
                }
            }
            Some(b'b') => (Some('\u{8}'), 2),
            Some(b'f') => (Some('\u{c}'), 2),
            Some(b'n') => (Some('\n'), 2),
            Some(b'r') => (Some('\r'), 2),
            Some(b't') => (Some('\t'), 2),
            Some(&c) => (Some(char::from(c)), 2), // `"`, `\` and `/` stand for themselves
            None => (None, 1),                    // unreachable: the parser checked the escapes
        };
        let Some(c) = c else {
            return Utf16String::from_units(unescape_units(raw));
        };
        out.push(c);
        run = at + len;
    }
    out.push_str(&raw[run..]);
    Ok(out)
}

/// The UTF-16 code units of a string's checked contents, as Python's `str` holds them.
fn unescape_units(raw: &str) -> Vec<u16> {
    let b = raw.as_bytes();
    let mut units = Vec::with_capacity(raw.len());
    let mut run = 0;
    while let Some(k) = b[run..].iter().position(|&c| c == b'\\') {
        let at = run + k;
        units.extend(raw[run..at].encode_utf16());
        let (unit, len) = match b.get(at + 1) {
            Some(b'u') => (hex4(&b[at + 2..]) as u16, 6),
            Some(b'b') => (0x08, 2),
            Some(b'f') => (0x0c, 2),
            Some(b'n') => (u16::from(b'\n'), 2),
            Some(b'r') => (u16::from(b'\r'), 2),
            Some(b't') => (u16::from(b'\t'), 2),
            Some(&c) => (u16::from(c), 2),
            None => break,
        };
        units.push(unit);
        run = at + len;
    }
    units.extend(raw.get(run..).unwrap_or_default().encode_utf16());
    units
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
            // Python's C scanner takes exactly four hex digits after `\u` (no sign, no space).
            b"\"\\u+abc\"",
            b"\"\\u 123\"",
            b"\"\\u12\"",
            b"\"\\x41\"",
            b"[1, 2",
            b"{\"a\": 1,}",
            b"{\"a\"}",
            b"{1: 2}",
            b"-",
            b"-x",
            b"1e",
            b"[1 2]",
            b"\"\t\"",
            b"",
            b"   ",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // A value MAX_DEPTH containers deep is the deepest accepted.
        let depth = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(parse(depth(MAX_DEPTH + 1).as_bytes()).is_ok());
        assert!(parse(depth(MAX_DEPTH + 2).as_bytes()).is_err());
        let objects = |n: usize| "{\"k\": ".repeat(n) + "1" + &"}".repeat(n);
        assert!(parse(objects(MAX_DEPTH).as_bytes()).is_ok());
        assert!(parse(objects(MAX_DEPTH + 1).as_bytes()).is_err());
    }

    #[test]
    fn the_tape_reads_as_the_tree() {
        let text =
            br#" {"a" : [1, {"b": []}, {}, "x\ty"], "a": -2, "c": {"d": null}, "e": "\u00e9"} "#;
        let mut parser = Parser::default();
        let root = parser.parse(text).unwrap();
        assert_eq!(root.members().unwrap().len(), 4);
        assert_eq!(root.get("a").unwrap().as_f64(), Some(-2.0));
        assert!(root.get("c").unwrap().get("d").unwrap().is_null());
        assert_eq!(root.get("e").unwrap().as_str().unwrap().decode().unwrap(), "é");
        assert_eq!(root.get("e").unwrap().as_str().unwrap().raw(), "\\u00e9");
        let first = root.members().unwrap().next().unwrap().1;
        let items: Vec<JsonValue> = first.items().unwrap().map(|v| v.to_owned_value()).collect();
        assert_eq!(
            items,
            [
                JsonValue::Int(1),
                JsonValue::Object(vec![("b".into(), JsonValue::Array(vec![]))]),
                JsonValue::Object(vec![]),
                JsonValue::Str("x\ty".into()),
            ]
        );
        assert!(root.get("zzz").is_none() && first.get("a").is_none());
        // The parser's buffers are reused: a second document replaces the first.
        let again = parser.parse(b"[true]").unwrap();
        assert_eq!(again.to_owned_value(), JsonValue::Array(vec![JsonValue::Bool(true)]));
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

    /// Any JSON value: what the writer writes, the parser reads back as the same value.
    fn any_value() -> impl proptest::strategy::Strategy<Value = JsonValue> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(JsonValue::Null),
            any::<bool>().prop_map(JsonValue::Bool),
            any::<i64>().prop_map(JsonValue::Int),
            "-?[1-9][0-9]{19,40}".prop_map(|t| match Integer::parse(&t) {
                Some(Integer::Big(b)) => JsonValue::BigInt(b),
                _ => JsonValue::Null,
            }),
            any::<u64>().prop_map(|b| JsonValue::Float(f64::from_bits(b))),
            ".*".prop_map(JsonValue::Str),
            proptest::collection::vec(any::<u16>(), 0..8).prop_map(|units| {
                match Utf16String::from_units(units) {
                    Ok(s) => JsonValue::Str(s),
                    Err(u) => JsonValue::Utf16(u),
                }
            }),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(JsonValue::Array),
                proptest::collection::vec(("[a-z\\u{e9}\\u{1f600}]{0,4}", inner), 0..5)
                    .prop_map(JsonValue::Object),
            ]
        })
    }

    proptest::proptest! {
        /// Values survive writing (both of Python's styles) and parsing; NaN compares by its
        /// Debug text.
        #[test]
        fn values_round_trip(v in any_value()) {
            for (item, key) in [(",", ":"), (", ", ": ")] {
                let mut text = String::new();
                v.write(&mut text, item, key);
                let back = parse(text.as_bytes()).unwrap();
                proptest::prop_assert_eq!(format!("{back:?}"), format!("{v:?}"), "{}", text);
            }
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
