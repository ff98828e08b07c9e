//! The checks every operation shares: who may call it (`platform`, `member`, `need`) and what
//! input is acceptable (ids, text, attributes), each failing with a precise error.

use crate::auth::{Member, Principal};
use crate::crypto::random_hex;
use crate::policy::{Attrs, valid_name, valid_value};
use crate::store::Role;
use crate::{Config, KbError};

/// The platform token: configured, or generated once into the data folder (mode 0600).
pub(crate) fn admin_token(c: &Config) -> Result<String, KbError> {
    if let Some(t) = &c.admin_token {
        return Ok(t.clone());
    }
    let path = c.data_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t.trim().to_owned()),
        Err(_) => {
            let t = format!("admin-{}", random_hex(24));
            std::fs::write(&path, &t).map_err(|e| KbError::Setup(format!("{}: {e}", path.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
            tracing::info!(path = %path.display(), "generated the platform admin token");
            Ok(t)
        }
    }
}

pub(crate) fn platform(p: &Principal) -> Result<(), KbError> {
    match p {
        Principal::Platform => Ok(()),
        Principal::Member(_) => Err(KbError::Forbidden("this route is for the platform operator".into())),
    }
}

pub(crate) fn member(p: &Principal) -> Result<&Member, KbError> {
    match p {
        Principal::Member(m) => Ok(m),
        Principal::Platform => {
            Err(KbError::Forbidden("the platform token manages tenants; it reads no tenant's content".into()))
        }
    }
}

pub(crate) fn need(m: &Member, role: Role) -> Result<(), KbError> {
    if m.role >= role {
        Ok(())
    } else {
        Err(KbError::Forbidden(format!(
            "this needs the {} role; this credential has {}",
            role.as_str(),
            m.role.as_str()
        )))
    }
}

pub(crate) fn not_found(what: &'static str, id: &str) -> KbError {
    KbError::NotFound { what, id: id.to_owned() }
}

pub(crate) fn check_id(id: &str, at: &str) -> Result<(), KbError> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b)) {
        return Err(KbError::invalid("invalid_id", "an id is 1-128 of [A-Za-z0-9._@-]", at));
    }
    Ok(())
}

pub(crate) fn check_text(s: &str, at: &str, max: usize) -> Result<(), KbError> {
    if s.trim().is_empty() || s.len() > max {
        return Err(KbError::invalid("invalid_text", format!("must be 1-{max} bytes and not blank"), at));
    }
    Ok(())
}

pub(crate) fn check_attrs(a: &Attrs, at: &str) -> Result<(), KbError> {
    if a.len() > 32 {
        return Err(KbError::invalid("too_many_attributes", "at most 32 attributes", at));
    }
    for (name, values) in a {
        if !valid_name(name) {
            return Err(KbError::invalid(
                "invalid_attribute",
                format!("{name:?}: names are 1-64 of [a-z0-9_]"),
                &format!("{at}/{name}"),
            ));
        }
        if values.len() > 64 || values.iter().any(|v| !valid_value(v)) {
            return Err(KbError::invalid(
                "invalid_attribute",
                "at most 64 values, each 1-256 bytes without control characters",
                &format!("{at}/{name}"),
            ));
        }
    }
    Ok(())
}
