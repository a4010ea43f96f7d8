//! `plugboard dev` as a process: started on a free port, driven over HTTP and its CLI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plugboard::dev::admin::token::AdminToken;
use plugboard::dev::admin::{self, AdminClient, HttpAnswer};
use plugboard::manifest::Manifest;
use serde_json::Value;

/// A running `plugboard dev` on a free port; killed (not stopped) when dropped.
pub struct Dev {
    /// Where it listens.
    pub url: String,
    /// Its state directory, which holds its admin token.
    pub state_dir: PathBuf,
    /// The dashboard URL of its banner (with the admin token).
    pub dashboard: String,
    child: Child,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    /// CPU time the process has used so far (user + system, from `/proc`), in clock ticks
    /// (1/100 s on Linux).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name (which may hold spaces) in parentheses.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    pub fn start(dir: &Path) -> Dev {
        Self::start_with(dir, &[])
    }

    /// `plugboard dev` on `dir`'s manifest with `extra` arguments.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .args(["dev", "--port", "0", "--manifest"])
            .arg(dir.join("plugboard.toml"))
            .args(extra)
            .env("PLUGBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("plugboard dev starts");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        // The banner ends with the dashboard line.
        let mut dashboard = String::new();
        while !dashboard.trim_start().starts_with("dashboard ") {
            dashboard.clear();
            assert!(stdout.read_line(&mut dashboard).unwrap() > 0, "the banner has no dashboard line");
        }
        let dashboard = dashboard.split_whitespace().last().unwrap_or_default().to_string();
        // Keep reading, so the server's later output never meets a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first.split_whitespace().last().unwrap_or_default().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "banner: {first}");
        let state_dir = Manifest::load(&dir.join("plugboard.toml")).unwrap().app.state_dir;
        Dev { url, state_dir, dashboard, child }
    }

    /// This server's admin API, with the token it wrote.
    pub fn admin_client(&self) -> AdminClient {
        AdminClient::new(&self.url, AdminToken::read(&self.state_dir).unwrap())
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpAnswer {
        admin::request(method, &format!("{}{path}", self.url), headers, body.as_bytes().to_vec()).await.unwrap()
    }

    pub async fn admin(&self, method: &str, path: &str) -> Value {
        self.admin_client().call(method, path).await.unwrap()
    }

    /// `plugboard queue ARGS --url` as a process; its stdout.
    pub fn queue_cli(&self, args: &[&str]) -> String {
        self.cli("queue", args)
    }

    /// `plugboard COMMAND ARGS --url` (a tool that talks to this server) as a process; its
    /// stdout, asserting it succeeded.
    pub fn cli(&self, command: &str, args: &[&str]) -> String {
        let out = self.cli_output(command, args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// [`Dev::cli`], however it ended.
    pub fn cli_output(&self, command: &str, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .arg(command)
            .args(args)
            .args(["--url", &self.url])
            .env("PLUGBOARD_STATE_DIR", &self.state_dir)
            .output()
            .unwrap()
    }

    /// Stop the server with SIGTERM, as a process manager would; how it exited (within 20 s).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "still running 20 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until `check` holds for the queue stats, or panic after 20 s.
    pub async fn wait_for_queues(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_queues_within(what, Duration::from_secs(20), check).await
    }

    /// Wait until `check` holds for the queue stats, or panic after `limit`.
    pub async fn wait_for_queues_within(&self, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let stats = self.admin("GET", "queues").await;
            if check(&stats) {
                return stats;
            }
            assert!(started.elapsed() < limit, "{what}: {stats}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn depth(stats: &Value, queue: &str) -> u64 {
    let q = stats.as_array().unwrap().iter().find(|q| q["name"] == queue).unwrap();
    q["visible"].as_u64().unwrap() + q["in_flight"].as_u64().unwrap() + q["delayed"].as_u64().unwrap()
}
