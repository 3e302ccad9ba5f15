# In the IPVS VM (tests/tests/ipvs.rs, the start/reload/stop test): a table left by an
# earlier run (a stale scheduler, a real server the config no longer has) and a service
# ha does not manage. Sections: started, reloaded, bad-reload, stopped.
set -u
ipvsadm -A -t 10.0.9.100:80 -s wlc
ipvsadm -a -t 10.0.9.100:80 -r 10.0.9.50:80 -g -w 7
ipvsadm -A -t 10.0.9.200:80 -s rr
ipvsadm -a -t 10.0.9.200:80 -r 10.0.9.60:80 -g -w 1

write_conf() { # WEIGHT [EXTRA REAL SERVER]
    {
        echo "virtual_server 10.0.9.100 80 {"
        echo "    lb_algo rr"
        echo "    lb_kind DR"
        echo "    protocol TCP"
        echo "    real_server 10.0.9.2 80 {"
        echo "        weight $1"
        echo "    }"
        [ -n "${2:-}" ] && echo "    real_server $2 80 {" && echo "    }"
        echo "}"
    } >/tmp/lb.conf
}

write_conf 1
ha run -C --no-xdp --no-realtime -f /tmp/lb.conf -S /run/ha.sock >/tmp/ha.log 2>&1 &
echo $! >/run/ha.pid
sleep 2
section started ipvsadm -Sn

write_conf 5 10.0.9.3
ha reload -S /run/ha.sock
sleep 1
section reloaded ipvsadm -Sn

# An error (not a warning): the reload is refused and the table stays.
printf 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id\n}\n' >/tmp/lb.conf
section bad-reload-answer ha reload -S /run/ha.sock
sleep 1
section bad-reload ipvsadm -Sn

stop_pid /run/ha.pid
sleep 1
section stopped ipvsadm -Sn
section log tail -n 30 /tmp/ha.log
ipvsadm -C

# A service the kernel refuses (this kernel has no `twos` scheduler) must not hold up the
# services after it: a checker flip on the next one still reaches the kernel.
echo 0 >/tmp/flipr
cat >/tmp/lb2.conf <<'CONF'
track_file FR {
    file /tmp/flipr
}
virtual_server 10.0.9.99 80 {
    lb_algo twos
    lb_kind DR
    protocol TCP
    real_server 10.0.9.2 80 {
    }
}
virtual_server 10.0.9.100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.0.9.2 80 {
        FILE_CHECK {
            track_file FR
            weight 0
        }
    }
    real_server 10.0.9.3 80 {
    }
}
CONF
ha run -C --no-xdp --no-realtime -f /tmp/lb2.conf -S /run/ha.sock >/tmp/ha2.log 2>&1 &
echo $! >/run/ha.pid
sleep 2
section refused-start ipvsadm -Sn
echo 1 >/tmp/flipr
sleep 2
section refused-flip ipvsadm -Sn
stop_pid /run/ha.pid
section refused-log tail -n 20 /tmp/ha2.log
