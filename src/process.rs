//! What a process costs: CPU seconds and resident memory, read from Linux's
//! `/proc`. The server reports its own at `/api/stats`; the load tool reads
//! a spawned server's and its own, so both sides of a run are measured the
//! same way. On other systems the figures are absent.
//!
//! A process's CPU time leaves out kernel work done for it in interrupt
//! context: over loopback, the receiving side of every TCP segment runs as
//! a softirq on the sender's core, and is charged to no process. So a load
//! tool pinned to a core can use up that core while its own CPU time says
//! 80 %. [`CoreTicks`] reads how busy the cores themselves were.

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

/// How busy some CPU cores were, in clock ticks since boot, from
/// `/proc/stat`: everything but idle and I/O wait counts as busy,
/// interrupts and softirqs included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreTicks {
    pub busy: u64,
    pub total: u64,
}

impl CoreTicks {
    /// The ticks, now, of the cores this process is pinned to; `None` when
    /// it may run on every core (then they are not its own to measure).
    pub fn of_own_cores() -> Option<CoreTicks> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cores = pinned_cores(&status, &stat)?;
        Some(core_ticks(&stat, &cores))
    }

    /// The busy share of the time from `earlier` to `self`, 0–1.
    pub fn busy_since(self, earlier: CoreTicks) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        self.busy.saturating_sub(earlier.busy) as f64 / total.max(1) as f64
    }
}

/// The cores a process may run on (`Cpus_allowed_list` in its `status`,
/// e.g. `1` after `taskset -c 1`, `0-3` when not pinned), if fewer than the
/// cores `/proc/stat` lists.
fn pinned_cores(status: &str, stat: &str) -> Option<Vec<usize>> {
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
    let cores = parse_core_list(list.trim())?;
    let online = stat.lines().filter(|l| core_number(l).is_some()).count();
    (cores.len() < online).then_some(cores)
}

/// `cpu3 …` → 3; the `cpu …` line of all cores together → None.
fn core_number(stat_line: &str) -> Option<usize> {
    stat_line
        .split_whitespace()
        .next()?
        .strip_prefix("cpu")?
        .parse()
        .ok()
}

/// `0-2,5` → [0, 1, 2, 5].
fn parse_core_list(list: &str) -> Option<Vec<usize>> {
    let mut cores = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((first, last)) => cores.extend(first.parse::<usize>().ok()?..=last.parse().ok()?),
            None => cores.push(part.parse().ok()?),
        }
    }
    Some(cores)
}

/// Sums the `cpuN` lines of `/proc/stat` for `cores`: user nice system idle
/// iowait irq softirq. Steal (time the hypervisor gave to another machine)
/// is left out: it was neither the process's work nor idle time it had.
fn core_ticks(stat: &str, cores: &[usize]) -> CoreTicks {
    let mut ticks = CoreTicks::default();
    let chosen = stat
        .lines()
        .filter(|line| core_number(line).is_some_and(|n| cores.contains(&n)));
    for line in chosen {
        let values: Vec<u64> = (line.split_whitespace().skip(1).take(7))
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: u64 = values.iter().sum();
        let waiting = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
        ticks.total += total;
        ticks.busy += total - waiting;
    }
    ticks
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
    fn sums_the_busy_ticks_of_the_chosen_cores() {
        let stat = "cpu  10 0 10 70 10 0 0 9 0 0\n\
                    cpu0 5 0 5 40 0 0 0 0 0 0\n\
                    cpu1 5 0 5 30 10 0 5 9 0 0\n";
        let ticks = core_ticks(stat, &[1]);
        assert_eq!(
            ticks,
            CoreTicks {
                busy: 15,
                total: 55
            }
        );
        let both = core_ticks(stat, &[0, 1]);
        assert_eq!(
            both,
            CoreTicks {
                busy: 25,
                total: 105
            }
        );
        assert_eq!(both.busy_since(CoreTicks { busy: 5, total: 5 }), 0.2);
    }

    #[test]
    fn only_a_process_on_fewer_cores_than_the_machine_is_pinned() {
        let stat = "cpu  1 0 0 0\ncpu0 1 0 0 0\ncpu1 0 0 0 0\n";
        let status = |list: &str| format!("Name:\tx\nCpus_allowed_list:\t{list}\n");
        assert_eq!(pinned_cores(&status("1"), stat), Some(vec![1]));
        assert_eq!(pinned_cores(&status("0-1"), stat), None);
    }

    #[test]
    fn reads_core_lists_like_taskset_writes_them() {
        assert_eq!(parse_core_list("1"), Some(vec![1]));
        assert_eq!(parse_core_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_core_list("x"), None);
    }

    #[test]
    fn reads_this_process() {
        let usage = own().expect("tests run on Linux");
        assert!(usage.rss_kb > 0 && usage.rss_peak_kb >= usage.rss_kb);
    }
}
