//! Secrets at rest: AES-256-GCM under `SECRETS_KEY`.
//!
//! A sealed value is `0x01 || key id (8 bytes) || nonce (12 bytes) || ciphertext || tag (16
//! bytes)`; values written before key ids existed are `nonce || ciphertext || tag`, and still
//! open. The associated data binds a value to its webhook and column, so a sealed value
//! copied into another row or column does not decrypt. A [`Keyring`] holds the current key,
//! which seals, and during a rotation the previous one, which still opens.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
/// The first byte of a value sealed with its key's id.
const KEYED_FORMAT: u8 = 1;
const KEY_ID_LEN: usize = 8;

/// The key that encrypts auth header values and signing secrets in the database.
#[derive(Clone)]
pub struct SecretsKey {
    cipher: Aes256Gcm,
    /// The key itself, from which keys for other purposes are derived.
    raw: [u8; 32],
    /// Names the key without revealing it: 16 hex digits of a hash of it.
    id: String,
    id_bytes: [u8; KEY_ID_LEN],
}

/// `SECRETS_KEY` is not base64 of 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "SECRETS_KEY must be the base64 encoding of 32 random bytes (e.g. `openssl rand -base64 32`)"
)]
pub struct InvalidSecretsKey;

/// A value too large to seal (AES-GCM takes at most about 64 GiB; Herald's values are a few
/// kilobytes at most, so this is a bug upstream, reported rather than stored as nothing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a value of {0} bytes cannot be sealed")]
pub struct SealError(pub usize);

/// A sealed value that does not open with this key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the value does not decrypt with this key")]
pub struct OpenError;

impl SecretsKey {
    /// Parses the base64 form of a 32-byte key.
    pub fn from_base64(encoded: &str) -> Result<Self, InvalidSecretsKey> {
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| InvalidSecretsKey)?;
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice()).map_err(|_| InvalidSecretsKey)?;
        let digest = Sha256::new()
            .chain_update(b"herald secrets key id\0")
            .chain_update(&bytes)
            .finalize();
        let mut id_bytes = [0u8; KEY_ID_LEN];
        id_bytes.copy_from_slice(&digest[..KEY_ID_LEN]);
        let id = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&bytes);
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
            raw,
            id,
            id_bytes,
        })
    }

    /// A key for `purpose`, derived from this one (HMAC-SHA256 of the purpose): what it opens
    /// reveals nothing of the secrets key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.raw)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key's id, safe to store and print.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A new random key in its base64 form, for `herald up` and operators.
    pub fn generate_base64() -> String {
        BASE64.encode(rand::random::<[u8; 32]>())
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. `WEBH-…/signing_secret`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce_bytes = rand::random::<[u8; NONCE_LEN]>();
        let nonce = Nonce::from(nonce_bytes);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|_| SealError(plaintext.len()))?;
        let mut sealed = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + ciphertext.len());
        sealed.push(KEYED_FORMAT);
        sealed.extend_from_slice(&self.id_bytes);
        sealed.extend_from_slice(&nonce_bytes);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Whether `sealed` names this key as the one that sealed it.
    pub fn sealed_it(&self, sealed: &[u8]) -> bool {
        sealed.len() > 1 + KEY_ID_LEN
            && sealed[0] == KEYED_FORMAT
            && sealed[1..=KEY_ID_LEN] == self.id_bytes
    }

    /// Decrypts a value sealed for `context`, in either format.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if self.sealed_it(sealed) {
            return self.open_unkeyed(context, &sealed[1 + KEY_ID_LEN..]);
        }
        self.open_unkeyed(context, sealed)
    }

    /// Decrypts `nonce || ciphertext || tag`.
    fn open_unkeyed(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| OpenError)?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        self.cipher.decrypt(&nonce, payload).map_err(|_| OpenError)
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretsKey({}, ****)", self.id)
    }
}

/// The keys a process holds: the current one seals; during a rotation the previous one
/// (`SECRETS_KEY_PREVIOUS`) still opens what it sealed.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: SecretsKey,
    previous: Option<SecretsKey>,
}

