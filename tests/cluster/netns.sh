#!/usr/bin/env bash
# Several "hosts" on this machine for multi-host MPI tests: iproute2 network namespaces on a
# private bridge, nothing routed off the machine.
#
#   tests/cluster/netns.sh up N     creates bridge br-tess (10.200.0.254/24) and namespaces
#                                   tess1..tessN (10.200.0.1..N), each with lo up and a veth
#                                   (host side vh-tessK) on the bridge
#   tests/cluster/netns.sh down     removes them (processes inside are killed first)
#   tests/cluster/netns.sh check    exits 0 when this machine allows network namespaces
#
# Sourced, it defines netns_up N / netns_down / netns_check / netns_link HOST up|down, and
# TESSERA_NETNS_AGENT: the rsh agent for OpenMPI (`--mca plm_rsh_agent`, or
# OMPI_MCA_plm_rsh_agent), tests/cluster/nsexec.sh, which starts OpenMPI's daemon inside the
# namespace with its own UTS namespace and host name (two "hosts" with one name break OpenMPI's
# shared-memory transport).
# Needs root. Names and addresses can be changed with TESSERA_NETNS_PREFIX (tess) and
# TESSERA_NETNS_NET (10.200.0).

TESSERA_NETNS_PREFIX=${TESSERA_NETNS_PREFIX:-tess}
TESSERA_NETNS_NET=${TESSERA_NETNS_NET:-10.200.0}
TESSERA_NETNS_BRIDGE=br-$TESSERA_NETNS_PREFIX
TESSERA_NETNS_AGENT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/nsexec.sh
TESSERA_NETNS_CIDR=$TESSERA_NETNS_NET.0/24

_netns_log() { echo "netns.sh: $*" >&2; }

netns_check() {
  local probe=${TESSERA_NETNS_PREFIX}-probe-$$
  [ "$(id -u)" = 0 ] || { _netns_log "needs root"; return 1; }
  command -v ip >/dev/null || { _netns_log "iproute2 (ip) is not installed"; return 1; }
  command -v unshare >/dev/null || { _netns_log "unshare (util-linux) is not installed"; return 1; }
  if ! ip netns add "$probe" 2>/dev/null; then
    _netns_log "cannot create a network namespace here"
    return 1
  fi
  local ok=0
  ip link add "vp-$$" type veth peer name "vq-$$" 2>/dev/null || ok=1
  ip link del "vp-$$" 2>/dev/null
  ip netns exec "$probe" unshare --uts true 2>/dev/null || ok=1
  ip netns del "$probe" 2>/dev/null
  [ $ok = 0 ] || _netns_log "veth pairs or UTS namespaces are not allowed here"
  return $ok
}

# The namespaces that exist now with our prefix.
_netns_list() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -a -E "^${TESSERA_NETNS_PREFIX}[0-9]+$" || true
}

netns_down() {
  local ns pid i
  for ns in $(_netns_list); do
    # Processes inside (stray ranks or daemons): TERM, then KILL, each polled (bounded).
    for sig in TERM KILL; do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -"$sig" "$pid" 2>/dev/null; done
      for i in $(seq 1 50); do
        [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
        sleep 0.1  # polling for the processes to exit, bounded
      done
    done
    # Delete the veth explicitly: deleting only the namespace leaves it being removed in the
    # background, and a quick re-create then fails with "File exists".
    ip link del "vh-$ns" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || _netns_log "could not delete namespace $ns"
  done
  ip link del "$TESSERA_NETNS_BRIDGE" 2>/dev/null
  return 0
}

netns_up() {
  local n=$1 k ns
  netns_down
  ip link add "$TESSERA_NETNS_BRIDGE" type bridge || return 1
  ip addr add "$TESSERA_NETNS_NET.254/24" dev "$TESSERA_NETNS_BRIDGE" || return 1
  ip link set "$TESSERA_NETNS_BRIDGE" up || return 1
  for k in $(seq 1 "$n"); do
    ns=$TESSERA_NETNS_PREFIX$k
    ip netns add "$ns" || return 1
    ip netns exec "$ns" ip link set lo up || return 1
    ip link add "vh-$ns" type veth peer name eth0 netns "$ns" || return 1
    ip link set "vh-$ns" master "$TESSERA_NETNS_BRIDGE" || return 1
    ip link set "vh-$ns" up || return 1
    ip netns exec "$ns" ip addr add "$TESSERA_NETNS_NET.$k/24" dev eth0 || return 1
    ip netns exec "$ns" ip link set eth0 up || return 1
  done
  # Bounded wait until every namespace reaches the bridge address (bridge ports come up async).
  for k in $(seq 1 "$n"); do
    ns=$TESSERA_NETNS_PREFIX$k
    local i ok=1
    for i in $(seq 1 100); do
      if ip netns exec "$ns" ping -c1 -W1 "$TESSERA_NETNS_NET.254" >/dev/null 2>&1; then ok=0; break; fi
      # Without ping: the veth being up (carrier) is the best we can check.
      if ! command -v ping >/dev/null && [ "$(cat /sys/class/net/vh-$ns/operstate 2>/dev/null)" = up ]; then
        ok=0; break
      fi
      sleep 0.1  # polling the link, bounded
    done
    [ $ok = 0 ] || { _netns_log "$ns cannot reach the bridge"; return 1; }
  done
}

# netns_link HOST up|down: the host-side end of HOST's veth (simulates losing the host).
netns_link() {
  ip link set "vh-$1" "$2"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
    up) netns_up "${2:-2}" || { netns_down; exit 1; }
        echo "hosts: $(_netns_list | tr '\n' ' ')agent: $TESSERA_NETNS_AGENT network: $TESSERA_NETNS_CIDR" ;;
    down) netns_down ;;
    check) netns_check ;;
    *) echo "usage: $0 up [N] | down | check" >&2; exit 2 ;;
  esac
fi
