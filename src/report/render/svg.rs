//! A small SVG writer: elements, escaped attributes and text, numbers that are always valid.
//!
//! Only what the report's plots need. Every string that reaches the output passes through
//! [`escape`], and every number through [`Tag::num`], which never writes NaN or infinity (a
//! browser rejects those in geometry attributes), so the output is well-formed XML by
//! construction.

use std::fmt::{self, Display, Write};

/// An SVG document being written.
#[derive(Debug)]
pub struct Svg {
    out: String,
    open: Vec<&'static str>,
}

impl Svg {
    /// A document of `width` x `height` pixels, labelled `label` for screen readers.
    pub fn new(width: f64, height: f64, label: &str) -> Svg {
        let mut svg = Svg { out: String::with_capacity(16 * 1024), open: Vec::new() };
        svg.tag("svg")
            .attr("xmlns", "http://www.w3.org/2000/svg")
            .attr("viewBox", format_args!("0 0 {} {}", fmt_num(width), fmt_num(height)))
            .num("width", width)
            .num("height", height)
            .attr("role", "img")
            .attr("aria-label", label)
            .open();
        svg
    }

    /// Starts element `name`; add attributes, then end it with [`Tag::open`], [`Tag::empty`] or
    /// [`Tag::text`].
    pub fn tag(&mut self, name: &'static str) -> Tag<'_> {
        self.out.push('<');
        self.out.push_str(name);
        Tag { svg: self, name }
    }

    /// Closes the innermost element opened with [`Tag::open`].
    pub fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            let _ = write!(self.out, "</{name}>");
        }
    }

    /// Writes a `<title>` (a browser shows it as the tooltip of the enclosing element).
    pub fn title(&mut self, text: impl Display) {
        self.out.push_str("<title>");
        push_escaped(&mut self.out, text);
        self.out.push_str("</title>");
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

/// An element whose start tag is being written.
#[derive(Debug)]
pub struct Tag<'a> {
    svg: &'a mut Svg,
    name: &'static str,
}

impl Tag<'_> {
    /// Adds attribute `key` with `value`, escaped.
    pub fn attr(self, key: &str, value: impl Display) -> Self {
        let out = &mut self.svg.out;
        let _ = write!(out, " {key}=\"");
        push_escaped(out, value);
        out.push('"');
        self
    }

    /// Adds a numeric attribute, rounded to 0.1 (non-finite numbers are written as 0).
    pub fn num(self, key: &str, value: f64) -> Self {
        let _ = write!(self.svg.out, " {key}=\"{}\"", fmt_num(value));
        self
    }

    /// Ends the start tag; later elements go inside until [`Svg::close`].
    pub fn open(self) {
        self.svg.out.push('>');
        self.svg.open.push(self.name);
    }

    /// Ends the element with no content.
    pub fn empty(self) {
        self.svg.out.push_str("/>");
    }

    /// Ends the element with `text` as its content.
    pub fn text(self, text: impl Display) {
        self.svg.out.push('>');
        push_escaped(&mut self.svg.out, text);
        let _ = write!(self.svg.out, "</{}>", self.name);
    }

    /// Ends the element with a `<title>` tooltip as its only content.
    pub fn titled(self, title: impl Display) {
        let name = self.name;
        self.svg.out.push('>');
        self.svg.title(title);
        let _ = write!(self.svg.out, "</{name}>");
    }
}

/// A coordinate as written: rounded to 0.1, without a trailing ".0", and 0 if not finite.
pub fn fmt_num(v: f64) -> String {
    let mut s = String::new();
    push_num(&mut s, v);
    s
}

/// Appends `v` as [`fmt_num`] formats it.
pub fn push_num(out: &mut String, v: f64) {
    let v = if v.is_finite() { (v * 10.0).round() / 10.0 } else { 0.0 };
    let v = if v == 0.0 { 0.0 } else { v }; // no "-0"
    if v.fract() == 0.0 {
        let _ = write!(out, "{v:.0}");
    } else {
        let _ = write!(out, "{v:.1}");
    }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for XML (and so for HTML), and characters XML
/// forbids (controls other than tab and newline) replaced by U+FFFD.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    push_escaped(&mut s, text);
    s
}

fn push_escaped(out: &mut String, text: impl Display) {
    struct Esc<'a>(&'a mut String);
    impl Write for Esc<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                match c {
                    '&' => self.0.push_str("&amp;"),
                    '<' => self.0.push_str("&lt;"),
                    '>' => self.0.push_str("&gt;"),
                    '"' => self.0.push_str("&quot;"),
                    '\'' => self.0.push_str("&#39;"),
                    '\t' | '\n' | '\r' => self.0.push(c),
                    c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                        self.0.push('\u{FFFD}')
                    }
                    c => self.0.push(c),
                }
            }
            Ok(())
        }
    }
    let _ = write!(Esc(out), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nests() {
        let mut svg = Svg::new(100.0, 50.0, "a <plot> & \"more\"");
        svg.tag("g").attr("class", "x'y").open();
        svg.tag("circle").num("cx", f64::NAN).num("cy", -0.04).num("r", 2.25).titled("#1 <b>");
        svg.tag("text").text("x\u{1}y");
        let s = svg.finish();
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 50\""));
        assert!(s.contains("aria-label=\"a &lt;plot&gt; &amp; &quot;more&quot;\""));
        assert!(s.contains("<g class=\"x&#39;y\">"));
        assert!(
            s.contains("<circle cx=\"0\" cy=\"0\" r=\"2.3\"><title>#1 &lt;b&gt;</title></circle>")
        );
        assert!(s.contains("<text>x\u{FFFD}y</text>"));
        assert!(s.ends_with("</g></svg>"));
    }
}
