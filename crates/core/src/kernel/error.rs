//! The one error type of the domain. Each variant is a kind of failure a caller can act on;
//! the HTTP layer maps kinds to status codes and problem types, and nothing else.

use crate::kernel::store::DbError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The request is not well-formed (malformed JSON, a JSON type mismatch).
    #[error("{detail}")]
    Malformed {
        detail: String,
        field: Option<String>,
    },
    /// Well-formed but invalid: `field` names the culprit (`email`, `custom.tier`, `filter.all[0].op`).
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("{0} not found")]
    NotFound(String),
    /// The value is taken by another contact.
    #[error("{detail}")]
    Conflict {
        detail: String,
        field: Option<String>,
        existing_contact_id: Option<String>,
    },
    /// If-Match named a version that is no longer current.
    #[error("the contact changed since it was read (current ETag {current})")]
    StaleVersion { current: String },
    #[error("missing or unknown bearer token")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{detail}")]
    TooLarge { detail: String },
    /// A bound the caller crossed that is not about one value (e.g. a count that must match).
    #[error("{detail}")]
    Precondition { detail: String },
    #[error("storage: {0}")]
    Storage(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Error::Malformed {
            detail: detail.into(),
            field: None,
        }
    }

    /// Prefixes the field path, so nested parsers can report `custom.tier` or `filter.all[2]`.
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Error::Invalid { field, detail } => Error::Invalid {
                field: join_path(prefix, &field),
                detail,
            },
            Error::Malformed {
                detail,
                field: Some(field),
            } => Error::Malformed {
                detail,
                field: Some(join_path(prefix, &field)),
            },
            other => other,
        }
    }
}

fn join_path(prefix: &str, field: &str) -> String {
    if field.is_empty() {
        prefix.to_owned()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        Error::Storage(e.to_string())
    }
}