impl Keyring {
    pub fn new(current: SecretsKey, previous: Option<SecretsKey>) -> Self {
        Self { current, previous }
    }

    /// The key that seals.
    pub fn current(&self) -> &SecretsKey {
        &self.current
    }

    /// Every key held, the current one first.
    pub fn keys(&self) -> impl Iterator<Item = &SecretsKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }

    /// Seals with the current key.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.current.seal(context, plaintext)
    }

    /// Opens a value sealed by any key held: the one it names, or — for a value written before
    /// key ids existed — whichever opens it.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if let Some(key) = self.keys().find(|key| key.sealed_it(sealed)) {
            return key.open(context, sealed);
        }
        self.keys()
            .find_map(|key| key.open_unkeyed(context, sealed).ok())
            .ok_or(OpenError)
    }

    /// Whether `sealed` is not yet sealed with the current key (a rotation has it to do).
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        !self.current.sealed_it(sealed)
    }
}

impl From<SecretsKey> for Keyring {
    fn from(current: SecretsKey) -> Self {
        Self::new(current, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretsKey {
        SecretsKey::from_base64(&SecretsKey::generate_base64()).expect("valid key")
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_context() {
        let key = key();
        let sealed = key.seal("WEBH-1/auth", b"Bearer abc").expect("sealed");
        assert!(!sealed.windows(10).any(|w| w == b"Bearer abc"));
        assert_eq!(key.open("WEBH-1/auth", &sealed), Ok(b"Bearer abc".to_vec()));
    }

    #[test]
    fn sealed_values_do_not_open_in_another_context_or_with_another_key() {
        let key = key();
        let sealed = key.seal("WEBH-1/auth", b"Bearer abc").expect("sealed");
        assert_eq!(key.open("WEBH-2/auth", &sealed), Err(OpenError));
        assert_eq!(self::key().open("WEBH-1/auth", &sealed), Err(OpenError));
        assert_eq!(key.open("WEBH-1/auth", &sealed[..5]), Err(OpenError));
    }

    #[test]
    fn a_key_id_names_the_key_without_revealing_it() {
        let text = SecretsKey::generate_base64();
        let (a, b) = (
            SecretsKey::from_base64(&text).expect("key"),
            SecretsKey::from_base64(&text).expect("key"),
        );
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id().len(), 16);
        assert_ne!(a.id(), key().id());
        assert!(!text.contains(a.id()));
    }

    #[test]
    fn a_keyring_opens_what_its_previous_key_sealed_and_seals_with_the_current_one() {
        let (old, new) = (key(), key());
        let sealed_old = old.seal("WEBH-1/auth", b"v").expect("sealed");
        let ring = Keyring::new(new.clone(), Some(old.clone()));
        assert_eq!(ring.open("WEBH-1/auth", &sealed_old), Ok(b"v".to_vec()));
        assert!(ring.needs_reseal(&sealed_old));
        let sealed_new = ring.seal("WEBH-1/auth", b"v").expect("sealed");
        assert!(new.sealed_it(&sealed_new) && !ring.needs_reseal(&sealed_new));
        assert_eq!(
            Keyring::from(new).open("WEBH-1/auth", &sealed_old),
            Err(OpenError)
        );
    }

    #[test]
    fn values_sealed_before_key_ids_still_open() {
        let key = key();
        let keyed = key.seal("WEBH-1/auth", b"legacy").expect("sealed");
        let legacy = &keyed[1 + KEY_ID_LEN..];
        assert_eq!(key.open("WEBH-1/auth", legacy), Ok(b"legacy".to_vec()));
        let ring = Keyring::new(self::key(), Some(key));
        assert_eq!(ring.open("WEBH-1/auth", legacy), Ok(b"legacy".to_vec()));
        assert!(ring.needs_reseal(legacy));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(SecretsKey::from_base64("c2hvcnQ=").is_err());
        assert!(SecretsKey::from_base64("not base64!").is_err());
    }
}
