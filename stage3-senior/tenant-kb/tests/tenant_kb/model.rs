//! The model answerer against the mock OpenAI-compatible server: a simple question goes to the
//! cheap model and a complex one to the strong model, each answer's citations are checked and
//! point at passages the caller may see, the model is never sent a passage the policy hides,
//! and a failing model gives the offline extractive answer, flagged, never an error.

use genai_testkit::{MockOpenAi, Reply};
use std::collections::BTreeMap;
use tenant_kb::auth::{Member, Principal};
use tenant_kb::models::Models;
use tenant_kb::{AskRequest, Config, Kb, NewDocument, NewTenant, NewUser};

const CHAT: &str = "/v1/chat/completions";

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()])).collect()
}

async fn setup(dir: &std::path::Path, mock: &MockOpenAi) -> (Kb, Member) {
    let config = Config { data_dir: dir.to_owned(), admin_token: Some(crate::ADMIN.into()), ..Config::default() };
    let models = Models::new(
        mock.resilient_model("small-model", 1),
        Some(mock.resilient_model("big-model", 1)),
        tenant_kb::extractive(),
        0.5,
    );
    let kb = Kb::open_with_models(config, Some(models)).await.unwrap();
    let t = NewTenant { id: "acme".into(), name: "Acme".into(), policy: None };
    kb.create_tenant(&Principal::Platform, t).await.unwrap();
    let key = kb.bootstrap_admin_key(&Principal::Platform, "acme").await.unwrap().key;
    let Principal::Member(admin) = kb.authenticate(&key).await.unwrap() else { panic!() };
    let doc = |id: &str, text: &str, a: &[(&str, &str)]| NewDocument {
        id: id.into(),
        title: id.into(),
        text: text.into(),
        pdf_base64: None,
        attributes: attrs(a),
    };
    kb.add_documents(
        &admin,
        vec![
            doc(
                "pumps",
                "The coolant pump is inspected every six months. The feed pump is inspected every year because it runs cooler.",
                &[("groups", "ops"), ("clearance", "internal")],
            ),
            doc(
                "salaries",
                "The pump engineers' salaries rise by four percent in March; the inspection bonus is secret.",
                &[("groups", "hr"), ("clearance", "confidential")],
            ),
        ],
    )
    .await
    .unwrap();
    let user = NewUser {
        id: "priya".into(),
        name: "Priya".into(),
        role: tenant_kb::store::Role::Reader,
        attributes: attrs(&[("groups", "ops"), ("clearance", "internal")]),
    };
    kb.create_user(&admin, user).await.unwrap();
    let member = Member {
        role: tenant_kb::store::Role::Reader,
        user: kb.user(&admin, "priya").await.unwrap(),
        via: "test".into(),
    };
    (kb, member)
}

fn ask(q: &str) -> AskRequest {
    AskRequest { question: q.into(), filters: Default::default() }
}

#[tokio::test]
async fn questions_are_routed_by_complexity_and_the_model_sees_only_allowed_passages() {
    let mock = MockOpenAi::start(8).await;
    let dir = tempfile::tempdir().unwrap();
    let (kb, priya) = setup(dir.path(), &mock).await;

    mock.enqueue(CHAT, [Reply::chat_text("The coolant pump is inspected every six months [1]. Bonuses rise [4].")]);
    let a = kb.ask(&priya, ask("How often is the coolant pump inspected?")).await.unwrap();
    assert_eq!(a.engine, "llm:small-model", "{a:?}");
    let route = a.route.as_ref().unwrap();
    assert_eq!((route.tier.as_str(), route.model.as_str()), ("cheap", "small-model"));
    assert!(a.answer.contains("every six months [1]"), "{a:?}");
    assert_eq!(a.citations.len(), 1, "{a:?}");
    assert_eq!((a.citations[0].number, a.citations[0].document.as_str()), (1, "pumps"));
    assert!(a.flagged.iter().any(|f| f.contains("[4]")), "the invented citation is removed and flagged: {a:?}");

    let complex =
        "Why is the feed pump inspected less often than the coolant pump, and what is the impact of the difference?";
    mock.enqueue(CHAT, [Reply::chat_text("Because it runs cooler [1].")]);
    let a = kb.ask(&priya, ask(complex)).await.unwrap();
    let route = a.route.as_ref().unwrap();
    assert_eq!((a.engine.as_str(), route.tier.as_str()), ("llm:big-model", "strong"), "{a:?}");
    assert!(!route.reasons.is_empty());

    let sent = mock.requests_to(CHAT);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body["model"], "small-model");
    assert_eq!(sent[1].body["model"], "big-model");
    for r in &sent {
        let prompt = r.body["messages"].to_string();
        assert!(prompt.contains("coolant pump is inspected"), "the allowed passage is sent: {prompt}");
        assert!(
            !prompt.contains("salaries") && !prompt.contains("bonus"),
            "a hidden passage reached the model: {prompt}"
        );
    }

    // The audit log says which engine and tier answered.
    let admin = Member { role: tenant_kb::store::Role::Admin, ..priya.clone() };
    let entries = kb.audit_entries(&admin, 0, 100).await.unwrap();
    let asks: Vec<_> = entries.iter().filter(|e| e.entry.action == "ask").collect();
    assert_eq!(asks.len(), 2);
    assert_eq!(
        (asks[0].entry.detail["engine"].as_str(), asks[0].entry.detail["tier"].as_str()),
        (Some("llm:small-model"), Some("cheap"))
    );
    assert_eq!(asks[1].entry.detail["tier"], "strong");
}

#[tokio::test]
async fn a_failing_model_gives_the_flagged_offline_answer() {
    let mock = MockOpenAi::start(8).await;
    let dir = tempfile::tempdir().unwrap();
    let (kb, priya) = setup(dir.path(), &mock).await;
    mock.enqueue(CHAT, [Reply::Status { code: 503, retry_after: None, body: "overloaded".into() }]);
    let a = kb.ask(&priya, ask("How often is the coolant pump inspected?")).await.unwrap();
    assert_eq!(a.engine, "extractive", "{a:?}");
    assert!(a.flagged.iter().any(|f| f.contains("model was unavailable")), "{a:?}");
    assert!(a.answer.contains("six months"), "{a:?}");
    assert!(a.citations.iter().all(|c| c.document == "pumps"), "{a:?}");
    assert_eq!(mock.requests_to(CHAT).len(), 1, "one attempt, as configured");
    // The same question with the model back: the model answers again.
    mock.enqueue(CHAT, [Reply::chat_text("Every six months [1].")]);
    let a = kb.ask(&priya, ask("How often is the coolant pump inspected?")).await.unwrap();
    assert_eq!(a.engine, "llm:small-model", "{a:?}");
}
