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

# ---- The VPC CNI's branch-pod wiring (security groups for pods, strict mode;
# spec section 5.3). The node namespace's main interface eth0 holds the node
# address and leads to a "VPC" namespace, the subnet router; a veth
# vlan.eth.VLAN stands for the branch's VLAN device on the trunk and also
# leads to the VPC. Static neighbour entries stand for the VPC fabric, which
# knows each branch ENI's MAC (here: vlan.eth.VLAN's). Pods have no address
# on the host side of their veth, as with the VPC CNI.
NS_VPC="${NS_PREFIX}-vpc"

# mac_of NS IFACE (from ip, not /sys: nsenter keeps the caller's /sys).
mac_of() { in_ns "$1" ip -br link show dev "$2" | awk '{print $3}'; }

# ns_make_vpc_node NODE4/PLEN NODE6/PLEN ROUTER4 ROUTER6: the node namespace
# (ns_make_node) with eth0 -> VPC (n0, holding ROUTER4/PLEN and ROUTER6/PLEN),
# the node's default routes via the routers, and the local-table rule moved
# from priority 0 to 20 as the VPC CNI does once it wires a branch pod.
ns_make_vpc_node() {
	local node4=$1 node6=$2 r4=$3 r6=$4 fam
	ns_make_node || return 1
	ip netns add "$NS_VPC" || return 1
	ns_sysctl_quiet "$NS_VPC"
	in_ns "$NS_VPC" ip link set lo up
	in_ns "$NS_VPC" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
	in_node ip link add eth0 type veth peer name n0 netns "$NS_VPC" || return 1
	in_node ip addr add "$node4" dev eth0
	in_node ip addr add "$node6" dev eth0 nodad
	in_node ip link set eth0 up
	in_ns "$NS_VPC" ip addr add "$r4/${node4#*/}" dev n0
	in_ns "$NS_VPC" ip addr add "$r6/${node6#*/}" dev n0 nodad
	in_ns "$NS_VPC" ip link set n0 up
	in_node ip neigh replace "$r4" lladdr "$(mac_of "$NS_VPC" n0)" dev eth0 nud permanent
	in_node ip neigh replace "$r6" lladdr "$(mac_of "$NS_VPC" n0)" dev eth0 nud permanent
	in_ns "$NS_VPC" ip neigh replace "${node4%/*}" lladdr "$(mac_of "$NS_NODE" eth0)" dev n0 \
		nud permanent
	in_ns "$NS_VPC" ip neigh replace "${node6%/*}" lladdr "$(mac_of "$NS_NODE" eth0)" dev n0 \
		nud permanent
	in_node ip route add default via "$r4" dev eth0 || return 1
	in_node ip -6 route add default via "$r6" dev eth0 || return 1
	# The pod's packets must be routed by their VLAN table (priority 10)
	# before the node considers them local.
	for fam in -4 -6; do
		in_node ip "$fam" rule add pref 20 lookup local || return 1
		in_node ip "$fam" rule del pref 0 lookup local || return 1
	done
	# Loose (VPC CNI) rather than strict: the node's own address arrives on
	# the branch, which its main table does not route there.
	in_node sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.eth0.rp_filter=0 >/dev/null
}

