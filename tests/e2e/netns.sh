# shellcheck shell=bash
# Network-namespace helpers for the end-to-end suites: a "node" namespace,
# pods as namespaces joined to it by veth pairs (host side in the node
# namespace, named as in the endpoints document), a "remote" namespace for
# the rest of the VPC. Everything gets a per-run prefix and is removed by
# ns_cleanup (call it from an EXIT trap).
#
# Addressing: every pod and the remote have /32 and /128 addresses and a
# default route via 169.254.1.1 / fe80::1, which the node side of their veth
# holds; the node routes each address to its veth (ip_forward on, v4 and v6).

NS_PREFIX=${NS_PREFIX:-sgbe2e$$}
NS_NODE="${NS_PREFIX}-node"
NS_REMOTE="${NS_PREFIX}-remote"
NS_PODS=()

# Run a command in a namespace by its /run/netns path (nsenter, not
# `ip netns exec`, which remounts /sys and would hide /sys/fs/bpf pins).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }
in_node() { in_ns "$NS_NODE" "$@"; }

ns_sysctl_quiet() {
	local ns=$1
	in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0 >/dev/null
}

ns_make_node() {
	ip netns add "$NS_NODE" || return 1
	ns_sysctl_quiet "$NS_NODE"
	in_node ip link set lo up
	in_node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
}

# ns_attach_peer NS HOSTIF V4 V6: a veth from the node (HOSTIF) to NS (eth0).
ns_attach_peer() {
	local ns=$1 hostif=$2 v4=$3 v6=$4
	in_node ip link add "$hostif" type veth peer name eth0 netns "$ns" || return 1
	in_node ip addr add 169.254.1.1/32 dev "$hostif"
	in_node ip addr add fe80::1/64 dev "$hostif" nodad
	in_node ip link set "$hostif" up
	in_node ip route replace "$v4/32" dev "$hostif"
	in_node ip -6 route replace "$v6/128" dev "$hostif"
	in_ns "$ns" ip link set lo up
	in_ns "$ns" ip addr add "$v4/32" dev eth0
	in_ns "$ns" ip addr add "$v6/128" dev eth0 nodad
	in_ns "$ns" ip link set eth0 up
	in_ns "$ns" ip route add 169.254.1.1 dev eth0
	in_ns "$ns" ip route add default via 169.254.1.1 dev eth0
	in_ns "$ns" ip -6 route add default via fe80::1 dev eth0
}

# ns_make_pod SHORT HOSTIF V4 V6: pod namespace "$NS_PREFIX-SHORT".
ns_make_pod() {
	local ns="${NS_PREFIX}-$1"
	ip netns add "$ns" || return 1
	ns_sysctl_quiet "$ns"
	NS_PODS+=("$ns")
	ns_attach_peer "$ns" "$2" "$3" "$4"
}

# ns_del_pod SHORT HOSTIF: the pod goes away abruptly: its processes (all started
# by the test) are killed and the namespace deleted, which takes the veth.
ns_del_pod() {
	local ns="${NS_PREFIX}-$1" p
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$ns" 2>/dev/null
	# The namespace (and its veth end) dies once its last process is gone.
	for _ in $(seq 100); do
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && ! in_node ip link show "$2" >/dev/null 2>&1 &&
			break
		sleep 0.05
	done
}

ns_make_remote() {
	ip netns add "$NS_REMOTE" || return 1
	ns_sysctl_quiet "$NS_REMOTE"
	ns_attach_peer "$NS_REMOTE" vpc0 "$1" "$2"
}

pod_ns() { echo "${NS_PREFIX}-$1"; }

# bg NS CMD...: run CMD in namespace NS in the background; its pid goes to
# BG_PIDS (the caller kills them) and BG_LAST.
bg() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@" &
	BG_PIDS+=($!)
	BG_LAST=$!
	disown "$BG_LAST"   # killed with its pod; no job-control notice
}

ns_cleanup() {
	local ns p
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_PREFIX}-"); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
}
