//! The real servers of `ha_tests::servers` work: each is started on node 1 of a lab, answers
//! a client on node 2 over IPv4 and IPv6, can be broken the way the health-checker tests
//! break it, stops answering when stopped, and answers again when started again.
//!
//! Skipped with a visible message without root or the server's package (CI installs them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use ha_tests::lab::{Lab, Node};
use ha_tests::servers::{in_netns, Dns, Nginx, NginxOpts, Smtp, UdpEcho, DNS_PORT, SMTP_PORT};
use ha_tests::{need_program, need_root, skip};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Node 1's IPv4 and IPv6 addresses with `port`.
fn both(node: &Node, port: u16) -> [SocketAddr; 2] {
    [
        SocketAddr::new(node.ip4.into(), port),
        SocketAddr::new(node.ip6.into(), port),
    ]
}

/// A UDP socket of `to`'s family, receiving with [`TIMEOUT`].
fn udp_socket(to: SocketAddr) -> UdpSocket {
    let any: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let s = UdpSocket::bind((any, 0)).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

fn refuses_tcp(client: &Node, to: SocketAddr) -> bool {
    in_netns(client, || TcpStream::connect_timeout(&to, TIMEOUT).is_err()).unwrap()
}

/// `GET path` over HTTP/1.0 from `client`: the status and the body.
fn http_get(client: &Node, to: SocketAddr, path: &str) -> (u16, String) {
    in_netns(client, || {
        let mut s = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("read reply");
        parse_http(&reply)
    })
    .unwrap()
}

/// The same over HTTPS with `openssl s_client`, verifying the server's certificate
/// (`cert`, self-signed) for the address.
fn https_get(client: &Node, to: SocketAddr, path: &str, cert: &std::path::Path) -> (u16, String) {
    let mut c = client
        .command("openssl".as_ref())
        .args(["s_client", "-quiet", "-verify_return_error", "-connect"])
        .arg(to.to_string())
        .arg("-verify_ip")
        .arg(to.ip().to_string())
        .arg("-CAfile")
        .arg(cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client");
    let mut stdin = c.stdin.take().unwrap();
    write!(stdin, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    drop(stdin);
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "s_client to {to}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_http(&String::from_utf8_lossy(&out.stdout))
}

fn parse_http(reply: &str) -> (u16, String) {
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {reply:?}"));
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

#[test]
fn nginx_serves_http_and_https() {
    if !(need_root("nginx")
        && need_program("nginx", "nginx", "nginx")
        && need_program("nginx", "openssl", "openssl"))
    {
        return;
    }
    let lab = Lab::new("srv", 2, false).unwrap();
    let (server, client) = (&lab.nodes[0], &lab.nodes[1]);
    let mut nginx = Nginx::start(&lab, server, NginxOpts::index("hello\n")).unwrap();
    for to in both(server, 80) {
        assert_eq!(http_get(client, to, "/"), (200, "hello\n".into()), "{to}");
    }
    for to in both(server, 443) {
        let got = https_get(client, to, "/", &nginx.cert);
        assert_eq!(got, (200, "hello\n".into()), "{to}");
    }
    assert_eq!(nginx.requests("/"), 4, "{}", nginx.log_text());

    let http = both(server, 80)[0];
    nginx.set_page("index.html", "changed\n");
    assert_eq!(http_get(client, http, "/"), (200, "changed\n".into()));
    nginx.set_page("sub/page.html", "deep\n");
    assert_eq!(http_get(client, http, "/sub/page.html").1, "deep\n");
    nginx.remove_page("index.html");
    assert_eq!(http_get(client, http, "/index.html").0, 404);
    assert_eq!(
        http_get(client, http, "/").0,
        403,
        "a directory without index"
    );
    assert_eq!(nginx.requests("/"), 6);
    assert_eq!(nginx.requests("/sub/page.html"), 1);

    nginx.stop();
    for to in both(server, 80).into_iter().chain(both(server, 443)) {
        assert!(refuses_tcp(client, to), "{to} still answers");
    }
    nginx.start_again().unwrap();
    nginx.set_page("index.html", "back\n");
    assert_eq!(http_get(client, http, "/"), (200, "back\n".into()));
    assert_eq!(nginx.requests("/"), 7, "the count spans restarts");
}

/// A DNS query for `name`'s A records: the response code and the addresses.
fn dns_a(client: &Node, server: SocketAddr, name: &str) -> Option<(u8, Vec<Ipv4Addr>)> {
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    let reply = in_netns(client, || {
        let s = udp_socket(server);
        s.send_to(&query, server).unwrap();
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    })
    .unwrap()?;
    assert_eq!(reply[..2], [0x12, 0x34], "query id");
    let rcode = reply[3] & 0x0f;
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    // Skips a (possibly compressed) name at `i`.
    let skip_name = |mut i: usize| loop {
        match reply[i] {
            0 => return i + 1,
            l if l & 0xc0 == 0xc0 => return i + 2,
            l => i += 1 + usize::from(l),
        }
    };
    let mut i = skip_name(12) + 4;
    let mut addrs = Vec::new();
    for _ in 0..answers {
        i = skip_name(i);
        let kind = u16::from_be_bytes([reply[i], reply[i + 1]]);
        let len = usize::from(u16::from_be_bytes([reply[i + 8], reply[i + 9]]));
        i += 10;
        if kind == 1 && len == 4 {
            addrs.push(Ipv4Addr::new(
                reply[i],
                reply[i + 1],
                reply[i + 2],
                reply[i + 3],
            ));
        }
        i += len;
    }
    Some((rcode, addrs))
}

#[test]
fn dnsmasq_answers_and_can_be_broken() {
    if !(need_root("dnsmasq") && need_program("dnsmasq", "dnsmasq", "dnsmasq-base")) {
        return;
    }
    const NAME: &str = "www.test.example";
    let good: IpAddr = Ipv4Addr::new(192, 0, 2, 50).into();
    let lab = Lab::new("srv", 2, false).unwrap();
    let (server, client) = (&lab.nodes[0], &lab.nodes[1]);
    let mut dns = Dns::start(&lab, server, &[(NAME, good)]).unwrap();
    let ok = Some((0, vec![Ipv4Addr::new(192, 0, 2, 50)]));
    let nxdomain = Some((3, vec![]));
    for to in both(server, DNS_PORT) {
        assert_eq!(dns_a(client, to, NAME), ok, "{to}\n{}", dns.log_text());
        assert_eq!(dns_a(client, to, "other.test.example"), nxdomain, "{to}");
    }
    let to = both(server, DNS_PORT)[0];
    dns.set_records(&[]).unwrap();
    assert_eq!(dns_a(client, to, NAME), nxdomain);
    dns.set_records(&[(NAME, good)]).unwrap();
    assert_eq!(dns_a(client, to, NAME), ok);

    dns.stop();
    assert_eq!(dns_a(client, to, NAME), None, "stopped, yet answers");
    assert!(refuses_tcp(client, to));
    dns.start_again().unwrap();
    assert_eq!(dns_a(client, to, NAME), ok);
}

/// The greeting and the reply to `HELO`: the SMTP_CHECK dialogue.
fn smtp_helo(client: &Node, to: SocketAddr) -> (String, String) {
    in_netns(client, || {
        let s = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut line = || {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            l
        };
        let greeting = line();
        w.write_all(b"HELO client\r\n").unwrap();
        let helo = line();
        w.write_all(b"QUIT\r\n").unwrap();
        (greeting, helo)
    })
    .unwrap()
}

#[test]
fn aiosmtpd_answers_smtp() {
    if !need_root("aiosmtpd") || !have_aiosmtpd() {
        return;
    }
    let lab = Lab::new("srv", 2, false).unwrap();
    let (server, client) = (&lab.nodes[0], &lab.nodes[1]);
    let mut smtp = Smtp::start(&lab, server).unwrap();
    for to in both(server, SMTP_PORT) {
        let (greeting, helo) = smtp_helo(client, to);
        assert!(greeting.starts_with("220 "), "{to}: {greeting:?}");
        assert!(helo.starts_with("250 "), "{to}: {helo:?}");
    }
    assert_eq!(smtp.mails(), 0);
    smtp.stop();
    for to in both(server, SMTP_PORT) {
        assert!(refuses_tcp(client, to), "{to} still answers");
    }
    smtp.start_again().unwrap();
    let (greeting, _) = smtp_helo(client, both(server, SMTP_PORT)[1]);
    assert!(greeting.starts_with("220 "), "{greeting:?}");
}

fn have_aiosmtpd() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok || skip("aiosmtpd", "apt-get install python3-aiosmtpd")
}

/// Sends `data` from a socket connected to `to` (so only an answer from `to` itself counts)
/// and returns what came back, if anything did.
fn udp_roundtrip(client: &Node, to: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
    in_netns(client, || {
        let s = udp_socket(to);
        s.connect(to).unwrap();
        s.send(data).unwrap();
        let mut buf = [0u8; 1500];
        let n = s.recv(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    })
    .unwrap()
}

#[test]
fn udp_echo_echoes() {
    let python = std::path::Path::new("/usr/bin/python3").is_file();
    if !(need_root("udp_echo") && (python || skip("udp_echo", "apt-get install python3"))) {
        return;
    }
    let lab = Lab::new("srv", 2, false).unwrap();
    let (server, client) = (&lab.nodes[0], &lab.nodes[1]);
    let mut echo = UdpEcho::start(&lab, server, 7).unwrap();
    // Also from a second address of the node, as a VIP would be: the reply must come from it.
    server
        .ip(&["addr", "add", "192.0.2.100/24", "dev", "eth0"])
        .unwrap();
    let vip = SocketAddr::new(Ipv4Addr::new(192, 0, 2, 100).into(), 7);
    for to in both(server, 7).into_iter().chain([vip]) {
        assert_eq!(
            udp_roundtrip(client, to, b"ping"),
            Some(b"ping".to_vec()),
            "{to}"
        );
    }
    echo.stop();
    for to in both(server, 7) {
        assert_eq!(
            udp_roundtrip(client, to, b"ping"),
            None,
            "{to} still echoes"
        );
    }
    echo.start_again().unwrap();
    assert_eq!(
        udp_roundtrip(client, both(server, 7)[1], b"again"),
        Some(b"again".to_vec())
    );
}
