# Shell functions for the scenarios run inside the test VM (busybox sh), sourced from
# /lib/ha-vm.sh. The host reads sections between the markers from the serial console.

# busybox sh runs its own applets before anything on PATH: iproute2's ip (netns, veth,
# bridges) is called by its path.
ip() { /usr/sbin/ip "$@"; }

section() { # NAME CMD...: CMD's output as section NAME
    local _section=$1
    shift
    echo "=== BEGIN $_section ==="
    "$@" 2>&1
    echo "=== END $_section ==="
}

# The whole IPVS state: the rules as ipvsadm saves them (-S), the timeouts, the sync
# daemons, and ha's own reading of the table.
ipvs_state() {
    ipvsadm -Sn
    echo "-- timeout"
    ipvsadm -Ln --timeout
    echo "-- daemon"
    ipvsadm -Ln --daemon
    echo "-- ha"
    ha ipvs
}

# Waits until the table has not changed for $1 seconds (at most $2 seconds in all).
wait_stable() {
    prev=""
    same=0
    t=0
    while [ "$t" -lt "$2" ]; do
        cur=$(ipvsadm -Sn 2>&1)
        if [ "$cur" = "$prev" ]; then
            same=$((same + 1))
            [ "$same" -ge "$1" ] && return 0
        else
            same=0
            prev=$cur
        fi
        sleep 1
        t=$((t + 1))
    done
    return 1
}

# Stops the process whose pid is in file $1 and waits for it to exit. For keepalived, its
# children too: keepalived removes what it added one entry at a time, which takes long
# under TCG for a large table, and a child left running would go on removing services a
# later daemon adds.
stop_pid() {
    pid=$(cat "$1" 2>/dev/null) || return 0
    children=""
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = keepalived ] && children=keepalived
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 1200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            [ -z "$children" ] && return 0
            pidof "$children" >/dev/null || return 0
        fi
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    [ -n "$children" ] && kill -9 $(pidof "$children") 2>/dev/null
    return 0
}

# Runs config $1 under keepalived's checker process until the table settles; prints it as
# section $2. $3: seconds to wait first (until every checker has run once).
keepalived_table() {
    keepalived -n -l -D --check -f "$1" -p /run/keepalived.pid -c /run/checkers.pid \
        >/tmp/keepalived.log 2>&1 &
    echo $! >/run/keepalived.pid.bg
    sleep "${3:-1}"
    wait_stable "${SETTLE:-3}" 60 || echo "keepalived: table not stable" >&2
    section "$2" ipvs_state
    stop_pid /run/keepalived.pid.bg
    section "$2-log" tail -n 40 /tmp/keepalived.log
    # What made keepalived's checker process give up, if it did.
    if grep -q "permanent error FATAL" /tmp/keepalived.log; then
        section "$2-fatal" grep -i -m 3 "error\|can't\|cant\|fail" /tmp/keepalived.log
    fi
}

# The same under `ha run -C`.
ha_table() {
    ha run -C --no-xdp --no-realtime -f "$1" -S /run/ha.sock >/tmp/ha.log 2>&1 &
    echo $! >/run/ha.pid
    sleep "${3:-1}"
    wait_stable "${SETTLE:-3}" 60 || echo "ha: table not stable" >&2
    section "$2" ipvs_state
    stop_pid /run/ha.pid
    section "$2-log" tail -n 40 /tmp/ha.log
}
