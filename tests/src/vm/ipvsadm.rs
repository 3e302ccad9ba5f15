//! Reading the table dumps a VM scenario prints (`ipvs_state` in scenario.sh) into a form
//! two dumps can be compared in: the kernel lists services in hash order and real servers
//! in the order they were added, which differ between two daemons programming the same
//! table; the rules are sorted, service by service.

use std::collections::BTreeMap;

/// The dump with `ipvsadm -S`'s rules grouped by service and sorted; the other parts
/// (timeouts, sync daemons, ha's view) as they are, ha's view being sorted already.
pub fn normalize(dump: &str) -> String {
    let (rules, rest) = match dump.find("-- timeout") {
        Some(i) => dump.split_at(i),
        None => (dump, ""),
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
}
