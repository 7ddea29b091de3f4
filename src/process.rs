//! What a process costs: CPU seconds and resident memory, read from Linux's
//! `/proc`. The server reports its own at `/api/stats`; the load tool reads
//! a spawned server's and its own, so both sides of a run are measured the
//! same way. On other systems the figures are absent.

use serde::{Deserialize, Serialize};

/// One reading of a process's cost.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Usage {
    /// User + system CPU time since the process started.
    pub cpu_s: f64,
    /// Resident memory now.
    pub rss_kb: u64,
    /// The most resident memory the process has had (VmHWM).
    pub rss_peak_kb: u64,
}

/// This process's usage.
pub fn own() -> Option<Usage> {
    of("self")
}

/// The usage of process `pid`.
pub fn of_pid(pid: u32) -> Option<Usage> {
    of(&pid.to_string())
}

fn of(proc_name: &str) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{proc_name}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{proc_name}/status")).ok()?;
    Some(Usage {
        cpu_s: cpu_seconds(&stat)?,
        rss_kb: status_kb(&status, "VmRSS:")?,
        rss_peak_kb: status_kb(&status, "VmHWM:")?,
    })
}

/// Fields 14 and 15 of `/proc/PID/stat` (utime, stime), in clock ticks.
/// The command name (field 2) may contain spaces, so count from its `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / CLOCK_TICKS_PER_SECOND)
}

/// `USER_HZ`: 100 on every Linux architecture in practice.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_from_stat_even_with_spaces_in_the_name() {
        let stat = "42 (my prog) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_seconds(stat), Some(3.0));
    }

    #[test]
    fn reads_this_process() {
        let usage = own().expect("tests run on Linux");
        assert!(usage.rss_kb > 0 && usage.rss_peak_kb >= usage.rss_kb);
    }
}
