# In the IPVS VM (tests/tests/ipvs.rs, the sync daemon test): `lvs_sync_daemon` tied to a
# VRRP instance, under keepalived and then under ha. Sections DAEMON-start (backup until
# the instance is MASTER), DAEMON-master, DAEMON-stopped, for DAEMON = k and h.
set -u
ip link add sync0 type veth peer name sync1
ip link set sync0 up
ip link set sync1 up
ip addr add 10.0.9.1/24 dev sync0

cat >/tmp/sync.conf <<'CONF'
global_defs {
    lvs_sync_daemon sync0 inst VI_1 maxlen 1400 port 8850 ttl 2
}
vrrp_instance VI_1 {
    state BACKUP
    interface sync0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.0.9.100/24
    }
}
virtual_server 10.0.9.100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.9.2 80 {
    }
}
CONF

# The instance becomes MASTER after Master_Down_Interval (about 3.6 s).
until_master() {
    for _ in $(seq 1 100); do
        ip addr show sync0 | grep -q 10.0.9.100 && return 0
        sleep 0.2
    done
    return 1
}

run() { # NAME PIDFILE CMD...
    name=$1
    pidfile=$2
    shift 2
    "$@" >/tmp/$name.log 2>&1 &
    echo $! >"$pidfile"
    sleep 1
    section "$name-start" ipvsadm -Ln --daemon
    until_master || echo "$name: never MASTER" >&2
    sleep 1
    section "$name-master" ipvsadm -Ln --daemon
    stop_pid "$pidfile"
    sleep 1
    section "$name-stopped" ipvsadm -Ln --daemon
    section "$name-log" tail -n 30 /tmp/$name.log
    ipvsadm -C
}

run k /run/k.pid keepalived -n -l -D -f /tmp/sync.conf -p /run/kp.pid -r /run/kr.pid -c /run/kc.pid
run h /run/h.pid ha run --no-xdp --no-realtime -f /tmp/sync.conf -S /run/ha.sock
