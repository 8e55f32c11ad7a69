//! What can go wrong in the store, sorted by what the caller does about it.

use deadpool_postgres::PoolError;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; the operation may succeed later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The tenant already has a webhook of that name.
    #[error("a webhook named `{0}` already exists in this tenant")]
    NameTaken(String),
    /// A stored secret does not decrypt with this `SECRETS_KEY`.
    #[error("a stored secret of webhook {webhook_id} cannot be decrypted with this SECRETS_KEY")]
    Undecryptable { webhook_id: String },
    /// A stored row does not hold what the code expects.
    #[error("webhook {webhook_id} holds an invalid {field}")]
    Corrupt {
        webhook_id: String,
        field: &'static str,
    },
    /// Any other database error.
    #[error("database query failed: {}", describe(.0))]
    Query(tokio_postgres::Error),
}

impl StoreError {
    /// Whether waiting and trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let connection_lost = error.is_closed()
            || match error.code() {
                // Class 08 (connection exception), 57P0x (shutdown, cannot connect now).
                Some(code) => {
                    let code = code.code();
                    code.starts_with("08") || code.starts_with("57P")
                }
                // No SQLSTATE: an I/O error talking to the server.
                None => true,
            };
        if connection_lost {
            StoreError::Unavailable(describe(&error))
        } else {
            StoreError::Query(error)
        }
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// The server's message when there is one: `tokio_postgres::Error` alone prints "db error".
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}
