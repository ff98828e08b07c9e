//! Demo tenants for the showcase and the browser test: two companies, users with different
//! groups and clearances, and documents each user should or should not see.
//!
//! Production note: `serve --demo` also exposes `GET /demo-users` with these users' API keys,
//! so the page can sign in without a login flow; never turn it on for real tenants.

use crate::auth::Principal;
use crate::policy::Attrs;
use crate::store::Role;
use crate::{Kb, KbError, NewDocument, NewKey, NewTenant, NewUser};

struct DemoUser {
    tenant: &'static str,
    id: &'static str,
    name: &'static str,
    role: Role,
    groups: &'static [&'static str],
    clearance: &'static str,
}

const USERS: &[DemoUser] = &[
    DemoUser {
        tenant: "acme",
        id: "admin",
        name: "Acme admin",
        role: Role::Admin,
        groups: &["billing", "eng", "exec"],
        clearance: "secret",
    },
    DemoUser {
        tenant: "acme",
        id: "alice",
        name: "Alice (billing)",
        role: Role::Reader,
        groups: &["billing"],
        clearance: "internal",
    },
    DemoUser {
        tenant: "acme",
        id: "bob",
        name: "Bob (engineering)",
        role: Role::Writer,
        groups: &["eng"],
        clearance: "internal",
    },
    DemoUser {
        tenant: "acme",
        id: "carol",
        name: "Carol (executive)",
        role: Role::Reader,
        groups: &["exec"],
        clearance: "secret",
    },
    DemoUser {
        tenant: "globex",
        id: "admin",
        name: "Globex admin",
        role: Role::Admin,
        groups: &["sales"],
        clearance: "secret",
    },
    DemoUser {
        tenant: "globex",
        id: "gina",
        name: "Gina (sales)",
        role: Role::Reader,
        groups: &["sales"],
        clearance: "confidential",
    },
];

/// (tenant, id, title, text, groups, clearance, visibility)
type DemoDoc = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    Option<&'static str>,
);

const DOCS: &[DemoDoc] = &[
    (
        "acme",
        "handbook",
        "Acme employee handbook",
        include_str!("../demo/acme-handbook.md"),
        &[],
        "public",
        Some("public"),
    ),
    (
        "acme",
        "billing-runbook",
        "Billing runbook",
        include_str!("../demo/acme-billing-runbook.md"),
        &["billing"],
        "internal",
        None,
    ),
    ("acme", "project-heron", "Project Heron", include_str!("../demo/acme-merger-plan.md"), &["exec"], "secret", None),
    ("acme", "eng-oncall", "Engineering on-call", include_str!("../demo/acme-oncall.md"), &["eng"], "internal", None),
    (
        "globex",
        "handbook",
        "Globex handbook",
        include_str!("../demo/globex-handbook.md"),
        &[],
        "public",
        Some("public"),
    ),
    (
        "globex",
        "pricing-2027",
        "Globex price list 2027",
        include_str!("../demo/globex-pricing.md"),
        &["sales"],
        "confidential",
        None,
    ),
];

fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Creates what is missing and issues one API key per demo user; returns `tenant/user` → key.
pub async fn seed(kb: &Kb) -> Result<Vec<(String, String)>, KbError> {
    let platform = Principal::Platform;
    let existing: Vec<String> = kb.tenants(&platform).await?.into_iter().map(|t| t.id).collect();
    for (id, name) in [("acme", "Acme Logistics"), ("globex", "Globex Sensors")] {
        if !existing.iter().any(|t| t == id) {
            kb.create_tenant(&platform, NewTenant { id: id.into(), name: name.into(), policy: None }).await?;
        }
    }
    // Keys from an earlier start are reused while they still work, so restarts do not pile up keys.
    let saved = kb.config().data_dir.join("demo-keys.json");
    let mut keys: Vec<(String, String)> =
        std::fs::read(&saved).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let mut all_work = keys.len() == USERS.len();
    for (_, k) in &keys {
        all_work &= kb.authenticate(k).await.is_ok();
    }
    if !all_work {
        keys.clear();
        for u in USERS {
            // Each tenant's admin is created with its own entry's attributes.
            let own =
                USERS.iter().find(|a| a.tenant == u.tenant && a.id == "admin").expect("every demo tenant has an admin");
            let admin =
                kb.tenant_admin(u.tenant, attrs(&[("groups", own.groups), ("clearance", &[own.clearance])])).await?;
            if kb.inner.store.user(u.tenant, u.id).await?.is_none() {
                let a = attrs(&[("groups", u.groups), ("clearance", &[u.clearance])]);
                kb.create_user(&admin, NewUser { id: u.id.into(), name: u.name.into(), role: u.role, attributes: a })
                    .await?;
            }
            let key = kb.issue_key(&admin, NewKey { user: u.id.into(), scope: None }).await?;
            keys.push((format!("{}/{}", u.tenant, u.id), key.key));
        }
        std::fs::write(&saved, serde_json::to_vec(&keys).unwrap_or_default())
            .map_err(|e| KbError::Setup(format!("{}: {e}", saved.display())))?;
    }
    let _ = kb.inner.demo_users.set(keys.clone());
    // Acme redacts e-mail addresses and phone numbers; its admin may reveal them.
    let acme = kb.tenant_admin("acme", Attrs::new()).await?;
    let redact = vec!["EMAIL_ADDRESS".to_owned(), "PHONE_NUMBER".to_owned()];
    if kb.tenant_pii("acme").await?.redact != redact {
        kb.set_pii_settings(&acme, crate::PiiSettings { redact, reveal_role: Role::Admin }).await?;
    }
    for (tenant, id, title, text, groups, clearance, visibility) in DOCS {
        if kb.inner.store.document(tenant, id).await?.is_some() {
            continue;
        }
        let admin = kb.tenant_admin(tenant, Attrs::new()).await?;
        let vis: &[&str] = visibility.as_slice();
        let a = attrs(&[("groups", groups), ("clearance", &[clearance]), ("visibility", vis)]);
        kb.add_document(
            &admin,
            NewDocument {
                id: id.to_string(),
                title: title.to_string(),
                text: text.to_string(),
                pdf_base64: None,
                attributes: a,
            },
        )
        .await?;
    }
    Ok(keys)
}
