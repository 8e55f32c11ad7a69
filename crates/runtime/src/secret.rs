//! Settings that hold secrets: never printed, and readable from a file.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;

/// A secret setting (a token, a key, a URL with a password). `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self(value.to_owned()))
    }
}

/// The value of setting `name`, given directly or as the path of a file holding it (the
/// `<NAME>_FILE` convention of container secrets); surrounding whitespace is trimmed.
pub fn value_or_file(
    name: &str,
    value: Option<&Secret>,
    file: Option<&Path>,
) -> anyhow::Result<Option<Secret>> {
    match (value, file) {
        (Some(_), Some(_)) => anyhow::bail!("set {name} or {name}_FILE, not both"),
        (Some(value), None) => Ok(Some(Secret::new(value.expose().trim()))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {name}_FILE {}", path.display()))?;
            Ok(Some(Secret::new(text.trim())))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("s3cret");
        assert_eq!(format!("{secret:?}"), "Secret(****)");
        assert_eq!(secret.expose(), "s3cret");
    }

    #[test]
    fn a_secret_is_read_from_its_file_or_given_directly_but_not_both() {
        let path = std::env::temp_dir().join(format!("herald-secret-{}", std::process::id()));
        std::fs::write(&path, "  from-file\n").expect("write");
        let from_file = value_or_file("X", None, Some(&path)).expect("read");
        assert_eq!(
            from_file.map(|s| s.expose().to_owned()).as_deref(),
            Some("from-file")
        );
        let direct = value_or_file("X", Some(&Secret::new(" direct ")), None).expect("direct");
        assert_eq!(
            direct.map(|s| s.expose().to_owned()).as_deref(),
            Some("direct")
        );
        assert!(value_or_file("X", Some(&Secret::new("a")), Some(&path)).is_err());
        assert!(value_or_file("X", None, Some(Path::new("/nonexistent/herald"))).is_err());
        let _ = std::fs::remove_file(path);
    }
}
