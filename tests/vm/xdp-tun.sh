# In the test VM (tests/tests/xdp_tun.rs): the XDP forwarder's tunnels on Debian's kernel,
# which has ipip and fou (this host's kernel has neither). A client, an `ha` director
# (VRRP + lb_backend xdp) and three real servers running nginx on one bridge. Port 80 is
# forwarded over IPIP, port 81 over GUE (port 6080), port 82 over IPv6 (ip6ip6, to the
# servers' IPv6 addresses). Each real server decapsulates with the kernel's own devices
# (tunl0, fou, ip6tnl0) and answers the client directly from the VIP.
# Sections: ipip, gue, v6 (which server answered each request), after-stop (port 80 once
# rs1's nginx is gone), status (ha's view).
set -u

ns() { # NAME N: a namespace on the bridge with 10.0.4.N/24 and fd00::N/64
    ip netns add "$1"
    ip link add "v$1" type veth peer name eth0 netns "$1"
    ip link set "v$1" master br0 up
    ip -n "$1" link set lo up
    ip -n "$1" addr add "10.0.4.$2/24" dev eth0
    ip -n "$1" addr add "fd00::$2/64" dev eth0 nodad
    ip -n "$1" link set eth0 up
}

ip link add br0 type bridge
ip link set br0 type bridge forward_delay 0 mcast_snooping 0
ip link set br0 up
ns client 10
ns d1 11
ip netns exec d1 sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# The IPv6 VIP is a plain address of the director (no VRRP instance holds it): always
# forwarded. Deprecated, so that the director's own connections (the checkers') leave
# from fd00::11: a reply to the VIP would stay on the real server, which holds it too.
ip -n d1 addr add fd00::100/64 dev eth0 nodad preferred_lft 0
for i in 1 2 3; do
    r=rs$i
    ns "$r" $((i + 1))
    ip netns exec "$r" sysctl -q -w net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
        net.ipv4.conf.all.arp_announce=2
    # The decapsulating devices: tunl0 and ip6tnl0 exist in every namespace once the
    # modules are loaded; fou hands UDP port 6080 (GUE) to them.
    ip -n "$r" link set tunl0 up
    ip -n "$r" link set ip6tnl0 up
    ip netns exec "$r" sysctl -q -w net.ipv4.conf.tunl0.rp_filter=0
    ip -n "$r" addr add 10.0.4.100/32 dev tunl0
    ip -n "$r" addr add fd00::100/128 dev ip6tnl0
    ip -n "$r" fou add port 6080 gue
    mkdir -p "/srv/$r/www"
    echo "$r" >"/srv/$r/www/index.html"
    cat >"/srv/$r/nginx.conf" <<CONF
daemon off;
master_process off;
pid /srv/$r/nginx.pid;
error_log /srv/$r/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path /srv/$r/cb;
    proxy_temp_path /srv/$r/px;
    fastcgi_temp_path /srv/$r/fc;
    uwsgi_temp_path /srv/$r/uw;
    scgi_temp_path /srv/$r/sc;
    server {
        listen 80;
        listen 81;
        listen [::]:82;
        root /srv/$r/www;
    }
}
CONF
    /usr/sbin/ip netns exec "$r" nginx -p "/srv/$r" -c "/srv/$r/nginx.conf" -e "/srv/$r/error.log" &
    echo $! >"/run/nginx-$r.pid"
done

rs() { # PORT HOST-SUFFIX METHOD: the three real servers with weights 1, 2, 3
    for i in 1 2 3; do
        cat <<CONF
    real_server $2$((i + 1)) $1 {
        weight $i
        lvs_method $3
        TCP_CHECK {
            connect_timeout 1
            retry 0
            delay_loop 1
        }
    }
CONF
    done
}

cat >/tmp/lb.conf <<CONF
global_defs {
    lb_backend xdp
}
vrrp_instance VI {
    interface eth0
    state MASTER
    virtual_router_id 51
    version 3
    priority 150
    advert_int 0.1
    virtual_ipaddress {
        10.0.4.100/24
    }
}
virtual_server 10.0.4.100 80 {
    delay_loop 1
    lb_kind TUN
    protocol TCP
$(rs 80 10.0.4. TUN)
}
virtual_server 10.0.4.100 81 {
    delay_loop 1
    lb_kind TUN
    protocol TCP
$(rs 81 10.0.4. "TUN type gue port 6080")
}
virtual_server fd00::100 82 {
    delay_loop 1
    lb_kind TUN
    protocol TCP
$(rs 82 fd00:: TUN)
}
CONF
/usr/sbin/ip netns exec d1 ha run --no-realtime -f /tmp/lb.conf -S /run/ha.sock >/tmp/ha.log 2>&1 &
echo $! >/run/ha.pid

live() { # the real servers live in ha's table
    ha status -S /run/ha.sock 2>/dev/null | grep -c -- '-> .* slots'
}
for _ in $(seq 1 100); do
    [ "$(live)" = 9 ] && break
    sleep 0.2
done

requests() { # ADDR:PORT N: one line per answer
    for _ in $(seq 1 "$2"); do
        ip netns exec client /init get "$1" /index.html 2>&1
    done
}
section ipip requests 10.0.4.100:80 60
section gue requests 10.0.4.100:81 30
section v6 requests '[fd00::100]:82' 30

stop_pid /run/nginx-rs1.pid
for _ in $(seq 1 100); do
    [ "$(live)" = 6 ] && break
    sleep 0.2
done
section after-stop requests 10.0.4.100:80 30
section status ha status -S /run/ha.sock --json
stop_pid /run/ha.pid
section log sh -c 'grep -v "busy for\|woke" /tmp/ha.log | head -n 40; echo ...; grep -B12 "processed .* insns" /tmp/ha.log; echo ...; grep -v "busy for\|woke" /tmp/ha.log | tail -n 20'
