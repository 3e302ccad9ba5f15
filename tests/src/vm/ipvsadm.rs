//! Reading the table dumps a VM scenario prints (`ipvs_state` in scenario.sh) into a form
//! two dumps can be compared in: the kernel lists services in hash order and real servers
//! in the order they were added, which differ between two daemons programming the same
//! table; the rules are sorted, service by service.

use std::collections::BTreeMap;

/// The dump with `ipvsadm -S`'s rules grouped by service and sorted; the other parts
/// (timeouts, sync daemons, ha's view) as they are, ha's view being sorted already.
pub fn normalize(dump: &str) -> String {
    let kept: Vec<&str> = dump.lines().filter(|l| !console_syslog(l)).collect();
    let dump = kept.join("\n");
    let (rules, rest) = match dump.find("-- timeout") {
        Some(i) => dump.split_at(i),
        None => (dump.as_str(), ""),
    };
    let mut services: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in rules.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // `-A -t 10.0.0.1:80 -s rr` / `-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1`: the
        // service is the second and third words.
        let words: Vec<&str> = line.split_whitespace().collect();
        let key = words.get(1..3).map(|w| w.join(" ")).unwrap_or_default();
        services.entry(key).or_default().push(line.to_string());
    }
    let mut out = String::new();
    for (_, mut lines) in services {
        lines.sort();
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out.push_str(rest.trim_end());
    out.push('\n');
    out
}

/// A daemon's syslog line that reached the serial console in the middle of a dump
/// (`Keepalived_healthcheckers[181]: send ICMP packet fail`: the VM has no syslog daemon,
/// so syslog(3) falls back to the console): `Name[pid]: text`. No dump line looks so.
fn console_syslog(line: &str) -> bool {
    let Some((head, _)) = line.split_once("]: ") else {
        return false;
    };
    let Some((name, pid)) = head.split_once('[') else {
        return false;
    };
    !name.is_empty()
        && !name.contains(' ')
        && !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
}

/// The lines in one normalized dump and not the other, `-` for `a`'s and `+` for `b`'s.
pub fn differing_rows(a: &str, b: &str) -> Vec<String> {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let mut out = Vec::new();
    for l in &la {
        if !lb.contains(l) {
            out.push(format!("- {l}"));
        }
    }
    for l in &lb {
        if !la.contains(l) {
            out.push(format!("+ {l}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_services_and_real_servers_does_not_matter() {
        let a = "-A -t 1.1.1.1:80 -s rr\n-a -t 1.1.1.1:80 -r 2.2.2.2:80 -m -w 1\n\
                 -a -t 1.1.1.1:80 -r 2.2.2.1:80 -m -w 1\n-A -u 1.1.1.1:53 -s wlc\n-- timeout\nT\n";
        let b = "-A -u 1.1.1.1:53 -s wlc\n-A -t 1.1.1.1:80 -s rr\n\
                 -a -t 1.1.1.1:80 -r 2.2.2.1:80 -m -w 1\n-a -t 1.1.1.1:80 -r 2.2.2.2:80 -m -w 1\n-- timeout\nT\n";
        assert_eq!(normalize(a), normalize(b));
        let c = b.replace("-w 1\n-- timeout", "-w 2\n-- timeout");
        assert_eq!(differing_rows(&normalize(a), &normalize(&c)).len(), 2);
    }

    /// keepalived's syslog reaches the console when the VM has no syslog daemon; a line
    /// of it inside a dump is not part of the table.
    #[test]
    fn console_syslog_lines_are_not_part_of_a_dump() {
        let a = "-A -u 10.10.10.2:1358 -s rr -p 50\n-- timeout\nT\n-- ha\nUDP x\n";
        let b = "-A -u 10.10.10.2:1358 -s rr -p 50\n\
                 Keepalived_healthcheckers[181]: send ICMP packet fail\n-- timeout\nT\n-- ha\n\
                 Keepalived_healthcheckers[181]: send ICMP packet fail\nUDP x\n";
        assert_eq!(normalize(a), normalize(b));
        assert!(!console_syslog("-A -t [2001:db8::1]:80 -s rr"));
        assert!(!console_syslog(
            "  -> [10.0.0.1]:80 Route weight 1 active 0 inactive 0"
        ));
    }
}
