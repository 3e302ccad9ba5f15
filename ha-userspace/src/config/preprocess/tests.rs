use super::*;
use crate::test_support::TempDir;

fn run(dir: &TempDir, main: &str, id: &str) -> (Vec<String>, Diagnostics) {
    let path = dir.write("keepalived.conf", main);
    let opts = Options {
        config_id: id.to_string(),
        random_seed: 7,
        ..Options::default()
    };
    let mut d = Diagnostics::new(false);
    let src = preprocess(&path, &opts, &mut d);
    let lines = src
        .lines
        .iter()
        .map(|l| {
            l.iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (lines, d)
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let dir = TempDir::new();
    let text =
        "@main router_id main_router\n@backup router_id backup_router\n@^main x 1\n@^backup x 2\n";
    let (l, _) = run(&dir, text, "main");
    assert_eq!(l, ["router_id main_router", "x 2"]);
    let (l, _) = run(&dir, text, "other");
    assert_eq!(l, ["x 1", "x 2"]);
}

#[test]
fn definitions_replace_recursively_at_use_time() {
    // The example of keepalived.conf(5) "Parameter substitution".
    let dir = TempDir::new();
    let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n$UNSET.x ${UNDEF} $$ a$\n";
    let (l, d) = run(&dir, text, "");
    assert_eq!(
        l,
        ["10.2.0.100/32", "10.2.10.100/32", "$UNSET.x ${UNDEF} $$ a$"]
    );
    assert!(d.list().is_empty());
}

#[test]
fn definitions_combine_with_conditionals() {
    let dir = TempDir::new();
    let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n$IF_MAIN=@main\n$IF_MAIN priority 1\n";
    let (l, _) = run(&dir, text, "main");
    assert_eq!(l, ["priority 240", "priority 1"]);
    let (l, _) = run(&dir, text, "backup");
    assert_eq!(l, ["priority 200"]);
}

#[test]
fn multi_line_definitions_expand_to_lines_with_nested_definitions() {
    let dir = TempDir::new();
    let text = "$RS= \\\nreal_server 10.0.0.${N} 80 { \\\n  weight 1 \\\n}\n$VS= \\\nvirtual_server 10.1.1.1 80 { \\\n $N=1 \\\n $RS \\\n $N=2 \\\n $RS \\\n}\n$VS\n";
    let (l, _) = run(&dir, text, "");
    assert_eq!(
        l,
        [
            "virtual_server 10.1.1.1 80 {",
            "real_server 10.0.0.1 80 {",
            "weight 1",
            "}",
            "real_server 10.0.0.2 80 {",
            "weight 1",
            "}",
            "}"
        ]
    );
}

#[test]
fn builtins() {
    let dir = TempDir::new();
    let text = "a ${_HASH}x${_BANG} # comment\nb ${_PWD}\nc ${_INSTANCE}\nd ${_RANDOM 5 5}\ne ${_RANDOM}\n";
    let (l, _) = run(&dir, text, "node1");
    let pwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(l[0], "a #x!");
    assert_eq!(l[1], format!("b {}", pwd.display()));
    assert_eq!(l[2], "c node1");
    assert_eq!(l[3], "d 5");
    let r: u32 = l[4][2..].parse().unwrap();
    assert!(r <= 32767);
}

#[test]
fn seq_and_lst_as_in_the_man_page() {
    let dir = TempDir::new();
    let (l, _) = run(&dir, "~SEQ(SUBNET, 0, 3) ip 10.0.${SUBNET}.1\n", "");
    assert_eq!(
        l,
        ["ip 10.0.0.1", "ip 10.0.1.1", "ip 10.0.2.1", "ip 10.0.3.1"]
    );
    let (l, _) = run(&dir, "~SEQx(S, 0x90, 0x10, 0xc0) fe80::20:${S}:1\n", "");
    assert_eq!(
        l,
        [
            "fe80::20:90:1",
            "fe80::20:a0:1",
            "fe80::20:b0:1",
            "fe80::20:c0:1"
        ]
    );
    let (l, _) = run(&dir, "~SEQ(A, 3) ~SEQ(B, 2, 1) ${A}.${B}\n", "");
    assert_eq!(l, ["1.2", "1.1", "2.2", "2.1", "3.2", "3.1"]);
    let (l, _) = run(
        &dir,
        "~LST({IP, IP1}, {10,1},{20,4}) ~LST(X, a, b) 192.${X}.${IP}.${IP1}\n",
        "",
    );
    assert_eq!(l, ["192.a.10.1", "192.b.10.1", "192.a.20.4", "192.b.20.4"]);
    let (l, d) = run(&dir, "~SEQ(X, 1, 0, 5) y\n", "");
    assert!(l.is_empty());
    assert!(d.list()[0].what.contains("step is 0"));
    // keepalived's checked cases: step in the middle, strtol numbers, $DEF in the bounds.
    let text = "$N=010\n~SEQ (i, 1, 3, 7) a${i}\n~SEQ(i, 5, -2, 1) b$i\n~SEQ( i , $N ) c${i}\n~SEQ(i, 0) d${i}\n";
    let (l, _) = run(&dir, text, "");
    assert_eq!(l.len(), 3 + 3 + 8 + 2);
    assert_eq!(&l[..6], ["a1", "a4", "a7", "b5", "b3", "b1"]);
    assert_eq!(&l[14..], ["d1", "d0"]);
    let (l, d) = run(&dir, "~SEQ(i, 3, 1, 1) x\n~SEQx(i, -1, 2) y\n", "");
    assert!(l.is_empty());
    assert_eq!(d.list().len(), 2);
    let (l, _) = run(&dir, "~LST({a, b}, {1,2}, {5}) x${a}y${b}z\n", "");
    assert_eq!(l, ["x1y2z", "x5yz"]);
}

#[test]
fn dollar_names_end_at_blank_comma_paren_or_end() {
    let dir = TempDir::new();
    let (l, _) = run(&dir, "$A=v\nk $A,$A) $A/x \"$A\" $A\n", "");
    assert_eq!(l, ["k v,v) $A/x $A v"]);
}

#[test]
fn includes_globs_braces_relative_to_the_including_file() {
    let dir = TempDir::new();
    dir.write("conf.d/b.conf", "b 1\n");
    dir.write("conf.d/a.conf", "a 1\ninclude ../inc/{x,y}.conf\n");
    dir.write("inc/x.conf", "x 1\n");
    dir.write("inc/y.conf", "y 1\n");
    let (l, d) = run(
        &dir,
        "include conf.d/*.conf\ninclude none/*.conf\nend\n",
        "",
    );
    assert_eq!(l, ["a 1", "x 1", "y 1", "b 1", "end"]);
    assert!(d.list().is_empty(), "{:?}", d.list());
}

#[test]
fn include_loops_missing_and_special_files_are_reported() {
    let dir = TempDir::new();
    dir.write("loop.conf", "include keepalived.conf\n");
    let (_, d) = run(&dir, "include loop.conf\n", "");
    assert!(d.has_errors());
    assert!(d.list()[0].what.contains("include loop"), "{:?}", d.list());

    let (l, d) = run(&dir, "include /dev/zero\ninclude missing.conf\nok\n", "");
    assert_eq!(l, ["ok"]);
    assert_eq!(d.list().len(), 2);
    assert!(d.list()[0].what.contains("not a regular file"));
    assert!(d.list()[1].what.contains("cannot read"));
    assert!(!d.has_errors());
}

#[test]
fn binary_and_oversized_files_are_errors() {
    let dir = TempDir::new();
    let (_, d) = run(&dir, "a\0b\n", "");
    assert!(d.has_errors());
    assert!(d.list()[0].what.contains("NUL byte on line 1"));

    let big = dir.write("big.conf", "");
    std::fs::write(&big, vec![b'#'; 2048]).unwrap();
    let opts = Options {
        limits: Limits {
            max_file_bytes: 1024,
            ..Limits::default()
        },
        ..Options::default()
    };
    let mut d = Diagnostics::new(false);
    preprocess(&big, &opts, &mut d);
    assert!(d.list()[0].what.contains("2048 bytes"));
}

#[test]
fn recursive_definitions_stop_with_an_error() {
    let dir = TempDir::new();
    let (_, d) = run(&dir, "$A=x ${A}\n${A}\n", "");
    assert!(d.has_errors());
    assert!(d.list()[0].what.contains("expand too deeply"));
}

#[test]
fn brace_expansion() {
    assert_eq!(expand_braces("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
    assert_eq!(expand_braces("plain"), ["plain"]);
    assert_eq!(expand_braces("open{x"), ["open{x"]);
}
