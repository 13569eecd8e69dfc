#!/usr/bin/env bash
# Test hosts for morgana's interop tests: a network namespace holding a TAP device or a veth
# pair (or a device adopted from this namespace), the kernel side's address and routes, and
# optional tc netem impairment. Only addresses inside the namespace are used; nothing is routed
# off the machine. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2.
#
#   tools/netns.sh run [OPTIONS] -- COMMAND [ARGS...]
#       Sets up, runs COMMAND (in this namespace, or inside the test namespace with --inside)
#       with MORGANA_NETNS, MORGANA_NETNS_DEVICE and MORGANA_NETNS_ADDRESS in its environment,
#       and tears everything down on exit, whatever COMMAND's status. Exits with that status.
#   tools/netns.sh up [OPTIONS]
#       Sets up and prints the same variables as NAME=VALUE lines; tears down itself if set-up
#       fails. Pair it with `down`.
#   tools/netns.sh down NAMESPACE
#       Stops the processes left in NAMESPACE and deletes it with every device inside.
#
# OPTIONS
#   --name NS            namespace name (default mg-PID-RANDOM)
#   --tap DEV            create a persistent TAP device DEV inside the namespace; a morgana stack
#                        attaches to it from outside with openTap({ name: DEV, netns: NS })
#   --veth DEV           create a veth pair: DEV inside the namespace, DEV's peer (DEVp) in a
#                        second namespace NS-peer (made and deleted with NS)
#   --adopt DEV          move an existing device DEV (e.g. one QEMU created) into the namespace
#   --address A/LEN      kernel-side address on the device (e.g. 10.77.0.1/24)
#   --peer-address A/LEN address of DEVp in NS-peer (with --veth)
#   --route "SPEC"       extra `ip route add SPEC` inside the namespace (repeatable)
#   --mtu N              device MTU
#   --netem "ARGS"       `tc qdisc add dev DEV root netem ARGS` (kernel -> device direction)
#   --netem-ingress "ARGS"  netem on the frames the kernel receives from DEV, through an ifb device
#   --ipv6               keep IPv6 on (by default it is off inside the namespace: morgana speaks
#                        IPv4, and the kernel's router solicitations and MLD reports are noise)
#   --inside             run COMMAND inside the namespace (ip netns exec)
set -euo pipefail
# ip, tc and sysctl live in sbin, which a non-login root shell or a test runner may lack.
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

ns="" tap="" veth="" adopt="" address="" peer_address="" mtu="" netem="" netem_ingress="" inside=0 ipv6=0
routes=()

parse_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) ns=${2:?}; shift 2 ;;
      --tap) tap=${2:?}; shift 2 ;;
      --veth) veth=${2:?}; shift 2 ;;
      --adopt) adopt=${2:?}; shift 2 ;;
      --address) address=${2:?}; shift 2 ;;
      --peer-address) peer_address=${2:?}; shift 2 ;;
      --route) routes+=("${2:?}"); shift 2 ;;
      --mtu) mtu=${2:?}; shift 2 ;;
      --netem) netem=${2:?}; shift 2 ;;
      --netem-ingress) netem_ingress=${2:?}; shift 2 ;;
      --inside) inside=1; shift ;;
      --ipv6) ipv6=1; shift ;;
      --) shift; command_args=("$@"); return ;;
      *) usage ;;
    esac
  done
  command_args=()
}

device() {
  if [ -n "$tap" ]; then echo "$tap"; elif [ -n "$veth" ]; then echo "$veth"; else echo "$adopt"; fi
}

