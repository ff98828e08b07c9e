//! One way every milestone reads its settings, with one precedence rule and one error shape:
//!
//! 1. the documented defaults (`T::default()`),
//! 2. a TOML file: the one given (`--config`), else `<app>.toml` in the working directory if it
//!    exists,
//! 3. environment variables `<PREFIX>_<FIELD>`, with `__` between nested fields
//!    (`CHATBOT_MEMORY__CONTEXT_TOKENS`), plus a few named aliases kept for compatibility;
//!    empty values are ignored,
//! 4. command-line flags, which the binary applies to the loaded value.
//!
//! Unknown keys are errors when the settings type says `#[serde(deny_unknown_fields)]` (all the
//! milestones' do): a typo in a file or a variable is reported, not ignored.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a milestone's settings come from.
#[derive(Debug, Clone, Copy)]
pub struct Layers<'a> {
    /// The file read when none is given and it exists, e.g. `doc-qa.toml`.
    pub default_file: &'a str,
    /// Environment prefix without the trailing underscore, e.g. `DOC_QA`.
    pub env_prefix: &'a str,
    /// Variables outside the prefix scheme, and the setting each sets (dotted for nesting), e.g.
    /// `("EMBED_MODEL_DIR", "model_dir")`. A prefixed variable wins over an alias.
    pub aliases: &'a [(&'a str, &'a str)],
    /// Prefixed variables that are not settings (read by flags or tests, e.g. `DOC_QA_ADDR`),
    /// so they are not reported as unknown keys.
    pub ignore: &'a [&'a str],
}

/// A setting that could not be read: which layer, and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    MissingFile { path: PathBuf },
    /// The message names the key and where its value came from (the file or the variable).
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

impl Layers<'_> {
    /// Loads from the process environment.
    pub fn load<T: Serialize + DeserializeOwned + Default>(&self, file: Option<&Path>) -> Result<T, ConfigError> {
        self.load_with_env(file, std::env::vars())
    }

    /// Loads with `env` standing in for the process environment (tests pass their own).
    pub fn load_with_env<T: Serialize + DeserializeOwned + Default>(
        &self,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<T, ConfigError> {
        let default_file = Path::new(self.default_file);
        let file = match file {
            Some(p) if !p.is_file() => return Err(ConfigError::MissingFile { path: p.to_owned() }),
            Some(p) => Some(p),
            None => default_file.is_file().then_some(default_file),
        };
        let env: HashMap<String, String> = env.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let prefix = format!("{}_", self.env_prefix);
        let mut prefixed: HashMap<String, String> =
            env.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        for var in self.ignore {
            prefixed.remove(*var);
        }
        // An alias stands for its prefixed name, unless that name is set itself.
        for (var, key) in self.aliases {
            prefixed.remove(*var);
            if let Some(v) = env.get(*var) {
                prefixed
                    .entry(format!("{prefix}{}", key.replace('.', "__").to_uppercase()))
                    .or_insert_with(|| v.clone());
            }
        }

        let mut builder = config::Config::builder().add_source(config::Config::try_from(&T::default())?);
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(self.env_prefix)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(prefixed.into_iter().collect())),
        );
        Ok(builder.build()?.try_deserialize()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        data_dir: PathBuf,
        top_k: usize,
        threshold: Option<f64>,
        key: String,
        mode: Mode,
        memory: Memory,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Memory {
        context_tokens: u64,
    }

    impl Default for Memory {
        fn default() -> Self {
            Self { context_tokens: 8_192 }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Careful,
    }

    impl Default for Settings {
        fn default() -> Self {
            Self {
                data_dir: "data/x".into(),
                top_k: 5,
                threshold: None,
                key: "dev".into(),
                mode: Mode::Fast,
                memory: Memory::default(),
            }
        }
    }

    const LAYERS: Layers<'static> = Layers {
        default_file: "no-such-default.toml",
        env_prefix: "APP",
        aliases: &[("LEGACY_TOKENS", "memory.context_tokens"), ("APP_TOKENS", "memory.context_tokens")],
        ignore: &["APP_ADDR"],
    };

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let s: Settings = LAYERS.load_with_env(None, env(&[])).unwrap();
        assert_eq!(s, Settings::default());
        let f = file("top_k = 3\nmode = \"careful\"\n[memory]\ncontext_tokens = 2048\n");
        let s: Settings = LAYERS.load_with_env(Some(f.path()), env(&[])).unwrap();
        assert_eq!((s.top_k, s.mode, s.memory.context_tokens, s.key.as_str()), (3, Mode::Careful, 2_048, "dev"));
        let s: Settings = LAYERS
            .load_with_env(
                Some(f.path()),
                env(&[("APP_TOP_K", "7"), ("APP_THRESHOLD", "0.5"), ("APP_MEMORY__CONTEXT_TOKENS", "4096")]),
            )
            .unwrap();
        assert_eq!(
            (s.top_k, s.threshold, s.memory.context_tokens),
            (7, Some(0.5), 4_096),
            "environment wins over the file"
        );
    }

    #[test]
    fn a_numeric_value_for_a_string_setting_stays_a_string_and_empty_values_are_ignored() {
        let s: Settings = LAYERS.load_with_env(None, env(&[("APP_KEY", "123456"), ("APP_DATA_DIR", "")])).unwrap();
        assert_eq!((s.key.as_str(), s.data_dir), ("123456", PathBuf::from("data/x")));
    }

    #[test]
    fn aliases_apply_and_prefixed_variables_win_over_them() {
        let s: Settings = LAYERS.load_with_env(None, env(&[("LEGACY_TOKENS", "1024")])).unwrap();
        assert_eq!(s.memory.context_tokens, 1_024);
        // An alias inside the prefix, and an ignored prefixed variable, are not unknown keys.
        let s: Settings =
            LAYERS.load_with_env(None, env(&[("APP_TOKENS", "2000"), ("APP_ADDR", "0.0.0.0:1")])).unwrap();
        assert_eq!(s.memory.context_tokens, 2_000);
        let s: Settings = LAYERS
            .load_with_env(None, env(&[("LEGACY_TOKENS", "1024"), ("APP_MEMORY__CONTEXT_TOKENS", "512")]))
            .unwrap();
        assert_eq!(s.memory.context_tokens, 512);
    }

    #[test]
    fn mistakes_are_errors_that_name_the_key() {
        let bad = |e: ConfigError| e.to_string();
        let e = bad(LAYERS.load_with_env::<Settings>(None, env(&[("APP_TOP_K", "many")])).unwrap_err());
        assert!(e.contains("top_k"), "{e}");
        let e = bad(LAYERS.load_with_env::<Settings>(None, env(&[("APP_MODE", "reckless")])).unwrap_err());
        assert!(e.contains("reckless") || e.contains("mode"), "{e}");
        let f = file("tpo_k = 3\n");
        let e = bad(LAYERS.load_with_env::<Settings>(Some(f.path()), env(&[])).unwrap_err());
        assert!(e.contains("tpo_k"), "a typo in the file is reported: {e}");
        let e = bad(LAYERS.load_with_env::<Settings>(Some(Path::new("/nonexistent/x.toml")), env(&[])).unwrap_err());
        assert!(e.contains("does not exist"), "{e}");
    }
}
