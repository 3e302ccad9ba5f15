//! Unprivileged checks of the embedded kernel objects: that they are BPF ELF files the loader
//! will accept (program section, BTF, licence), and that the BTF layout of every struct shared
//! with Rust matches `ha-common` (DESIGN.md decision 2: drift fails the tests).

#[path = "support/btf.rs"]
mod btf;

use std::mem::{offset_of, size_of, size_of_val};

use ha_common::{
    BfdSession, BfdState, Fence, IfaceConfig, LbConfig, LbConn, LbCounters, LbFlow, LbPersistKey,
    LbReal, LbService, LbStats, LbVipAddr, LbVipKey, PeerKey, PeerTtl, Vip4Slot, Vip6Key, VipValue,
    VrrpEvent, VrrpInstance, VrrpKey, VrrpState, XdpCounters,
};
use object::{Object, ObjectSection, ObjectSymbol};

/// `EM_BPF` from elf.h.
const EM_BPF: u16 = 247;

fn parse(bytes: &[u8]) -> object::File<'_> {
    object::File::parse(bytes).expect("embedded object is not an ELF file")
}

fn section_data<'a>(file: &'a object::File<'a>, name: &str) -> &'a [u8] {
    let section = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("section `{name}` missing"));
    section
        .data()
        .unwrap_or_else(|e| panic!("section `{name}` unreadable: {e}"))
}

/// Name of the section that defines symbol `name`, if the symbol exists.
fn section_of_symbol(file: &object::File<'_>, name: &str) -> Option<String> {
    let symbol = file.symbols().find(|s| s.name() == Ok(name))?;
    let section = file.section_by_index(symbol.section_index()?).ok()?;
    section.name().ok().map(str::to_owned)
}

#[test]
fn ha_xdp_is_a_bpf_elf_with_program_btf_and_licence() {
    let file = parse(ha_ebpf::HA_XDP);
    assert_eq!(file.format(), object::BinaryFormat::Elf);
    assert!(file.is_64(), "BPF objects are ELF64");
    // object has no BPF `Architecture`; read e_machine from the ELF header directly
    // (offset 18, object byte order — little-endian for bpfel).
    let e_machine = u16::from_le_bytes([ha_ebpf::HA_XDP[18], ha_ebpf::HA_XDP[19]]);
    assert_eq!(e_machine, EM_BPF, "e_machine is not EM_BPF");

    assert!(
        !section_data(&file, "xdp").is_empty(),
        "`xdp` section is empty"
    );
    assert!(
        !section_data(&file, ".BTF").is_empty(),
        "`.BTF` is empty (built without -g?)"
    );
    assert!(
        file.section_by_name(".BTF.ext").is_some(),
        "`.BTF.ext` missing"
    );
    assert!(
        file.section_by_name(".maps").is_some(),
        "BTF-defined `.maps` missing"
    );

    // The kernel refuses GPL-only helpers unless the licence string is GPL-compatible.
    assert_eq!(section_data(&file, "license"), b"Dual MIT/GPL\0");

    assert_eq!(
        section_of_symbol(&file, ha_ebpf::HA_XDP_PROGRAM).as_deref(),
        Some("xdp"),
        "ha_xdp must live in `xdp`"
    );
    assert_eq!(
        section_of_symbol(&file, ha_common::XDP_COUNTERS_MAP).as_deref(),
        Some(".maps"),
        "xdp_counters must be a BTF-defined map"
    );
}

/// (name, offset, size) of each Rust field, in declaration order like BTF's members.
macro_rules! rust_layout {
    ($t:ty: $($f:ident),* $(,)?) => {{
        let v = <$t as bytemuck::Zeroable>::zeroed();
        (
            size_of::<$t>(),
            vec![$((stringify!($f), offset_of!($t, $f), size_of_val(&v.$f))),*],
        )
    }};
}

fn check(btf: &btf::Btf, c_name: &str, rust: (usize, Vec<(&str, usize, usize)>)) {
    let (size, members) = btf
        .struct_layout(c_name)
        .unwrap_or_else(|e| panic!("struct {c_name} in BTF: {e}"));
    let c: Vec<(&str, usize, usize)> = members
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.offset_bytes as usize,
                m.size_bytes as usize,
            )
        })
        .collect();
    assert_eq!(c, rust.1, "C struct {c_name} and its Rust twin disagree");
    assert_eq!(size as usize, rust.0, "size of {c_name}");
}