check_name() {
  # Interface names are at most 15 bytes (IFNAMSIZ - 1).
  [ ${#1} -le 15 ] || die "device name too long (15 bytes at most): $1"
}

teardown() {
  local name=$1
  [ -n "$name" ] || return 0
  for n in "$name" "$name-peer"; do
    if ip netns list | awk '{print $1}' | grep -qxF -- "$n"; then
      # Processes the test left inside (peers, servers): stop them, or the namespace outlives us.
      local pids
      pids=$(ip netns pids "$n" 2>/dev/null || true)
      if [ -n "$pids" ]; then
        kill $pids 2>/dev/null || true
        sleep 0.2
        kill -9 $pids 2>/dev/null || true
      fi
      ip netns del "$n" 2>/dev/null || true
    fi
  done
}

setup() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces and TAP devices need CAP_NET_ADMIN and CAP_SYS_ADMIN)"
  command -v ip >/dev/null || die "needs iproute2 (ip)"
  local count=0
  [ -n "$tap" ] && count=$((count + 1))
  [ -n "$veth" ] && count=$((count + 1))
  [ -n "$adopt" ] && count=$((count + 1))
  [ $count -le 1 ] || die "use one of --tap, --veth, --adopt"
  [ -n "$ns" ] || ns="mg-$$-$RANDOM"
  local dev
  dev=$(device)
  [ -z "$dev" ] || check_name "$dev"
  [ -z "$veth" ] || check_name "${veth}p"

  ip netns add "$ns"
  ip -n "$ns" link set lo up
  if [ $ipv6 = 0 ]; then
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  fi
  if [ -n "$tap" ]; then
    [ -e /dev/net/tun ] || die "/dev/net/tun is missing (modprobe tun)"
    ip -n "$ns" tuntap add dev "$tap" mode tap
  elif [ -n "$veth" ]; then
    ip netns add "$ns-peer"
    ip -n "$ns-peer" link set lo up
    if [ $ipv6 = 0 ]; then
      ip netns exec "$ns-peer" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
    ip -n "$ns" link add "$veth" type veth peer name "${veth}p" netns "$ns-peer"
    [ -z "$mtu" ] || ip -n "$ns-peer" link set "${veth}p" mtu "$mtu"
    [ -z "$peer_address" ] || ip -n "$ns-peer" addr add "$peer_address" dev "${veth}p"
    ip -n "$ns-peer" link set "${veth}p" up
  elif [ -n "$adopt" ]; then
    ip link show "$adopt" >/dev/null 2>&1 || die "no device $adopt to adopt"
    ip link set "$adopt" netns "$ns"
  fi
  if [ -n "$dev" ]; then
    [ -z "$mtu" ] || ip -n "$ns" link set "$dev" mtu "$mtu"
    [ -z "$address" ] || ip -n "$ns" addr add "$address" dev "$dev"
    ip -n "$ns" link set "$dev" up
    for route in "${routes[@]}"; do
      # shellcheck disable=SC2086 # a route spec is several words by design
      ip -n "$ns" route add $route
    done
    if [ -n "$netem" ]; then
      # shellcheck disable=SC2086
      tc -n "$ns" qdisc add dev "$dev" root netem $netem ||
        die "tc netem failed: this kernel may lack sch_netem (CONFIG_NET_SCH_NETEM)"
    fi
    if [ -n "$netem_ingress" ]; then
      local ifb="${dev:0:11}-ifb"
      ip -n "$ns" link add "$ifb" type ifb || die "no ifb devices in this kernel (CONFIG_IFB)"
      ip -n "$ns" link set "$ifb" up
      tc -n "$ns" qdisc add dev "$dev" handle ffff: ingress
      tc -n "$ns" filter add dev "$dev" parent ffff: u32 match u32 0 0 action mirred egress redirect dev "$ifb"
      # shellcheck disable=SC2086
      tc -n "$ns" qdisc add dev "$ifb" root netem $netem_ingress ||
        die "tc netem failed: this kernel may lack sch_netem (CONFIG_NET_SCH_NETEM)"
    fi
  elif [ -n "$address" ] || [ -n "$netem" ] || [ -n "$netem_ingress" ] || [ ${#routes[@]} -gt 0 ]; then
    die "--address, --route and --netem need a device (--tap, --veth or --adopt)"
  fi
}

print_vars() {
  echo "MORGANA_NETNS=$ns"
  echo "MORGANA_NETNS_DEVICE=$(device)"
  echo "MORGANA_NETNS_ADDRESS=${address%%/*}"
}

action=${1:-}
[ $# -gt 0 ] && shift
case "$action" in
  run)
    parse_options "$@"
    [ ${#command_args[@]} -gt 0 ] || die "run needs a command after --"
    trap 'teardown "$ns"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    setup
    export MORGANA_NETNS=$ns MORGANA_NETNS_DEVICE=$(device) MORGANA_NETNS_ADDRESS=${address%%/*}
    status=0
    if [ $inside = 1 ]; then
      ip netns exec "$ns" "${command_args[@]}" || status=$?
    else
      "${command_args[@]}" || status=$?
    fi
    exit $status
    ;;
  up)
    parse_options "$@"
    [ ${#command_args[@]} -eq 0 ] || die "up takes no command"
    trap 'status=$?; [ $status = 0 ] || teardown "$ns"' EXIT
    setup
    print_vars
    ;;
  down)
    [ $# -eq 1 ] || usage
    teardown "$1"
    ;;
  *) usage ;;
esac
