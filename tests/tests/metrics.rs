//! `ha run --metrics ADDR:PORT`: a real scrape with curl inside the node's namespace, parsed
//! by the Prometheus client library's OpenMetrics parser (python3-prometheus-client), and
//! the values checked against what the daemon does: a MASTER and a BACKUP, adverts counted,
//! a real server up and one down, the XDP counters, a BFD session.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::gate::{need_program, skip};
use ha_tests::lab::{Lab, Node};
use ha_tests::{can_run, wait_until};

const PORT: u16 = 9100;

/// Parses OpenMetrics text into (name{labels} → value), failing on anything the parser
/// refuses. Labels are rendered sorted, `k="v"` joined by commas.
const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
"#;

fn scrape(node: &Node, path: &str) -> (String, String) {
    let out = node
        .command(Path::new("curl"))
        .args(["-s", "-D", "-", &format!("http://127.0.0.1:{PORT}{path}")])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((h, b)) => (h.to_string(), b.to_string()),
        None => (text, String::new()),
    }
}

fn parse(body: &str) -> BTreeMap<String, f64> {
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("parser");
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused the scrape: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn value(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key).unwrap_or_else(|| {
        panic!(
            "{key} not in the scrape: {:#?}",
            m.keys().collect::<Vec<_>>()
        )
    })
}

#[test]
fn a_scrape_parses_and_says_what_the_daemon_does() {
    let test = "a_scrape_parses_and_says_what_the_daemon_does";
    if !can_run(test) || !need_program(test, "curl", "curl") {
        return;
    }
    let parser = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .status()
        .is_ok_and(|s| s.success());
    if !parser
        && !skip(
            test,
            "the OpenMetrics parser is not installed (apt-get install python3-prometheus-client)",
        )
    {
        return;
    }
    let lab = Lab::new("metr", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let bfd = |peer: &Node, me: &Node| {
        format!(
            "bfd_instance PEER {{\n    neighbor_ip {}\n    source_ip {}\n    min_rx 10\n    \
             min_tx 10\n    multiplier 3\n}}\n",
            peer.ip4, me.ip4
        )
    };
    let vs = "virtual_server 10.0.0.100 80 {\n    delay_loop 1\n    lb_kind DR\n    protocol TCP\n\
              \x20   real_server 10.0.0.1 80 {\n        MISC_CHECK {\n            misc_path /bin/true\n        }\n    }\n\
              \x20   real_server 10.0.0.2 80 {\n        MISC_CHECK {\n            misc_path /bin/false\n        }\n    }\n}\n";
    let ca = format!(
        "{}{}{vs}",
        bfd(b, a),
        config("", &[InstanceSpec::new("VI_1", 51, 150)])
    );
    let cb = format!(
        "{}{}",
        bfd(a, b),
        config("", &[InstanceSpec::new("VI_1", 51, 100)])
    );
    let metrics = format!("127.0.0.1:{PORT}");
    let da = Daemon::start_with(&lab, a, Kind::Ha, &ca, &["--metrics", &metrics]);
    let _db = Daemon::start(&lab, b, Kind::Ha, &cb);
    let inst = r#"{family="inet",instance="VI_1",interface="eth0",vrid="51"}"#;
    // Settled: a master for a while (a dozen adverts sent), BFD up, the checks run.
    let settled = |m: &BTreeMap<String, f64>| {
        m.get(r#"ha_vrrp_state{instance="VI_1",state="MASTER"}"#) == Some(&1.0)
            && m.get(&format!("ha_vrrp_adverts_sent_total{inst}"))
                .is_some_and(|n| *n > 10.0)
            && m.get(r#"ha_bfd_session_up{neighbor="192.0.2.2",session="PEER"}"#) == Some(&1.0)
            && m.get(r#"ha_real_server_up{real_server="[10.0.0.2]:80",virtual_server="[10.0.0.100]:80"}"#)
                == Some(&0.0)
    };
    let mut last = BTreeMap::new();
    let ok = wait_until(Duration::from_secs(20), || {
        let (_, body) = scrape(a, "/metrics");
        last = parse(&body);
        settled(&last)
    });
    assert!(ok, "{last:#?}\n{}", da.log_text());
    let (head, body) = scrape(a, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(
        body.trim_end().ends_with("# EOF"),
        "not OpenMetrics: {body}"
    );
    let m = parse(&body);
    assert_eq!(
        value(&m, r#"ha_vrrp_state{instance="VI_1",state="BACKUP"}"#),
        0.0
    );
    assert_eq!(value(&m, &format!("ha_vrrp_priority{inst}")), 150.0);
    assert!(value(&m, &format!("ha_vrrp_adverts_sent_total{inst}")) > 10.0);
    assert_eq!(
        value(&m, &format!("ha_vrrp_master_transitions_total{inst}")),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"ha_real_server_up{real_server="[10.0.0.1]:80",virtual_server="[10.0.0.100]:80"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            r#"ha_checker_up{checker="MISC_CHECK",real_server="[10.0.0.2]:80",target="/bin/false",virtual_server="[10.0.0.100]:80"}"#
        ),
        0.0
    );
    assert!(
        value(
            &m,
            r#"ha_bfd_packets_sent_total{neighbor="192.0.2.2",session="PEER"}"#
        ) > 0.0
    );
    if std::env::var_os("HA_TEST_NO_XDP").is_none() {
        assert!(
            value(
                &m,
                r#"ha_xdp_frames_total{counter="pass_other",interface="eth0"}"#
            ) >= 0.0
        );
    }
    // Counters only grow between scrapes.
    std::thread::sleep(Duration::from_millis(300));
    let later = parse(&scrape(a, "/metrics").1);
    let k = format!("ha_vrrp_adverts_sent_total{inst}");
    assert!(value(&later, &k) > value(&m, &k));
    // Anything else is refused politely.
    assert!(scrape(a, "/other").0.starts_with("HTTP/1.1 404"));
}
