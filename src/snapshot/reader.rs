//! A MessagePack reader over one state frame of a snapshot, with the journal codec's rules
//! (`src/journal/codec.rs`, `docs/FORMAT.md`): the same accepted encodings, the same checks
//! (Optuna's constructor checks on distributions, later value encodings only inside an extended
//! operation), every read bounds-checked and an error instead of a panic. It exists so that a
//! trial record is decoded straight into the trial (`super::records`), without the intermediate
//! template of an `Operation`.

use std::collections::BTreeMap;

use crate::journal::codec::{EXT_BIG_INT, EXT_UTF16};
use crate::model::{
    AttrValue, Distribution, FloatClass, FloatDistribution, IntClass, IntDistribution, Integer,
    MAX_ATTR_DEPTH, ParamValue, Timestamp, TrialState, Utf16String,
};

/// Why a record is unusable (the snapshot is then not used).
pub(super) type Res<T> = Result<T, String>;

#[cold]
#[inline(never)]
pub(super) fn bad<T>(at: usize, what: impl std::fmt::Display) -> Res<T> {
    Err(format!("{what} at payload byte {at}"))
}

/// A position in one frame's payload.
pub(super) struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    /// Inside an extended operation (code 11): the later value encodings are allowed.
    pub extended: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0, extended: false }
    }

    pub fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        match self.pos.checked_add(n).and_then(|end| self.buf.get(self.pos..end)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => bad(self.pos, "unexpected end of payload"),
        }
    }

    fn byte(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Res<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn peek(&self) -> Res<u8> {
        match self.buf.get(self.pos) {
            Some(b) => Ok(*b),
            None => bad(self.pos, "unexpected end of payload"),
        }
    }

    /// Consumes a nil if one is next.
    pub fn nil(&mut self) -> Res<bool> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    pub fn array_len(&mut self) -> Res<usize> {
        let at = self.pos;
        Ok(match self.byte()? {
            m @ 0x90..=0x9f => usize::from(m & 0x0f),
            0xdc => usize::from(u16::from_be_bytes(self.be()?)),
            0xdd => u32::from_be_bytes(self.be()?) as usize,
            _ => return bad(at, "expected an array"),
        })
    }

    pub fn map_len(&mut self) -> Res<usize> {
        let at = self.pos;
        Ok(match self.byte()? {
            m @ 0x80..=0x8f => usize::from(m & 0x0f),
            0xde => usize::from(u16::from_be_bytes(self.be()?)),
            0xdf => u32::from_be_bytes(self.be()?) as usize,
            _ => return bad(at, "expected a map"),
        })
    }

    /// An array header that must announce exactly `n` elements.
    pub fn array_of(&mut self, n: usize, what: &str) -> Res<()> {
        let at = self.pos;
        let len = self.array_len()?;
        if len != n {
            return bad(at, format_args!("{what} has {len} fields, expected {n}"));
        }
        Ok(())
    }

    fn integer(&mut self) -> Res<i128> {
        let at = self.pos;
        Ok(match self.byte()? {
            m @ 0x00..=0x7f => i128::from(m),
            m @ 0xe0..=0xff => i128::from(m as i8),
            0xcc => i128::from(self.byte()?),
            0xcd => i128::from(u16::from_be_bytes(self.be()?)),
            0xce => i128::from(u32::from_be_bytes(self.be()?)),
            0xcf => i128::from(u64::from_be_bytes(self.be()?)),
            0xd0 => i128::from(self.byte()? as i8),
            0xd1 => i128::from(i16::from_be_bytes(self.be()?)),
            0xd2 => i128::from(i32::from_be_bytes(self.be()?)),
            0xd3 => i128::from(i64::from_be_bytes(self.be()?)),
            _ => return bad(at, "expected an integer"),
        })
    }

    pub fn u64(&mut self) -> Res<u64> {
        if let Some(&m @ 0x00..=0x7f) = self.buf.get(self.pos) {
            self.pos += 1;
            return Ok(u64::from(m));
        }
        let at = self.pos;
        u64::try_from(self.integer()?).or_else(|_| bad(at, "integer out of u64 range"))
    }

    pub fn i64(&mut self) -> Res<i64> {
        let at = self.pos;
        i64::try_from(self.integer()?).or_else(|_| bad(at, "integer out of i64 range"))
    }

    /// A float (float64 or float32), or an integer converted to f64.
    pub fn f64(&mut self) -> Res<f64> {
        match self.peek()? {
            0xcb => {
                self.pos += 1;
                Ok(f64::from_be_bytes(self.be()?))
            }
            0xca => {
                self.pos += 1;
                Ok(f64::from(f32::from_be_bytes(self.be()?)))
            }
            _ => Ok(self.integer()? as f64),
        }
    }

    fn bool(&mut self) -> Res<bool> {
        let at = self.pos;
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => bad(at, "expected a boolean"),
        }
    }

    /// The bytes of a string, not yet checked to be UTF-8.
    pub fn str_bytes(&mut self) -> Res<&'a [u8]> {
        let at = self.pos;
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::from(self.byte()?),
            0xda => usize::from(u16::from_be_bytes(self.be()?)),
            0xdb => u32::from_be_bytes(self.be()?) as usize,
            _ => return bad(at, "expected a string"),
        };
        self.take(len)
    }

    pub fn str(&mut self) -> Res<&'a str> {
        let at = self.pos;
        std::str::from_utf8(self.str_bytes()?).or_else(|_| bad(at, "string is not UTF-8"))
    }

    pub fn opt_timestamp(&mut self) -> Res<Option<Timestamp>> {
        if self.nil()? { Ok(None) } else { Ok(Some(Timestamp(self.i64()?))) }
    }

    pub fn state(&mut self) -> Res<TrialState> {
        let at = self.pos;
        let code = self.u64()?;
        TrialState::from_code(code)
            .map_or_else(|| bad(at, format_args!("invalid trial state {code}")), Ok)
    }

    /// Any JSON-like value (an attribute value), at nesting `depth`.
    pub fn value(&mut self, depth: usize) -> Res<AttrValue> {
        let at = self.pos;
        if depth > MAX_ATTR_DEPTH {
            return bad(at, "attribute value nested too deeply");
        }
        let m = self.peek()?;
        Ok(match m {
            0xc0 => {
                self.pos += 1;
                AttrValue::Null
            }
            0xc2 | 0xc3 => AttrValue::Bool(self.bool()?),
            0xca | 0xcb => AttrValue::Float(self.f64()?),
            0x00..=0x7f | 0xe0..=0xff | 0xcc..=0xcf | 0xd0..=0xd3 => AttrValue::Int(self.i64()?),
            0xa0..=0xbf | 0xd9..=0xdb => AttrValue::String(self.str()?.to_owned()),
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = self.array_len()?;
                let mut items = Vec::with_capacity(n.min(self.buf.len()));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                AttrValue::Array(items)
            }
            0x80..=0x8f | 0xde | 0xdf => AttrValue::Map(self.str_map(|r| r.value(depth + 1))?),
            0xc7..=0xc9 | 0xd4..=0xd8 if self.extended => self.ext()?,
            _ => return bad(at, format_args!("unsupported MessagePack type 0x{m:02x}")),
        })
    }

    /// An extension value: a big integer (`ext 1`) or a string with a lone surrogate (`ext 2`).
    fn ext(&mut self) -> Res<AttrValue> {
        let at = self.pos;
        let len = match self.byte()? {
            m @ 0xd4..=0xd8 => 1usize << (m - 0xd4),
            0xc7 => usize::from(self.byte()?),
            0xc8 => usize::from(u16::from_be_bytes(self.be()?)),
            _ => u32::from_be_bytes(self.be()?) as usize,
        };
        let kind = self.byte()? as i8;
        let data = self.take(len)?;
        match kind {
            EXT_BIG_INT => {
                let text = std::str::from_utf8(data).unwrap_or("");
                match Integer::parse(text) {
                    Some(Integer::Big(b)) if b.as_str() == text => Ok(AttrValue::BigInt(b)),
                    _ => bad(at, "a big integer that is not canonical or fits in i64"),
                }
            }
            EXT_UTF16 if len % 2 == 0 => {
                let units =
                    data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                match Utf16String::from_units(units) {
                    Err(u) => Ok(AttrValue::Utf16(u)),
                    Ok(_) => bad(at, "a UTF-16 string without a lone surrogate"),
                }
            }
            _ => bad(at, "unknown MessagePack extension type"),
        }
    }

    pub fn str_map<V>(
        &mut self,
        mut value: impl FnMut(&mut Self) -> Res<V>,
    ) -> Res<BTreeMap<String, V>> {
        let n = self.map_len()?;
        let mut out = BTreeMap::new();
        for _ in 0..n {
            let k = self.str()?.to_owned();
            out.insert(k, value(self)?);
        }
        Ok(out)
    }

    fn choice(&mut self) -> Res<ParamValue> {
        let at = self.pos;
        Ok(match self.value(MAX_ATTR_DEPTH)? {
            AttrValue::Null => ParamValue::Null,
            AttrValue::Bool(b) => ParamValue::Bool(b),
            AttrValue::Int(i) => ParamValue::Int(i),
            AttrValue::BigInt(i) => ParamValue::BigInt(i),
            AttrValue::Float(x) => ParamValue::Float(x),
            AttrValue::String(s) => ParamValue::Str(s),
            AttrValue::Utf16(_) | AttrValue::Array(_) | AttrValue::Map(_) => {
                return bad(at, "a categorical choice must be null, bool, int, float or str");
            }
        })
    }

    /// A distribution, with Optuna's constructor checks (as the codec reads one).
    pub fn distribution(&mut self) -> Res<Distribution> {
        let at = self.pos;
        let len = self.array_len()?;
        let kind = self.u64()?;
        let expect = |n: usize| {
            if len == n { Ok(()) } else { bad(at, "distribution has the wrong number of fields") }
        };
        if matches!(kind, 3..=7) && !self.extended {
            return bad(at, "a legacy distribution class outside an extended operation");
        }
        let invalid = |e: crate::Error| bad(at, format_args!("invalid distribution: {e}"));
        Ok(match kind {
            0 | 3 | 4 | 5 => {
                expect(5)?;
                let class = match kind {
                    0 => FloatClass::Float,
                    3 => FloatClass::Uniform,
                    4 => FloatClass::LogUniform,
                    _ => FloatClass::DiscreteUniform,
                };
                let (low, high, log) = (self.f64()?, self.f64()?, self.bool()?);
                let step = if self.nil()? { None } else { Some(self.f64()?) };
                match FloatDistribution::new(class, low, high, log, step) {
                    Ok(d) => Distribution::Float(d),
                    Err(e) => return invalid(e),
                }
            }
            1 | 6 | 7 => {
                expect(5)?;
                let class = match kind {
                    1 => IntClass::Int,
                    6 => IntClass::IntUniform,
                    _ => IntClass::IntLogUniform,
                };
                let (low, high, log, step) = (self.i64()?, self.i64()?, self.bool()?, self.i64()?);
                match IntDistribution::new(class, low, high, log, step) {
                    Ok(d) => Distribution::Int(d),
                    Err(e) => return invalid(e),
                }
            }
            2 => {
                expect(2)?;
                let n = self.array_len()?;
                let mut choices = Vec::with_capacity(n.min(self.buf.len()));
                for _ in 0..n {
                    choices.push(self.choice()?);
                }
                match Distribution::categorical(choices) {
                    Ok(d) => d,
                    Err(e) => return invalid(e),
                }
            }
            k => return bad(at, format_args!("unknown distribution kind {k}")),
        })
    }

    /// Skips one value of any type (to find where a record ends).
    pub fn skip(&mut self, depth: usize) -> Res<()> {
        let at = self.pos;
        if depth > MAX_ATTR_DEPTH + 4 {
            return bad(at, "value nested too deeply");
        }
        let m = self.byte()?;
        let n = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xca | 0xce | 0xd2 => 4,
            0xcb | 0xcf | 0xd3 => 8,
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xc4 | 0xd9 => usize::from(self.byte()?),
            0xc5 | 0xda => usize::from(u16::from_be_bytes(self.be()?)),
            0xc6 | 0xdb => u32::from_be_bytes(self.be()?) as usize,
            0xd4..=0xd8 => 1 + (1usize << (m - 0xd4)),
            0xc7 => 1 + usize::from(self.byte()?),
            0xc8 => 1 + usize::from(u16::from_be_bytes(self.be()?)),
            0xc9 => 1 + u32::from_be_bytes(self.be()?) as usize,
            0x90..=0x9f | 0xdc | 0xdd | 0x80..=0x8f | 0xde | 0xdf => {
                self.pos = at;
                let items = if matches!(m, 0x80..=0x8f | 0xde | 0xdf) {
                    self.map_len()?.saturating_mul(2)
                } else {
                    self.array_len()?
                };
                for _ in 0..items {
                    self.skip(depth + 1)?;
                }
                return Ok(());
            }
            _ => return bad(at, format_args!("unsupported MessagePack type 0x{m:02x}")),
        };
        self.take(n).map(|_| ())
    }
}
