//! Parser for the header of a `.npy` file: a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` followed by space padding and
//! a newline.
//!
//! NumPy (`numpy.lib.format.read_array_header`) evaluates the header with `ast.literal_eval`,
//! then requires a dict whose keys are exactly `descr`, `fortran_order` and `shape`, `shape` a
//! tuple of ints and `fortran_order` a bool. This module parses the subset of Python literals
//! such a header can hold, by recursive descent, and applies the same checks. Accepted:
//!
//! * strings in single or double quotes, with the escapes `\\ \' \" \n \r \t`;
//! * `True`, `False`, `None`;
//! * non-negative decimal integers, with Python's rule on leading zeros (`0` and `00` but not
//!   `07`); in format versions 1 and 2 an `L` suffix as Python 2 wrote it (`(2L, 3L)`), which
//!   NumPy also accepts there (`_filter_header`);
//! * tuples `()`, `(3,)`, `(2, 3)`, `(2, 3,)`, lists `[...]` and dicts with string keys, each
//!   with an optional trailing comma. `(x)` is `x` in parentheses, so `(3)` is the integer 3
//!   and is refused as a shape, as NumPy refuses it. `(,)` and `(,,2,,)` are syntax errors;
//! * whitespace (space, tab, newline, carriage return, form feed) between tokens, before the
//!   dict and after it (the padding).
//!
//! Anything else is refused with the byte offset: NUL bytes, names other than the three
//! literals, comments, floats, signs, integers in hex or with underscores, string prefixes
//! (`b''`, `u''`), implicit string concatenation, other escapes. NumPy accepts a few of these
//! (`0x2` or `True` as a shape entry, comments), but `numpy.save` never writes them.
//!
//! A key written twice is refused, naming the key. Python's dict literal keeps the last value,
//! and so does NumPy; refusing makes an edited or hostile header visible instead of picking
//! one of two values silently. Keys other than the three, or a missing key, are refused as
//! NumPy refuses them.
//!
//! Nesting is limited to [`MAX_DEPTH`] levels, each byte is looked at a bounded number of
//! times (linear time) and no input makes the parser panic.

use std::collections::HashSet;

/// Deepest nesting of brackets accepted (a valid header nests two levels).
pub const MAX_DEPTH: usize = 32;

/// The three fields of a `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The dtype string, such as `<f4` (raw bytes; show with [`shown`]).
    pub descr: Vec<u8>,
    /// Whether the data are in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<usize>,
}

/// A parsed Python literal.
#[derive(Debug)]
enum Value {
    Str(Vec<u8>),
    /// `None`: the integer does not fit in `usize`.
    Int(Option<usize>),
    Bool(bool),
    PyNone,
    Tuple(Vec<Value>),
    /// A list (its items are checked, not kept: no header field is a list of values).
    List,
    Dict(Vec<(Vec<u8>, Value)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Bool(true) => "True",
            Value::Bool(false) => "False",
            Value::PyNone => "None",
            Value::Tuple(_) => "a tuple",
            Value::List => "a list",
            Value::Dict(_) => "a dict",
        }
    }
}

const KEYS: [&[u8]; 3] = [b"descr", b"fortran_order", b"shape"];

