//! Running a real Restate server for tests: `restate-server` from npm (pinned), started on free
//! loopback ports with its own data directory, stopped by its PID when dropped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use restate_rs::testing::RestateServer;
//! let server = RestateServer::start().await?;
//! // server.register("http://127.0.0.1:9080").await?;
//! // let ingress = server.ingress();
//! # Ok(()) }
//! ```
//!
//! The binary is looked up, in order, at `$RESTATE_SERVER_BIN`, under the npm prefix given to
//! [`RestateServerBuilder::npm_prefix`] or `$RESTATE_RS_TOOLS`, and under
//! `~/.cache/restate-rs/restate-server-<version>`; when it is in none of them it is installed
//! there with `npm install @restatedev/restate-server@<version>`.

use crate::admin::{AdminClient, AdminError, Deployment};
use crate::ingress::IngressClient;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The restate-server version the tests are pinned to.
pub const RESTATE_SERVER_VERSION: &str = "1.7.12";

/// Why a test server could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestServerError {
    /// Installing restate-server from npm failed.
    #[error(
        "cannot install restate-server {RESTATE_SERVER_VERSION} with npm into {dir}: {message}"
    )]
    Install {
        /// Where it was to go.
        dir: PathBuf,
        /// What npm said.
        message: String,
    },
    /// This platform has no restate-server package.
    #[error("restate-server has no npm package for {0}")]
    UnsupportedPlatform(String),
    /// The process could not be started.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server did not become ready.
    #[error(
        "restate-server did not become ready within {timeout:?}: {reason}\n--- server log ---\n{log}"
    )]
    NotReady {
        /// How long we waited.
        timeout: Duration,
        /// What was observed.
        reason: String,
        /// The end of its log.
        log: String,
    },
    /// File system trouble with the data directory.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Talking to the admin API failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
}

/// Options for [`RestateServer`].
#[derive(Debug, Clone, Default)]
pub struct RestateServerBuilder {
    binary: Option<PathBuf>,
    npm_prefix: Option<PathBuf>,
    identity_private_key_pem: Option<PathBuf>,
    extra_config: String,
    startup_timeout: Option<Duration>,
}

impl RestateServerBuilder {
    /// Use this restate-server binary.
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Find (or install) restate-server under this npm prefix (its `node_modules`).
    pub fn npm_prefix(mut self, dir: impl Into<PathBuf>) -> Self {
        self.npm_prefix = Some(dir.into());
        self
    }

    /// Sign requests to deployments with this Ed25519 private key (PEM), so endpoints that
    /// verify request identity accept them.
    pub fn request_identity_key(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.identity_private_key_pem = Some(pem_file.into());
        self
    }

    /// Extra TOML appended to the generated configuration file.
    pub fn extra_config(mut self, toml: impl Into<String>) -> Self {
        self.extra_config = toml.into();
        self
    }

    /// How long to wait for the server to become ready (default 90 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = Some(timeout);
        self
    }

    /// Starts the server and waits until its admin API and ingress answer.
    pub async fn start(self) -> Result<RestateServer, TestServerError> {
        let binary = match self
            .binary
            .clone()
            .or_else(|| std::env::var_os("RESTATE_SERVER_BIN").map(PathBuf::from))
        {
            Some(binary) => binary,
            None => {
                let prefix = self
                    .npm_prefix
                    .clone()
                    .or_else(|| std::env::var_os("RESTATE_RS_TOOLS").map(PathBuf::from))
                    .unwrap_or_else(default_prefix);
                tokio::task::spawn_blocking(move || ensure_installed(&prefix))
                    .await
                    .map_err(|e| TestServerError::Io {
                        context: "installing restate-server".to_owned(),
                        source: std::io::Error::other(e),
                    })??
            }
        };

        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "restate-rs-server-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|source| TestServerError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
        let [node_port, admin_port, ingress_port] = free_ports::<3>()?;
        let identity = self
            .identity_private_key_pem
            .as_ref()
            .map(|p| {
                format!(
                    "\n[worker.invoker]\nrequest-identity-private-key-pem-file = {:?}\n",
                    p.display().to_string()
                )
            })
            .unwrap_or_default();
        let config = format!(
            r#"cluster-name = "restate-rs-test-{node_port}"
node-name = "n1"
base-dir = {base:?}
bind-address = "127.0.0.1:{node_port}"
advertised-address = "http://127.0.0.1:{node_port}"
default-num-partitions = 2
disable-telemetry = true
rocksdb-total-memory-size = "256 MiB"
log-filter = "warn,restate=info"
log-disable-ansi-codes = true
{identity}
[admin]
bind-address = "127.0.0.1:{admin_port}"
advertised-admin-endpoint = "http://127.0.0.1:{admin_port}"
disable-web-ui = true

[admin.query-engine]
memory-size = "64 MiB"

[ingress]
bind-address = "127.0.0.1:{ingress_port}"
advertised-ingress-endpoint = "http://127.0.0.1:{ingress_port}"

{extra}
"#,
            base = dir.join("data").display().to_string(),
            extra = self.extra_config,
        );
        let config_path = dir.join("restate.toml");
        std::fs::write(&config_path, config).map_err(|source| TestServerError::Io {
            context: format!("writing {}", config_path.display()),
            source,
        })?;
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path).map_err(|source| TestServerError::Io {
            context: format!("creating {}", log_path.display()),
            source,
        })?;
        let child = Command::new(&binary)
            .arg("--config-file")
            .arg(&config_path)
            .arg("--no-logo")
            .arg("--listen-mode")
            .arg("tcp")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|source| TestServerError::Io {
                context: "opening the server log".to_owned(),
                source,
            })?)
            .stderr(log)
            .spawn()
            .map_err(|source| TestServerError::Spawn {
                binary: binary.clone(),
                source,
            })?;

        let mut server = RestateServer {
            child,
            dir,
            log_path,
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            ingress_url: format!("http://127.0.0.1:{ingress_port}"),
            admin: AdminClient::new(format!("http://127.0.0.1:{admin_port}"))?,
        };
        server
            .wait_ready(self.startup_timeout.unwrap_or(Duration::from_secs(90)))
            .await?;
        Ok(server)
    }
}

