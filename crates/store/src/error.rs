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
    /// The configuration cannot work however long we wait: an invalid `DATABASE_URL` or pool
    /// setting, a role the server refuses, a TLS setting the server cannot meet.
    #[error("the database configuration is unusable: {0}")]
    Config(String),
    /// A migration failed: the schema is not what this version needs.
    #[error("a database migration failed: {0}")]
    Migration(String),
    /// `SECRETS_KEY` does not open the secrets already stored.
    #[error("{0}")]
    WrongKey(String),
    /// A stored row does not hold what the code expects.
    #[error("webhook {webhook_id} holds an invalid {field}")]
    Corrupt {
        webhook_id: String,
        field: &'static str,
    },
    /// A secret could not be sealed.
    #[error(transparent)]
    Seal(#[from] crate::secrets::SealError),
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
        match error.code().map(|code| code.code()) {
            // Class 08 (connection exception), 57P0x (shutdown, cannot connect now).
            // Class 40 (a deadlock or serialization failure): the statement can simply be
            // run again.
            Some(code)
                if code.starts_with("08") || code.starts_with("57P") || code.starts_with("40") =>
            {
                StoreError::Unavailable(describe(&error))
            }
            // Class 28: the server refuses this role or password; waiting will not change it.
            Some(code) if code.starts_with("28") => StoreError::Config(describe(&error)),
            Some(_) => StoreError::Query(error),
            // No SQLSTATE: a lost connection or an I/O error is an outage; anything else
            // (invalid configuration, authentication the client cannot do, a server
            // certificate TLS refuses) is not.
            None if error.is_closed()
                || io_source(&error)
                    .is_some_and(|kind| kind != std::io::ErrorKind::InvalidData) =>
            {
                StoreError::Unavailable(describe(&error))
            }
            None => StoreError::Config(describe(&error)),
        }
    }
}

/// The kind of the first I/O error among the causes of `error`. A TLS handshake that refuses
/// the server's certificate is one of kind `InvalidData`.
fn io_source(error: &tokio_postgres::Error) -> Option<std::io::ErrorKind> {
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = current.source();
    }
    None
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            // A timeout waiting for or creating a connection is an outage; the rest (a closed
            // pool, no runtime) is a fault of the setup.
            PoolError::Timeout(_) => StoreError::Unavailable(error.to_string()),
            other => StoreError::Config(other.to_string()),
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
