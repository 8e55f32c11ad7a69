//! The connection pool and migrations.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::StoreError;
use crate::tls::split_url;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Serialises migrations of services that start at the same moment.
const MIGRATION_LOCK_KEY: i64 = 0x4845_5241_4c44; // "HERALD"

/// How long to wait for a connection before calling the database unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database is.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// A `postgres://` URL.
    pub url: String,
    /// The most connections this process opens.
    pub pool_size: usize,
}

/// A pool of connections to Herald's database.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
}

impl Database {
    /// Builds the pool. No connection is made until one is needed.
    pub fn new(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let (url, tls) = split_url(&config.url)?;
        let mut pg_config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Config(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))
        })?;
        pg_config.ssl_mode(tls.wire_mode());
        let connector = tls.connector()?;
        if config.pool_size == 0 {
            return Err(StoreError::Config(
                "DATABASE_POOL_SIZE must be at least 1".into(),
            ));
        }
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("herald");
        }
        let manager = Manager::from_config(
            pg_config.clone(),
            connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the connection pool: {e}")))?;
        Ok(Self {
            pool,
            config: pg_config,
            tls: connector,
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The connection settings, for connections that live outside the pool (`LISTEN`).
    pub fn pg_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The TLS connector of this database's connections.
    pub fn tls(&self) -> &MakeRustlsConnect {
        &self.tls
    }

    /// Creates the database when it does not exist (and the role may), then applies every
    /// pending migration.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        self.create_if_missing().await?;
        self.migrate().await
    }

    /// Applies every pending migration, holding an advisory lock so that only one process
    /// migrates at a time.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let (mut client, connection) = self.config.connect(self.tls.clone()).await?;
        let driver = tokio::spawn(connection);
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        let report = embedded::migrations::runner().run_async(&mut client).await;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
            .await?;
        drop(client);
        driver.abort();
        let report = report.map_err(|e| StoreError::Migration(e.to_string()))?;
        for migration in report.applied_migrations() {
            tracing::info!(migration = %migration, "applied database migration");
        }
        Ok(())
    }

    /// Checks that a pooled connection answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn create_if_missing(&self) -> Result<(), StoreError> {
        let error = match self.config.connect(self.tls.clone()).await {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        if error.code() != Some(&SqlState::INVALID_CATALOG_NAME) {
            return Err(error.into());
        }
        let Some(name) = self.config.get_dbname() else {
            return Err(error.into());
        };
        let mut maintenance = self.config.clone();
        maintenance.dbname("postgres");
        let (client, connection) = maintenance.connect(self.tls.clone()).await?;
        let driver = tokio::spawn(connection);
        let created = client
            .batch_execute(&format!(
                "CREATE DATABASE \"{}\"",
                name.replace('"', "\"\"")
            ))
            .await;
        driver.abort();
        match created {
            Ok(()) => {
                tracing::info!(database = name, "created the database");
                Ok(())
            }
            // Another process created it meanwhile (a concurrent CREATE DATABASE may also
            // report the catalog's unique index).
            Err(e)
                if e.code() == Some(&SqlState::DUPLICATE_DATABASE)
                    || e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
