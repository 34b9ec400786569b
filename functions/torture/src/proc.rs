//! The runtime under test, as a child process: started on a data dir, SIGKILLed and restarted on
//! the same dir, stopped at the end. Its address changes on every start (`--addr 127.0.0.1:0`);
//! the [`Api`] it hands out always follows the current one.
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::api::Api;

pub struct Runtime {
    bin: PathBuf,
    template: PathBuf,
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    args: Vec<String>,
    child: Mutex<Option<Child>>,
    starts: AtomicUsize,
    pub api: Api,
}

fn spawn(
    bin: &Path,
    template: &Path,
    data_dir: &Path,
    args: &[String],
    log: &Path,
) -> Result<(Child, String), String> {
    let mut log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    // Development mode: the scenarios call as many users with `dev:` tokens, and read every
    // event, execution and fault setting through `/_local/*`.
    let mut child = Command::new(bin)
        .arg("--dev")
        .arg("--addr")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--template")
        .arg(template)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        // The event trace: the scenarios read events through /_local.
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // The banner is the JSON line on stderr that says where it listens; all of stderr goes to
    // the log.
    std::thread::spawn(move || {
        use std::io::Write;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on http://") {
                let _ = tx.send(line.clone());
            }
            let _ = writeln!(log_file, "{line}");
        }
    });
    let banner = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(b) => b,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: String = tail.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            return Err(format!(
                "the runtime never printed where it listens (log: {tail})"
            ));
        }
    };
    let url = serde_json::from_str::<serde_json::Value>(&banner)
        .ok()
        .and_then(|b| b["url"].as_str().map(str::to_string))
        .ok_or_else(|| format!("no url in banner: {banner}"))?;
    Ok((child, url))
}

impl Runtime {
    /// Starts the runtime on `dir/data` (fresh), with `args` added to its command line.
    pub async fn start(
        bin: &Path,
        template: &Path,
        dir: PathBuf,
        args: Vec<String>,
        request_timeout: Duration,
    ) -> Result<Runtime, String> {
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let rt = Runtime {
            bin: bin.to_path_buf(),
            template: template.to_path_buf(),
            dir,
            data_dir,
            args,
            child: Mutex::new(None),
            starts: AtomicUsize::new(0),
            api: Api::new(request_timeout),
        };
        rt.launch().await?;
        Ok(rt)
    }

    async fn launch(&self) -> Result<(), String> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst);
        let log = self.dir.join(format!("runtime-{n}.stderr.log"));
        let (bin, template, data_dir, args) = (
            self.bin.clone(),
            self.template.clone(),
            self.data_dir.clone(),
            self.args.clone(),
        );
        let (child, url) =
            tokio::task::spawn_blocking(move || spawn(&bin, &template, &data_dir, &args, &log))
                .await
                .map_err(|e| e.to_string())??;
        if let Ok(mut c) = self.child.lock() {
            *c = Some(child);
        }
        self.api.set_base(url);
        self.wait_healthy().await
    }

    async fn wait_healthy(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.api.health().await {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the runtime never became healthy".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, whatever was in flight is cut.
    pub fn kill(&self) {
        if let Ok(mut c) = self.child.lock()
            && let Some(mut child) = c.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the runtime and starts it again on the same data dir; answers how long it was away.
    pub async fn restart(&self) -> Result<Duration, String> {
        let t = Instant::now();
        self.kill();
        self.launch().await?;
        Ok(t.elapsed())
    }

    pub fn starts(&self) -> usize {
        self.starts.load(Ordering::SeqCst)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.kill();
    }
}
