//! Drives the real, built Release Desk app through tauri-driver and
//! WebKitWebDriver. Each `App` has its own data folder and its own driver
//! ports, so tests never share state.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(30);
/// How long one attempt at starting the app under WebDriver may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(45);

struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut driver) = self.0.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

/// The app binary under test: `RELEASE_DESK_APP`, else the debug build.
pub fn app_binary() -> PathBuf {
    let path = std::env::var_os("RELEASE_DESK_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/release-desk")
        });
    assert!(
        path.exists(),
        "the app binary {} does not exist: build it first (`make test` does)",
        path.display()
    );
    path
}

/// Where screenshots go, for a person to look at after the run.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder can be created");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The longest a whole end-to-end test may take. WebDriver calls have no
/// timeout of their own, so without this a hung call would stall CI forever.
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// Runs a test's steps, failing it if they do not finish within the limit.
pub async fn within_limit(steps: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_LIMIT, steps).await.is_err() {
        panic!("the test did not finish within {TEST_LIMIT:?}: a WebDriver call hung");
    }
}

/// One running app, driven over WebDriver.
pub struct App {
    pub client: Client,
    driver: Child,
}

impl App {
    /// Starts the app on `data_dir` and waits for its first screen. WebKitWebDriver
    /// occasionally never completes a new session; that attempt is abandoned
    /// after a timeout and the app started again, up to three times.
    pub async fn launch(data_dir: &Path) -> App {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match tokio::time::timeout(SESSION_TIMEOUT, Self::try_launch(data_dir)).await {
                Ok(Ok(app)) => return app,
                Ok(Err(error)) => failures.push(error),
                Err(_) => failures.push(format!("no session within {SESSION_TIMEOUT:?}")),
            }
        }
        panic!("could not start the app under WebDriver: {failures:?}");
    }

    async fn try_launch(data_dir: &Path) -> Result<App, String> {
        let port = free_port();
        let native_port = free_port();
        let driver = Command::new("tauri-driver")
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            // WebKitWebDriver starts the app with this environment.
            .env("RELEASE_DESK_DATA_DIR", data_dir.join("data"))
            .env("RELEASE_DESK_LOG_DIR", data_dir.join("logs"))
            // With WebKitGTK's compositing off (the app's default on Linux),
            // WebKitWebDriver stopped answering after the session started under
            // Xvfb; the tests keep WebKit's default until that is understood.
            .env("RELEASE_DESK_WEBKIT_COMPOSITING", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!("tauri-driver could not start (scripts/setup.sh installs it): {e}")
            })?;
        // Killed on drop, so an abandoned attempt leaves no driver behind.
        let mut guard = DriverGuard(Some(driver));

        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app_binary() }),
        );
        caps.insert("browserName".into(), serde_json::json!("wry"));
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..60 {
            let mut builder = ClientBuilder::rustls().map_err(|e| e.to_string())?;
            match builder.capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    let app = App {
                        client,
                        driver: guard.0.take().ok_or("driver already taken")?,
                    };
                    app.wait_for("[data-testid=empty-state], [data-testid=matrix], [data-testid=database-recovery]")
                        .await;
                    return Ok(app);
                }
                Err(e) => {
                    last_error = e.to_string();
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
        Err(format!("could not start a WebDriver session: {last_error}"))
    }

    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("text")
    }

    /// Polls until `css` matches at least `at_least` elements, for lists that
    /// render in steps; fails the test if they never do.
    pub async fn wait_for_count(&self, css: &str, at_least: usize) -> Vec<Element> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let found = self.all(css).await;
            if found.len() >= at_least {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{css}: expected at least {at_least}, found {}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Clicks the first element matching `css` whose text contains `text`,
    /// waiting for it to appear.
    pub async fn click_text(&self, css: &str, text: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            for e in self.all(css).await {
                if e.text().await.unwrap_or_default().contains(text) {
                    e.click()
                        .await
                        .unwrap_or_else(|err| panic!("click {css} '{text}': {err}"));
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {css} containing '{text}' appeared"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Sets the value of a form field the way a person's input would (an
    /// `input` event), for date and time fields that WebKitGTK draws as
    /// pickers WebDriver cannot type into.
    pub async fn set_value(&self, css: &str, value: &str) {
        self.wait_for(css).await;
        self.client
            .execute(
                "const el = document.querySelector(arguments[0]);
                 const proto = Object.getPrototypeOf(el);
                 Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, arguments[1]);
                 el.dispatchEvent(new Event('input', { bubbles: true }));
                 el.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![serde_json::json!(css), serde_json::json!(value)],
            )
            .await
            .unwrap_or_else(|e| panic!("set {css} to {value}: {e}"));
    }

    /// Waits until the text of `css` contains `expected`, and returns it.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let shown = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if shown.contains(expected) {
                return shown;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{css} never showed '{expected}' (last: '{shown}')"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Like [`App::wait_for_text`], but reads the DOM's `textContent`: for
    /// elements WebKitWebDriver's visibility rules report as empty although
    /// they are painted (a cell reached after navigating back to the
    /// dashboard; the screenshot shows what a person sees).
    pub async fn wait_for_dom_text(&self, css: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let shown = self
                .client
                .execute(
                    "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
                    vec![serde_json::json!(css)],
                )
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if shown.contains(expected) {
                return shown;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{css} never held '{expected}' (last: '{shown}')"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn screenshot(&self, name: &str) {
        // WebKitGTK snapshots what was last painted: let the latest frame land.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png)
            .expect("write screenshot");
    }

    pub async fn press(&self, key: &str) {
        let active = self.client.active_element().await.expect("active element");
        active.send_keys(key).await.expect("send keys");
    }

    /// Ends the session, which quits the app, and stops the driver.
    /// (Dropping an `App` without `quit`, as a failing test does, still stops
    /// the driver.)
    pub async fn quit(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Give the app time to close its database cleanly before the next launch.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
