//! The XDP forwarder's tunnels (issue 13) on Debian's kernel in the test VM: this host's
//! kernel has no ipip, fou or ip6_tunnel for the real servers to decapsulate with. One
//! director (`lb_backend xdp`) and three nginx real servers (weights 1, 2, 3): IPIP, GUE
//! and ip6ip6 services are served and spread by weight, and a stopped server is taken out.

use std::collections::BTreeMap;
use std::path::Path;

use ha_tests::vm::Vm;

fn count(text: &str) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        *c.entry(l.to_string()).or_default() += 1;
    }
    c
}

#[test]
fn tunnels_reach_real_servers_that_decapsulate_with_the_kernels_devices() {
    if !ha_tests::can_run("xdp_tun") || !ha_tests::need_program("xdp_tun", "nginx", "nginx") {
        return;
    }
    let vm = Vm::get(Path::new(env!("CARGO_BIN_EXE_ha-vm-init"))).expect("the test VM");
    let mut files = BTreeMap::new();
    files.insert(
        "xdp-tun.sh".to_string(),
        include_bytes!("../vm/xdp-tun.sh").to_vec(),
    );
    files.insert("run.sh".to_string(), b". /scenario/xdp-tun.sh\n".to_vec());
    let run = vm
        .run(&files, std::time::Duration::from_secs(300))
        .expect("the VM run");
    let console = run.console.clone();
    let section = |name: &str| {
        run.section(name)
            .unwrap_or_else(|| panic!("no section {name}; console:\n{console}"))
    };
    for (name, n) in [("ipip", 60usize), ("gue", 30), ("v6", 30)] {
        let c = count(&section(name));
        let served: usize = ["rs1", "rs2", "rs3"]
            .iter()
            .map(|r| c.get(*r).copied().unwrap_or(0))
            .sum();
        assert_eq!(
            served, n,
            "{name}: every request served by a real server: {c:?}\n{console}"
        );
        // Weights 1:2:3: the heaviest server answers more than the lightest.
        let (a, b) = (
            c.get("rs1").copied().unwrap_or(0),
            c.get("rs3").copied().unwrap_or(0),
        );
        assert!(
            b > a && b > 0,
            "{name}: weights 1:2:3 give {c:?}\n{console}"
        );
    }
    let after = count(&section("after-stop"));
    assert_eq!(
        after.get("rs2").copied().unwrap_or(0) + after.get("rs3").copied().unwrap_or(0),
        30,
        "rs1 stopped: the others answer everything: {after:?}\n{console}"
    );
    let status = section("status");
    let json: serde_json::Value = serde_json::from_str(status.trim()).expect("status json");
    let lb = &json["xdp"]["lb"];
    for k in ["forward_ipip", "forward_gue"] {
        assert!(lb[k].as_u64().unwrap_or(0) > 0, "{k}: {lb}\n{console}");
    }
}
