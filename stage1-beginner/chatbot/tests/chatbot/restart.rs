//! Kill a real `chatbot serve` process mid-conversation (SIGKILL, no clean shutdown), start it
//! again on the same data folder, and continue the session.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chatbot"))
        .args(["--engine", "offline", "--context-tokens", "1700", "serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("CHATBOT_DATA_DIR", dir)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chatbot serve")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client.get(base).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chatbot serve did not start");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_session_survives_a_killed_server() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = spawn(dir.path(), port);
    wait_ready(&client, &base).await;
    let id: Value = client.post(format!("{base}/v1/sessions")).send().await.unwrap().json().await.unwrap();
    let id = id["id"].as_str().unwrap().to_owned();
    let say = |text: String| {
        let (client, url) = (client.clone(), format!("{base}/v1/sessions/{id}/messages"));
        async move {
            let r = client.post(url).json(&json!({ "content": text })).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Value>().await.unwrap()["reply"].as_str().unwrap().to_owned()
        }
    };
    say("The spare key is under the blue flowerpot.".into()).await;
    for t in 0..5 {
        say(format!("Reminder {t}: water the tomatoes in the greenhouse before noon.")).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let mut server = spawn(dir.path(), port);
    wait_ready(&client, &base).await;
    let reply = say("Where is the spare key?".into()).await;
    assert!(reply.contains("blue flowerpot"), "{reply}");
    let stored: Value = client.get(format!("{base}/v1/sessions/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored["messages"].as_array().unwrap().len(), 14);
    server.kill().unwrap();
    server.wait().unwrap();
}
