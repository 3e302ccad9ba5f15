# In the IPVS VM (tests/tests/ipvs.rs, real_traffic_is_balanced_*): a client namespace sends
# HTTP requests to the VIP; `ha` programs IPVS to balance them over two real-server
# namespaces running busybox httpd, health-checked with HTTP_GET. $MODE is NAT or DR.
# Prints sections: table (the kernel's table while both are up), spread (which server
# answered each request), after-kill (the table once rs2's server is gone), spread-after.
set -u
echo 1 >/proc/sys/net/ipv4/ip_forward

ns() { # NAME ADDR/PLEN: a namespace wired to the bridge
    ip netns add "$1"
    ip link add "v$1" type veth peer name eth0 netns "$1"
    ip link set "v$1" master br0 up
    ip -n "$1" link set lo up
    ip -n "$1" addr add "$2" dev eth0
    ip -n "$1" link set eth0 up
}

# One L2 segment: the director is br0 itself, the others hang off it.
ip link add br0 type bridge
ip link set br0 up
ip addr add 10.0.4.1/24 dev br0
ns rs1 10.0.4.2/24
ns rs2 10.0.4.3/24
if [ "$MODE" = DR ]; then
    # DR: the real servers answer the client directly, from the VIP, on the segment.
    ns client 10.0.4.10/24
else
    # NAT: the client on a subnet of its own, routed through the director, so the real
    # servers' replies cross the director to be rewritten.
    ip netns add client
    ip link add vclient type veth peer name eth0 netns client
    ip addr add 10.0.5.1/24 dev vclient
    ip link set vclient up
    ip -n client link set lo up
    ip -n client addr add 10.0.5.10/24 dev eth0
    ip -n client link set eth0 up
    ip -n client route add default via 10.0.5.1
fi

for r in rs1 rs2; do
    mkdir -p "/www/$r"
    echo "$r" >"/www/$r/index.html"
    if [ "$MODE" = DR ]; then
        # The VIP on lo, never answered for on the wire: the director owns it there.
        ip -n "$r" addr add 10.0.4.100/32 dev lo
        ip netns exec "$r" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    fi
    [ "$MODE" = NAT ] && ip -n "$r" route add default via 10.0.4.1
    # The binary, not the ip() function: $! must be the server itself.
    /usr/sbin/ip netns exec "$r" httpd -f -p 80 -h "/www/$r" &
    echo $! >"/run/httpd-$r.pid"
done
ip addr add 10.0.4.100/32 dev br0

cat >/tmp/lb.conf <<CONF
virtual_server 10.0.4.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind $MODE
    protocol TCP
    real_server 10.0.4.2 80 {
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
    real_server 10.0.4.3 80 {
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 1
            retry 0
        }
    }
}
CONF
ha run -C --no-xdp --no-realtime -f /tmp/lb.conf -S /run/ha.sock >/tmp/ha.log 2>&1 &
echo $! >/run/ha.pid

# Both real servers in the table (the first checks pass).
for _ in $(seq 1 50); do
    [ "$(ipvsadm -Sn | grep -c -- '-a -t 10.0.4.100:80')" = 2 ] && break
    sleep 0.2
done
section table ha ipvs

requests() { # N: that many requests from the client, one line per answer
    for _ in $(seq 1 "$1"); do
        ip netns exec client /init get 10.0.4.100:80 /index.html 2>&1
    done
}
section spread requests 10

# rs2's server dies: its checker takes it out.
stop_pid /run/httpd-rs2.pid
for _ in $(seq 1 50); do
    [ "$(ipvsadm -Sn | grep -c -- '-a -t 10.0.4.100:80')" = 1 ] && break
    sleep 0.2
done
section after-kill ha ipvs
section spread-after requests 6
section status ha status -S /run/ha.sock
stop_pid /run/ha.pid
section log tail -n 20 /tmp/ha.log