/// A restate-server process of our own. Dropping it kills the process (by its PID) and
/// removes its data directory.
pub struct RestateServer {
    child: Child,
    dir: PathBuf,
    log_path: PathBuf,
    admin_url: String,
    ingress_url: String,
    admin: AdminClient,
}

impl std::fmt::Debug for RestateServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestateServer")
            .field("pid", &self.child.id())
            .field("admin_url", &self.admin_url)
            .field("ingress_url", &self.ingress_url)
            .finish()
    }
}

impl RestateServer {
    /// Starts a server with the defaults.
    pub async fn start() -> Result<Self, TestServerError> {
        Self::builder().start().await
    }

    /// Options for starting a server.
    pub fn builder() -> RestateServerBuilder {
        RestateServerBuilder::default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin API, e.g. `http://127.0.0.1:40123`.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The ingress, e.g. `http://127.0.0.1:40124`.
    pub fn ingress_url(&self) -> &str {
        &self.ingress_url
    }

    /// An admin client.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// An ingress client.
    pub fn ingress(&self) -> IngressClient {
        IngressClient::new(&self.ingress_url).expect("the ingress URL is valid")
    }

    /// Registers the deployment at `uri`.
    pub async fn register(&self, uri: &str) -> Result<Deployment, TestServerError> {
        Ok(self.admin.register(uri).await?)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and waits for it to exit; its data stays until drop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), TestServerError> {
        let started = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(TestServerError::NotReady {
                    timeout,
                    reason: format!("the process exited ({status})"),
                    log: tail(&self.log(), 40),
                });
            }
            let admin = self.admin.healthy().await;
            let ingress = matches!(
                http.get(format!("{}/restate/health", self.ingress_url)).send().await,
                Ok(r) if r.status().is_success()
            );
            if admin && ingress {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(TestServerError::NotReady {
                    timeout,
                    reason: format!("admin healthy: {admin}, ingress healthy: {ingress}"),
                    log: tail(&self.log(), 40),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for RestateServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_ports<const N: usize>() -> Result<[u16; N], TestServerError> {
    // Hold all listeners at once so the ports differ, then release them for the server.
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|source| TestServerError::Io {
            context: "finding free loopback ports".to_owned(),
            source,
        })?;
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    }
    Ok(ports)
}

fn default_prefix() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache
        .join("restate-rs")
        .join(format!("restate-server-{RESTATE_SERVER_VERSION}"))
}

fn platform_package() -> Result<&'static str, TestServerError> {
    Ok(match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "restate-server-linux-x64",
        ("linux", "aarch64") => "restate-server-linux-arm64",
        ("macos", "x86_64") => "restate-server-darwin-x64",
        ("macos", "aarch64") => "restate-server-darwin-arm64",
        (os, arch) => return Err(TestServerError::UnsupportedPlatform(format!("{os}/{arch}"))),
    })
}

fn binary_under(prefix: &Path) -> Result<PathBuf, TestServerError> {
    Ok(prefix
        .join("node_modules/@restatedev")
        .join(platform_package()?)
        .join("bin/restate-server"))
}

fn installed_version(binary: &Path) -> Option<String> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace().last().map(str::to_owned)
}

fn ensure_installed(prefix: &Path) -> Result<PathBuf, TestServerError> {
    let binary = binary_under(prefix)?;
    if binary.exists() && installed_version(&binary).as_deref() == Some(RESTATE_SERVER_VERSION) {
        return Ok(binary);
    }
    std::fs::create_dir_all(prefix).map_err(|source| TestServerError::Io {
        context: format!("creating {}", prefix.display()),
        source,
    })?;
    let output = Command::new("npm")
        .args([
            "install",
            "--no-package-lock",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(prefix)
        .arg(format!(
            "@restatedev/restate-server@{RESTATE_SERVER_VERSION}"
        ))
        .output()
        .map_err(|e| TestServerError::Install {
            dir: prefix.to_path_buf(),
            message: format!("cannot run npm: {e}"),
        })?;
    if !output.status.success() || !binary.exists() {
        return Err(TestServerError::Install {
            dir: prefix.to_path_buf(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(binary)
}
