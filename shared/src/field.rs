//! Field-level validation shared by every value read from outside: the error that names a
//! field by its path, and the rule for free text.

use serde::Serialize;

/// One problem with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One field as a document gives it: absent (or null), text, or something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawField<'a> {
    Absent,
    Text(&'a str),
    NotText,
}

impl<'a> From<Option<&'a str>> for RawField<'a> {
    fn from(text: Option<&'a str>) -> Self {
        text.map_or(RawField::Absent, RawField::Text)
    }
}

impl RawField<'_> {
    /// The field's text, trimmed and checked by [`text`]; `None` (with its error recorded)
    /// when it is not text.
    pub fn text(self, path: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
        match self {
            RawField::Absent => None,
            RawField::NotText => {
                errors.push(FieldError::new(path, "must be a string"));
                None
            }
            RawField::Text(s) => text(s, path, max).map_err(|e| errors.push(e)).ok(),
        }
    }

    /// The field's text (as [`RawField::text`]) read by `parse`, whose error is recorded at `path`.
    pub fn parsed<T>(
        self,
        path: &str,
        max: usize,
        parse: impl Fn(&str) -> Result<T, String>,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        let s = self.text(path, max, errors)?;
        parse(&s)
            .map_err(|m| errors.push(FieldError::new(path, m)))
            .ok()
    }

    /// Like [`RawField::text`], recording "is required" when the field is absent.
    pub fn required_text(
        self,
        path: &str,
        max: usize,
        errors: &mut Vec<FieldError>,
    ) -> Option<String> {
        if self == RawField::Absent {
            errors.push(FieldError::new(path, "is required"));
        }
        self.text(path, max, errors)
    }
}

/// Free text: trimmed, not empty, at most `max` characters, no control characters.
pub fn text(s: &str, path: &str, max: usize) -> Result<String, FieldError> {
    let s = s.trim();
    let chars = s.chars().count();
    if chars == 0 {
        Err(FieldError::new(path, "must not be empty"))
    } else if chars > max {
        Err(FieldError::new(
            path,
            format!("must be at most {max} characters"),
        ))
    } else if s.chars().any(char::is_control) {
        Err(FieldError::new(path, "must not contain control characters"))
    } else {
        Ok(s.to_owned())
    }
}
