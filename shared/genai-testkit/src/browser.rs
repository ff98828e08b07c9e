//! A headless Chromium driven through chromedriver, for tests of the milestones' pages.
//!
//! Runs when `CHROMEDRIVER` names the driver (`.ci/run` installs Debian's `chromium` and
//! `chromium-driver` and sets it); `CHROME` overrides the browser binary (default
//! `/usr/bin/chromium`). Without `CHROMEDRIVER`, [`Browser::start`] says the test is skipped.

use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

/// A chromedriver process and a WebDriver session on it; [`Browser::close`] ends both.
pub struct Browser {
    pub client: Client,
    driver: std::process::Child,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver and a headless session with a `width,height` window, or returns
    /// `None` (printing `SKIPPED: <test>`) when `CHROMEDRIVER` is not set. Panics if it is set
    /// but the driver cannot start: a configured browser test must not pass silently.
    pub async fn start(test: &str, window: &str) -> Option<Browser> {
        let Ok(driver) = std::env::var("CHROMEDRIVER") else {
            eprintln!("SKIPPED: {test} (CHROMEDRIVER is not set)");
            return None;
        };
        let chrome = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let child = std::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("CHROMEDRIVER={driver} is set but cannot start: {e}"));
        let profile = tempfile::tempdir().expect("a temporary browser profile");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chrome, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                format!("--window-size={window}"), format!("--user-data-dir={}", profile.path().display())]}),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let client = wait_for("chromedriver", || {
            let (caps, webdriver) = (caps.clone(), webdriver.clone());
            async move {
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&webdriver)
                    .await
                    .ok()
            }
        })
        .await;
        Some(Browser { client, driver: child, _profile: profile })
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Polls `probe` every 100 ms until it yields a value; panics after 15 s naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..150 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
