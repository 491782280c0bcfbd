//! Child processes in their own process group, so that stopping one also stops
//! what it spawned (wrangler runs workerd; gunicorn forks workers).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Group {
    name: String,
    child: Child,
}

impl Group {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Group {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Group {
            name: name.to_string(),
            child,
        }
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL to the whole group, as a crash would end it.
    pub fn kill(&mut self) {
        signal(self.child.id() as i32, "KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM to the whole group, then SIGKILL if it lingers.
    pub fn stop(&mut self) {
        let pgid = self.child.id() as i32;
        signal(pgid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.exited() {
                signal(pgid, "KILL"); // stragglers of the group
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} did not stop on SIGTERM; killing", self.name);
        signal(pgid, "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.exited() {
            self.stop();
        }
    }
}

fn signal(pgid: i32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}
