# In the IPVS VM (tests/tests/ipvs.rs, the lifecycle oracle test): the same life under
# keepalived (k) and under ha (h); the test compares their sections. A real server's port
# is closed inside the VM and both daemons must converge to the same table; lvs_flush
# empties the table at start, lvs_flush_on_stop VS removes only the daemon's services; an
# lvs_sync_daemon tied to no instance runs both daemons from start to stop.
set -u
ip addr add 10.0.8.2/32 dev lo
ip link add sy0 type veth peer name sy1
ip link set sy0 up
ip link set sy1 up
mkdir -p /www
echo ok >/www/index.html

cat >/tmp/c1.conf <<'CONF'
global_defs {
    lvs_flush
    lvs_flush_on_stop VS
    lvs_timeouts tcp 1000 udp 100
    lvs_sync_daemon sy0 id 7
}
virtual_server 10.0.8.100 80 {
    delay_loop 1
    lb_algo wlc
    lb_kind NAT
    protocol TCP
    real_server 10.0.8.2 8081 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.0.8.3 8081 {
        weight 3
        inhibit_on_failure
        TCP_CHECK {
            connect_ip 10.0.8.2
            connect_timeout 1
        }
    }
}
CONF

# $! must be the daemon's own pid: each is started by a plain command.
start_k() {
    keepalived -n -l --check -f /tmp/c1.conf -p /run/kp.pid -c /run/kc.pid >/tmp/d.log 2>&1 &
    echo $! >/run/d.pid
}
start_h() {
    ha run -C --no-xdp --no-realtime -f /tmp/c1.conf -S /run/ha.sock >/tmp/d.log 2>&1 &
    echo $! >/run/d.pid
}

life() { # k|h
    d=$1
    httpd -f -p 10.0.8.2:8081 -h /www &
    echo $! >/run/srv.pid
    ipvsadm -A -t 10.0.8.200:80 -s rr
    "start_$d"
    sleep 4
    wait_stable 3 30
    section "$d-up" ipvs_state
    ipvsadm -A -t 10.0.8.201:80 -s rr
    stop_pid /run/srv.pid
    sleep 3
    wait_stable 3 30
    section "$d-port-closed" ipvs_state
    stop_pid /run/d.pid
    section "$d-stopped" ipvs_state
    section "$d-log" tail -n 20 /tmp/d.log
    ipvsadm -C
}

life k
life h