# ns_make_trunk VLAN GW4 GW6: vlan.eth.VLAN in the node, trunkVLAN in the VPC
# holding the branch subnet's router GW4/GW6; route table VLAN+100 with
# `GW dev vlan.eth.VLAN scope link`, `default via GW` and the rule
# `iif vlan.eth.VLAN lookup VLAN+100` at priority 10 (v4 and v6).
ns_make_trunk() {
	local vlan=$1 gw4=$2 gw6=$3 t=$(($1 + 100)) br="vlan.eth.$1" vpcif="trunk$1"
	in_node ip link add "$br" type veth peer name "$vpcif" netns "$NS_VPC" || return 1
	in_node ip link set "$br" up
	in_ns "$NS_VPC" ip addr add "$gw4/32" dev "$vpcif"
	in_ns "$NS_VPC" ip addr add "$gw6/128" dev "$vpcif" nodad
	in_ns "$NS_VPC" ip link set "$vpcif" up
	in_node ip neigh replace "$gw4" lladdr "$(mac_of "$NS_VPC" "$vpcif")" dev "$br" nud permanent
	in_node ip neigh replace "$gw6" lladdr "$(mac_of "$NS_VPC" "$vpcif")" dev "$br" nud permanent
	in_node ip route add "$gw4" dev "$br" scope link table "$t" || return 1
	in_node ip route add default via "$gw4" dev "$br" table "$t" || return 1
	in_node ip -6 route add "$gw6" dev "$br" table "$t" || return 1
	in_node ip -6 route add default via "$gw6" dev "$br" table "$t" || return 1
	in_node ip -4 rule add pref 10 iif "$br" lookup "$t" || return 1
	in_node ip -6 rule add pref 10 iif "$br" lookup "$t" || return 1
}

# ns_make_branch_pod SHORT VLAN HOSTIF V4 V6: pod namespace "$NS_PREFIX-SHORT"
# on branch VLAN: veth HOSTIF (node) / eth0 (pod, V4/32 and V6/128, default
# routes via 169.254.1.1 and fe80::1, static neighbours to HOSTIF's MAC);
# `V4 dev HOSTIF` in table VLAN+100 and `iif HOSTIF lookup VLAN+100` at
# priority 10; the VPC routes V4/V6 to the trunk, to the branch ENI's MAC.
ns_make_branch_pod() {
	local ns="${NS_PREFIX}-$1" vlan=$2 hostif=$3 v4=$4 v6=$5 t=$(($2 + 100)) hmac pmac bmac
	ip netns add "$ns" || return 1
	ns_sysctl_quiet "$ns"
	NS_PODS+=("$ns")
	in_node ip link add "$hostif" type veth peer name eth0 netns "$ns" || return 1
	in_node ip link set "$hostif" up
	in_ns "$ns" ip link set lo up
	in_ns "$ns" ip addr add "$v4/32" dev eth0
	in_ns "$ns" ip addr add "$v6/128" dev eth0 nodad
	in_ns "$ns" ip link set eth0 up
	hmac=$(mac_of "$NS_NODE" "$hostif")
	pmac=$(mac_of "$ns" eth0)
	in_ns "$ns" ip neigh replace 169.254.1.1 lladdr "$hmac" dev eth0 nud permanent
	in_ns "$ns" ip neigh replace fe80::1 lladdr "$hmac" dev eth0 nud permanent
	in_ns "$ns" ip route add 169.254.1.1 dev eth0 scope link || return 1
	in_ns "$ns" ip route add default via 169.254.1.1 dev eth0 || return 1
	in_ns "$ns" ip -6 route add default via fe80::1 dev eth0 || return 1
	in_node ip neigh replace "$v4" lladdr "$pmac" dev "$hostif" nud permanent
	in_node ip neigh replace "$v6" lladdr "$pmac" dev "$hostif" nud permanent
	in_node ip route add "$v4" dev "$hostif" table "$t" || return 1
	in_node ip -6 route add "$v6" dev "$hostif" table "$t" || return 1
	in_node ip -4 rule add pref 10 iif "$hostif" lookup "$t" || return 1
	in_node ip -6 rule add pref 10 iif "$hostif" lookup "$t" || return 1
	bmac=$(mac_of "$NS_NODE" "vlan.eth.$vlan")
	in_ns "$NS_VPC" ip route add "$v4/32" dev "trunk$vlan" || return 1
	in_ns "$NS_VPC" ip -6 route add "$v6/128" dev "trunk$vlan" || return 1
	in_ns "$NS_VPC" ip neigh replace "$v4" lladdr "$bmac" dev "trunk$vlan" nud permanent
	in_ns "$NS_VPC" ip neigh replace "$v6" lladdr "$bmac" dev "trunk$vlan" nud permanent
}