/// The layout of a counters struct: its named `u64`s in order.
fn u64_fields(names: &'static [&'static str]) -> Vec<(&'static str, usize, usize)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i * 8, 8))
        .collect()
}

/// DESIGN.md decision 2: every struct crossing the boundary, as the compiled object's BTF
/// describes it, against `ha-common`.
#[test]
fn btf_layouts_match_ha_common() {
    let file = parse(ha_ebpf::HA_XDP);
    let btf = btf::Btf::parse(section_data(&file, ".BTF")).expect("parse .BTF");
    check(
        &btf,
        "ha_xdp_counters",
        (size_of::<XdpCounters>(), u64_fields(XdpCounters::NAMES)),
    );
    check(&btf, "ha_iface", rust_layout!(IfaceConfig: slot, features));
    check(
        &btf,
        "ha_lb_counters",
        (size_of::<LbCounters>(), u64_fields(LbCounters::NAMES)),
    );
    check(
        &btf,
        "ha_lb_vip_key",
        rust_layout!(LbVipKey: addr, port, proto, family),
    );
    check(
        &btf,
        "ha_lb_service",
        rust_layout!(LbService: id, table, flags, persist_timeout, persist_mask, src4, src6),
    );
    check(
        &btf,
        "ha_lb_vip_addr",
        rust_layout!(LbVipAddr: addr, family, pad),
    );
    check(
        &btf,
        "ha_lb_real",
        rust_layout!(LbReal: addr, family, method, tun_port, flags, service),
    );
    check(
        &btf,
        "ha_lb_flow",
        rust_layout!(LbFlow: src, dst, sport, dport, proto, family, pad),
    );
    check(&btf, "ha_lb_conn", rust_layout!(LbConn: real, pad, seen_ns));
    check(
        &btf,
        "ha_lb_persist_key",
        rust_layout!(LbPersistKey: service, src),
    );
    check(&btf, "ha_lb_stats", rust_layout!(LbStats: packets, bytes));
    check(
        &btf,
        "ha_lb_config",
        rust_layout!(LbConfig: table_size, tables),
    );
    check(
        &btf,
        "ha_vrrp_key",
        rust_layout!(VrrpKey: ifindex, family, vrid, pad),
    );
    check(
        &btf,
        "ha_vrrp_instance",
        rust_layout!(VrrpInstance: version, priority, state, flags, auth_type, naddrs,
            adver_int, auth_pass, master, master_prio, pad1, master_int, master_csum,
            master_len, down_ns, master_dst, master_msg),
    );
    check(
        &btf,
        "ha_vrrp_state",
        rust_layout!(VrrpState: last_seen_ns, absorbed, events, due_ns, key, armed, pad, timer),
    );
    check(&btf, "ha_peer_key", rust_layout!(PeerKey: vrrp, addr));
    check(
        &btf,
        "ha_peer_ttl",
        rust_layout!(PeerTtl: min_ttl, max_ttl, pad),
    );
    check(
        &btf,
        "ha_vip4_slot",
        rust_layout!(Vip4Slot: ifindex, addr, mac, state, pad),
    );
    check(&btf, "ha_vip6_key", rust_layout!(Vip6Key: ifindex, addr));
    check(
        &btf,
        "ha_fence",
        rust_layout!(Fence: beat_ns, stale_ns, fenced, pad, timer),
    );
    check(
        &btf,
        "ha_vip_value",
        rust_layout!(VipValue: mac, router, pad),
    );
    check(
        &btf,
        "ha_vrrp_event",
        rust_layout!(VrrpEvent: ts_ns, ifindex, kind, family, vrid, ttl, reason, pad, len,
            pad1, src, dst, data),
    );
    check(
        &btf,
        "ha_bfd_session",
        rust_layout!(BfdSession: local_disc, epoch, detect_ns, remote, family, min_ttl, flags,
            pad, expect),
    );
    check(
        &btf,
        "ha_bfd_state",
        rust_layout!(BfdState: last_rx_ns, absorbed, passed, detections, due_ns, armed,
            tripped_epoch, slot, pad, timer),
    );
}
