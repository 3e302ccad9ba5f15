//! Generated config variants for the differential test: each valid corpus file with one
//! typical mistake, so that ha and keepalived are compared on broken input too.

pub struct Variant {
    pub what: &'static str,
    pub text: String,
}

pub fn variants(text: &str) -> Vec<Variant> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut push = |what: &'static str, new: Vec<String>| {
        let t = new.join("\n") + "\n";
        if t != text {
            out.push(Variant { what, text: t });
        }
    };
    let owned = || lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();

    // An unknown keyword inside the first block.
    if let Some(i) = lines.iter().position(|l| l.trim_end().ends_with('{')) {
        let mut v = owned();
        v.insert(i + 1, "    ha_no_such_keyword 1".into());
        push("unknown keyword", v);
    }
    // The last closing brace lost.
    if let Some(i) = lines.iter().rposition(|l| l.trim() == "}") {
        let mut v = owned();
        v.remove(i);
        push("missing '}'", v);
    }
    // One closing brace too many.
    let mut v = owned();
    v.push("}".into());
    push("extra '}'", v);
    // Numbers out of range for the first priority / weight / virtual_router_id.
    for (kw, bad, what) in [
        ("priority", "300", "priority out of range"),
        ("virtual_router_id", "256", "VRID out of range"),
        ("weight", "x1", "weight not a number"),
        ("advert_int", "0.001", "advert_int too precise"),
        ("delay_loop", "-1", "negative delay_loop"),
    ] {
        if let Some(i) = lines
            .iter()
            .position(|l| l.split_whitespace().next() == Some(kw))
        {
            let mut v = owned();
            let indent: String = lines[i].chars().take_while(|c| c.is_whitespace()).collect();
            v[i] = format!("{indent}{kw} {bad}");
            push(what, v);
        }
    }
    // The first IPv4 address made invalid.
    if let Some(i) = lines.iter().position(|l| {
        l.split_whitespace().next().is_some_and(|w| {
            w.split('/')
                .next()
                .is_some_and(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
        })
    }) {
        let mut v = owned();
        v[i] = v[i].replacen(".", ".999.", 1);
        push("bad address in a list", v);
    }
    out
}