/// Parses a header (the bytes between the length field and the data). `long_ints` accepts the
/// Python 2 `L` suffix on integers (format versions 1 and 2). Errors are one line: what is
/// wrong and the header as read.
pub fn parse(text: &[u8], long_ints: bool) -> Result<Header, String> {
    let malformed = |what: String| format!("malformed .npy header ({what}): {}", shown(text));
    let mut p = Parser {
        s: text,
        pos: 0,
        long_ints,
    };
    let value = p
        .value(0)
        .and_then(|v| {
            p.skip_ws();
            match p.peek() {
                None => Ok(v),
                Some(c) => p.fail(format!("{} after the header's value", byte_name(c))),
            }
        })
        .map_err(malformed)?;
    let Value::Dict(entries) = value else {
        return Err(malformed(format!(
            "the header is {}, not a dict",
            value.kind()
        )));
    };
    if let Some((k, _)) = entries.iter().find(|(k, _)| !KEYS.contains(&k.as_slice())) {
        return Err(malformed(format!(
            "unexpected key '{}': NumPy refuses headers whose keys are not exactly 'descr', 'fortran_order' and 'shape'",
            shown(k)
        )));
    }
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v)
            .ok_or_else(|| malformed(format!("no '{key}' key")))
    };
    let descr = match get("descr")? {
        Value::Str(s) => s.clone(),
        Value::List | Value::Dict(_) => {
            return Err(
                "structured dtype (a list or dict descr) is not supported: save a plain float32 or float64 array"
                    .to_string(),
            )
        }
        v => return Err(malformed(format!("'descr' is {}, not a string", v.kind()))),
    };
    let fortran_order = match get("fortran_order")? {
        Value::Bool(b) => *b,
        v => {
            return Err(malformed(format!(
                "'fortran_order' is {}, neither True nor False",
                v.kind()
            )))
        }
    };
    let shape = match get("shape")? {
        Value::Tuple(items) => items
            .iter()
            .map(|v| match v {
                Value::Int(Some(n)) => Ok(*n),
                Value::Int(None) => Err(malformed("a 'shape' entry is too large".to_string())),
                v => Err(malformed(format!(
                    "a 'shape' entry is {}, not a non-negative integer",
                    v.kind()
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Int(_) => return Err(malformed(
            "'shape' is an integer, not a tuple: a 1-D shape is written (3,) and NumPy refuses (3)"
                .to_string(),
        )),
        v => {
            return Err(malformed(format!(
                "'shape' is {}, not a tuple of integers",
                v.kind()
            )))
        }
    };
    Ok(Header {
        descr,
        fortran_order,
        shape,
    })
}

/// Bytes shown in a one-line message: printable ASCII as is, anything else escaped (`\n`,
/// `\x00`), trailing whitespace dropped, cut after 200 bytes.
pub fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let end = bytes
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let mut out = String::new();
    for &c in &bytes[..end.min(MAX)] {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    if end > MAX {
        out.push_str("...");
    }
    out
}

fn byte_name(c: u8) -> String {
    match c {
        0 => "NUL byte".to_string(),
        0x21..=0x7e => format!("'{}'", char::from(c)),
        _ => format!("byte 0x{c:02x}"),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    long_ints: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0c)) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, what: impl std::fmt::Display) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn expected<T>(&self, what: impl std::fmt::Display) -> Result<T, String> {
        let found = self.peek().map_or_else(|| "the end".to_string(), byte_name);
        self.fail(format!("expected {what}, found {found}"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth >= MAX_DEPTH {
            return self.fail(format!("nested more than {MAX_DEPTH} levels deep"));
        }
        self.skip_ws();
        match self.peek() {
            None => self.fail("unexpected end"),
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'0'..=b'9') => self.int(),
            Some(b'(') => {
                self.pos += 1;
                self.skip_ws();
                if self.eat(b')') {
                    return Ok(Value::Tuple(Vec::new()));
                }
                let first = self.value(depth + 1)?;
                self.skip_ws();
                if self.eat(b')') {
                    return Ok(first); // (x) is x, not a tuple
                }
                if !self.eat(b',') {
                    return self.expected("',' or ')'");
                }
                self.items(b')', vec![first], depth).map(Value::Tuple)
            }
            Some(b'[') => {
                self.pos += 1;
                self.items(b']', Vec::new(), depth).map(|_| Value::List)
            }
            Some(b'{') => {
                self.pos += 1;
                self.dict(depth)
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.name(),
            Some(c) => self.fail(format!("unexpected {}", byte_name(c))),
        }
    }

    /// The rest of a tuple or list after its opening bracket (or first `x,`): values separated
    /// by commas, an optional trailing comma, then `close`.
    fn items(
        &mut self,
        close: u8,
        mut items: Vec<Value>,
        depth: usize,
    ) -> Result<Vec<Value>, String> {
        loop {
            self.skip_ws();
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat(close) {
                return Ok(items);
            }
            if !self.eat(b',') {
                return self.expected(format!("',' or '{}'", char::from(close)));
            }
        }
    }

    /// The rest of a dict after `{`.
    fn dict(&mut self, depth: usize) -> Result<Value, String> {
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        loop {
            self.skip_ws();
            if self.eat(b'}') {
                return Ok(Value::Dict(entries));
            }
            let at = self.pos;
            if !matches!(self.peek(), Some(b'\'' | b'"')) {
                return self.expected("a string key or '}'");
            }
            let key = self.string()?;
            if !seen.insert(key.clone()) {
                return Err(format!(
                    "key '{}' written twice at byte {at}: Python and NumPy would keep the last value; write it once",
                    shown(&key)
                ));
            }
            self.skip_ws();
            if !self.eat(b':') {
                return self.expected("':'");
            }
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.skip_ws();
            if self.eat(b'}') {
                return Ok(Value::Dict(entries));
            }
            if !self.eat(b',') {
                return self.expected("',' or '}'");
            }
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        let quote = self.s[self.pos];
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.fail("unterminated string");
            };
            match c {
                _ if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let e = match self.s.get(self.pos + 1) {
                        Some(&e @ (b'\\' | b'\'' | b'"')) => e,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        None => return self.fail("unterminated string"),
                        Some(&e) => {
                            return self.fail(format!(
                                "unsupported escape '\\{}' in a string",
                                shown(&[e])
                            ))
                        }
                    };
                    out.push(e);
                    self.pos += 2;
                }
                b'\n' | b'\r' => return self.fail("line break inside a string"),
                0 => return self.fail("a NUL byte inside a string"),
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn int(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let mut n = Some(0usize);
        while let Some(c @ b'0'..=b'9') = self.peek() {
            n = n
                .and_then(|n| n.checked_mul(10))
                .and_then(|n| n.checked_add(usize::from(c - b'0')));
            self.pos += 1;
        }
        let digits = &self.s[start..self.pos];
        if digits[0] == b'0' && digits.iter().any(|&c| c != b'0') {
            return self.fail("an integer with a leading zero (Python refuses it)");
        }
        if self.long_ints && self.peek() == Some(b'L') {
            self.pos += 1;
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
            return self.fail("malformed number (only decimal integers are read)");
        }
        Ok(Value::Int(n))
    }

    fn name(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        match &self.s[start..self.pos] {
            b"True" => Ok(Value::Bool(true)),
            b"False" => Ok(Value::Bool(false)),
            b"None" => Ok(Value::PyNone),
            other => {
                self.pos = start;
                self.fail(format!(
                    "unexpected name '{}' (the literals are True, False and None)",
                    shown(other)
                ))
            }
        }
    }
}
