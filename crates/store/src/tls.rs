//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` in `DATABASE_URL` say.
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | never | – |
//! | `prefer` (the default) | when the server offers it | no |
//! | `require` | always | no — unless `sslrootcert` is given, then as `verify-ca` |
//! | `verify-ca` | always | signed by a root of `sslrootcert` (else the system's roots) |
//! | `verify-full` | always | as `verify-ca`, and issued for the host connected to |
//!
//! tokio-postgres itself knows only the first three modes: the URL's `sslmode` and
//! `sslrootcert` are taken off it here and turned into a rustls configuration.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::StoreError;

/// How much TLS the connection to PostgreSQL must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// `DATABASE_URL`'s TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// PEM file of the roots the server's certificate must chain to.
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` off a `postgres://` URL; returns the URL tokio-postgres
/// is given and the TLS settings. Other forms of `DATABASE_URL` pass unchanged.
pub fn split_url(url: &str) -> Result<(String, TlsSettings), StoreError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok((url.to_owned(), TlsSettings::default()));
    }
    let mut parsed = url::Url::parse(url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL is not a valid URL: {e}")))?;
    let mut settings = TlsSettings::default();
    let mut kept = Vec::new();
    for (name, value) in parsed.query_pairs() {
        match name.as_ref() {
            "sslmode" => {
                settings.mode = match value.as_ref() {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(StoreError::Config(format!(
                            "DATABASE_URL has sslmode `{other}`: use disable, prefer, require, verify-ca or verify-full"
                        )));
                    }
                }
            }
            "sslrootcert" => settings.root_cert = Some(PathBuf::from(value.as_ref())),
            _ => kept.push((name.into_owned(), value.into_owned())),
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.to_string(), settings))
}

impl TlsSettings {
    /// What tokio-postgres is told: whether to ask for TLS, and whether to insist.
    pub fn wire_mode(&self) -> WireMode {
        match self.mode {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            _ => WireMode::Require,
        }
    }

    /// The connector doing what the mode says.
    pub fn connector(&self) -> Result<MakeRustlsConnect, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Config(format!("TLS setup failed: {e}")))?;
        let checked = self.root_cert.is_some()
            || matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let config = if !checked {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            let roots = Arc::new(self.roots()?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| StoreError::Config(format!("TLS setup failed: {e}")))?;
            match self.mode {
                SslMode::VerifyFull => builder.with_webpki_verifier(webpki).with_no_client_auth(),
                _ => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
                    .with_no_client_auth(),
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, StoreError> {
        let mut roots = RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let certificates = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        StoreError::Config(format!(
                            "cannot read sslrootcert {}: {e}",
                            path.display()
                        ))
                    })?;
                for certificate in certificates {
                    roots.add(certificate).map_err(|e| {
                        StoreError::Config(format!("sslrootcert {}: {e}", path.display()))
                    })?;
                }
            }
            None => {
                for certificate in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(certificate);
                }
            }
        }
        if roots.is_empty() {
            return Err(StoreError::Config(
                "no root certificate to check the database server against (sslrootcert)".into(),
            ));
        }
        Ok(roots)
    }
}

/// `prefer` and `require` without roots: encrypted, the certificate taken as it comes.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a root, whatever name the certificate was issued for.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_off_the_url() {
        let (url, settings) =
            split_url("postgres://u@db:5432/herald?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x")
                .expect("a valid URL");
        assert_eq!(url, "postgres://u@db:5432/herald?application_name=x");
        assert_eq!(settings.mode, SslMode::VerifyFull);
        assert_eq!(settings.root_cert, Some(PathBuf::from("/ca.pem")));
        let (url, settings) = split_url("postgres://u@db/herald").expect("a valid URL");
        assert_eq!(url, "postgres://u@db/herald");
        assert_eq!(settings, TlsSettings::default());
        assert!(split_url("postgres://u@db/herald?sslmode=sideways").is_err());
        assert_eq!(
            split_url("host=db user=u").expect("key=value form").0,
            "host=db user=u"
        );
    }

    #[test]
    fn each_mode_asks_the_wire_for_what_it_needs() {
        let mode = |mode| {
            TlsSettings {
                mode,
                root_cert: None,
            }
            .wire_mode()
        };
        assert_eq!(mode(SslMode::Disable), WireMode::Disable);
        assert_eq!(mode(SslMode::Prefer), WireMode::Prefer);
        assert_eq!(mode(SslMode::VerifyFull), WireMode::Require);
    }
}
