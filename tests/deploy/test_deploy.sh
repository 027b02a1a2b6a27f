#!/usr/bin/env bash
# The deployment kit in deploy/: the Dockerfile (linted; every file it copies
# out of the build stage is built by `make all`; every runtime package exists
# in Debian 12 and provides exactly the libraries sgbpfd and sgbpf need), the
# manifests (rendered by kustomize, every document checked against the
# Kubernetes OpenAPI schema, with broken copies that must be refused, and the
# choices the DaemonSet must keep), and, live as root, the DaemonSet's
# containers run with exactly their manifest's capabilities: the init
# container's `sgbpfd --once`, sgbpfd with its probe answered, each
# capability shown to be needed, and sgbpf-refresh against a stand-in API
# server feeding the running daemon.
# Needs `make all` and scripts/deps.sh (kubectl, node, the npm tools).
set -u
cd "$(dirname "$0")/../.." || exit 1
NS_PREFIX="sgbdep$$"
source tests/e2e/lib.sh
source tests/e2e/netns.sh

SGBPFD="$T_ROOT/build/sgbpfd"
NODE_PREFIX=${SGBPF_NODE_PREFIX:-/usr/local/lib/sgbpf-node}
export SGBPF_NODE_PREFIX="$NODE_PREFIX"
VALIDATE=(node "$T_ROOT/tests/deploy/k8s-validate.js")
FIX="$T_ROOT/tests/deploy/fixtures"
WORK=$(mktemp -d /tmp/sgbpf-deploy.XXXXXX)
PIN="/sys/fs/bpf/sgbpf-deploy-$$"
DPID=
BG_PIDS=()

cleanup() {
	local p
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ns_cleanup
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
echo "# tools"
for tool in kubectl node jq readelf; do
	if command -v "$tool" >/dev/null; then t_pass "$tool installed"; else
		t_fail "$tool installed" "run scripts/deps.sh"; fi
done
if [ ! -d "$NODE_PREFIX/node_modules/kubernetes-models" ]; then
	t_fail "npm tools in $NODE_PREFIX" "run scripts/deps.sh"
	t_done
	exit 1
fi

# ---------------------------------------------------------------- Dockerfile
echo "# Dockerfile"
DF=deploy/Dockerfile
LINT="$NODE_PREFIX/node_modules/.bin/dockerfilelint"
t_exit "dockerfilelint finds nothing in $DF" 0 "$LINT" "$DF"
# The linter must be able to fail here: the same file with an apt-get that
# would wait for input.
sed 's/apt-get install -y /apt-get install /' "$DF" >"$WORK/Dockerfile.bad"
t_exit "dockerfilelint refuses apt-get install without -y" 1 "$LINT" "$WORK/Dockerfile.bad"
t_match "... naming the missing flag" 'should include a `-y` flag' "$T_OUT"

# Instructions with their continuation lines joined.
joined=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF" | grep -vE '^\s*#')
t_match "build stage installs with scripts/deps.sh" '^RUN .*\./scripts/deps\.sh' "$joined"
t_match "build stage runs make all, the target CI builds" '^RUN .*make( -j[^ ]*)? all\b' "$joined"
t_eq "two stages, both Debian 12" "FROM debian:12 AS build|FROM debian:12-slim" \
	"$(grep -E '^FROM ' <<<"$joined" | paste -sd'|')"

n=0
while read -r src; do
	n=$((n + 1))
	rel=${src#/src/}
	if [ -e "$rel" ]; then t_pass "COPY --from=build $src: $rel is built by make all"; else
		t_fail "COPY --from=build $src: $rel is built by make all" "missing after make all"; fi
done < <(grep -E '^COPY --from=build ' <<<"$joined" | awk '{print $3}')
[ "$n" -ge 3 ] && t_pass "build stage hands over $n files" || t_fail "build stage hands over the binaries and the object" "$n COPY --from=build"
while read -r src; do
	[ -e "$src" ] && t_pass "COPY $src exists in the tree" || t_fail "COPY $src exists in the tree"
done < <(grep -E '^COPY [^-]' <<<"$joined" | grep -v '^COPY \. ' | awk '{print $2}')

# The runtime stage's packages: all real Debian packages; the shared
# libraries among them are exactly those providing sgbpfd's and sgbpf's
# DT_NEEDED entries (libc6 aside).
runtime_pkgs=$(awk '/^FROM debian:12-slim/{r=1} r' <<<"$joined" | grep -E '^RUN .*apt-get install' |
	sed -E 's/.*--no-install-recommends ([^&]*).*/\1/' | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u)
t_match "runtime stage installs packages" 'libbpf1' "$runtime_pkgs"
for p in $runtime_pkgs; do
	if apt-cache show --no-all-versions "$p" 2>/dev/null | grep -q "^Package: $p\$"; then
		t_pass "runtime package $p is a Debian 12 package"
	else
		t_fail "runtime package $p is a Debian 12 package" "apt-cache show $p found nothing"
	fi
done
# lib_pkg PATH: the Debian package that installed the library file PATH.
# (By the real file's name: with merged /usr, dpkg may list it under /lib or /usr/lib.)
lib_pkg() {
	local base
	base=$(basename "$(readlink -f "$1")")
	dpkg -S "$base" 2>/dev/null | grep -E "/$base\$" | cut -d: -f1 | head -n1
}
needed_pkgs=$(for bin in build/sgbpfd build/sgbpf; do
	readelf -d "$bin" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | while read -r lib; do
		lib_pkg "$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|AArch64|aarch64/ {print $NF; exit}')"
	done
done | grep -v '^libc6$' | sort -u)
lib_pkgs=$(grep -E '^lib|^zlib' <<<"$runtime_pkgs" | sort -u)
t_eq "runtime libraries = the packages of the binaries' DT_NEEDED" \
	"$(paste -sd' ' <<<"$needed_pkgs")" "$(paste -sd' ' <<<"$lib_pkgs")"
# Every library the loader resolves (ldd: indirect ones too) comes with them.
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances $runtime_pkgs 2>/dev/null | grep -v '^ ' | sort -u)
for bin in build/sgbpfd build/sgbpf; do
	missing=
	for path in $(ldd "$bin" | awk '$3 ~ /^\// {print $3}'); do
		p=$(lib_pkg "$path")
		grep -qx -- "$p" <<<"$closure" || missing+=" $path($p)"
	done
	[ -z "$missing" ] && t_pass "every library ldd resolves for $bin is in the runtime packages' dependencies" ||
		t_fail "every library ldd resolves for $bin is in the runtime packages' dependencies" "not:$missing"
done
for tool in curl jq; do
	grep -q "\\b$tool\\b" deploy/sgbpf-refresh && t_match "runtime has $tool for sgbpf-refresh" "^$tool\$" "$runtime_pkgs"
done

# ---------------------------------------------------------------- manifests
echo "# manifests"
t_exit "kubectl kustomize deploy/ renders" 0 kubectl kustomize deploy/
printf '%s\n' "$T_OUT" >"$WORK/all.yaml"
t_exit "every rendered document passes the Kubernetes schema" 0 "${VALIDATE[@]}" "$WORK/all.yaml"
for f in deploy/*.yaml; do
	[ "$f" = deploy/kustomization.yaml ] && continue
	t_exit "$f passes the Kubernetes schema" 0 "${VALIDATE[@]}" "$f"
done
"${VALIDATE[@]}" --json "$WORK/all.yaml" >"$WORK/all.json"
t_eq "rendered kinds" "ClusterRole ClusterRoleBinding ConfigMap CronJob DaemonSet Role RoleBinding ServiceAccount ServiceAccount" \
	"$(jq -r '[.[].kind] | sort | join(" ")' "$WORK/all.json")"

# broken copies of the real DaemonSet: each must be refused, for its fault.
# bad_manifest DESC SED_EXPR EXPECTED_MESSAGE_REGEX
bad_manifest() {
	sed -E "$2" "$WORK/all.yaml" >"$WORK/bad.yaml"
	if cmp -s "$WORK/all.yaml" "$WORK/bad.yaml"; then
		t_fail "schema refuses $1" "the edit '$2' changed nothing"
		return
	fi
	t_exit "schema refuses $1" 1 "${VALIDATE[@]}" "$WORK/bad.yaml"
	t_match "... and says where" "$3" "$T_ERR"
}
bad_manifest "an unknown field (hostNetwrk)" 's/^(\s*)hostNetwork: true/\1hostNetwrk: true/' \
	'DaemonSet/sgbpf: \.spec\.template\.spec: unknown field "hostNetwrk"'
bad_manifest "an unknown nested field (capabilities.adds)" '0,/^(\s*)add:/s//\1adds:/' \
	'securityContext\.capabilities: unknown field "adds"'
bad_manifest "a string where an integer goes" 's/containerPort: 9741/containerPort: "9741"/' \
	'containerPort: must be integer'
bad_manifest "a missing required field" 's/^(\s*)name: refresh$/\1nam: refresh/' \
	'must have required property .*name'
bad_manifest "a kind with no schema" 's#^apiVersion: apps/v1#apiVersion: apps/v2#' \
	'no Kubernetes schema for apiVersion "apps/v2"'

# What the schema cannot say: the choices the DaemonSet must keep.
ds='.[] | select(.kind == "DaemonSet") | .spec'
pod="$ds.template.spec"
jqa() { jq -r "$1" "$WORK/all.json"; }
t_eq "hostNetwork, not hostPID" "true false" "$(jqa "$pod | \"\(.hostNetwork) \(.hostPID)\"")"
t_eq "sgbpfd containers: drop ALL, add exactly BPF NET_ADMIN PERFMON, unprivileged" \
	"ALL|BPF,NET_ADMIN,PERFMON|false|false" \
	"$(jqa "$pod | (.initContainers + .containers)[] | select(.command[0] | endswith(\"sgbpfd\")) | .securityContext |
		\"\(.capabilities.drop | join(\",\"))|\(.capabilities.add | sort | join(\",\"))|\(.privileged // false)|\(.allowPrivilegeEscalation)\"" | sort -u)"
t_eq "other containers: no capabilities" "ALL|" \
	"$(jqa "$pod | (.initContainers + .containers)[] | select(.command[0] | endswith(\"sgbpfd\") | not) | .securityContext |
		\"\(.capabilities.drop | join(\",\"))|\(.capabilities.add // [] | join(\",\"))\"" | sort -u)"
t_eq "bpffs from the host, type Directory, at /sys/fs/bpf" "/sys/fs/bpf Directory /sys/fs/bpf" \
	"$(jqa "$pod | (.volumes[] | select(.name == \"bpffs\") | \"\(.hostPath.path) \(.hostPath.type)\") + \" \" +
		(.containers[] | select(.name == \"sgbpfd\") | .volumeMounts[] | select(.name == \"bpffs\") | .mountPath)")"
t_eq "/sys from the host, read-only" "/sys true" \
	"$(jqa "$pod | .containers[] | select(.name == \"sgbpfd\") | .volumeMounts[] | select(.name == \"sys\") | \"\(.mountPath) \(.readOnly)\"")"
t_eq "init containers: build the policy, then sgbpfd --once" "policy apply true" \
	"$(jqa "$pod | \"\(.initContainers[0].name) \(.initContainers[1].name) \(.initContainers[1].args | index(\"--once\") != null)\"")"
t_eq "readiness and liveness probe /healthz on the metrics port" "/healthz metrics /healthz metrics" \
	"$(jqa "$pod | .containers[] | select(.name == \"sgbpfd\") |
		\"\(.readinessProbe.httpGet.path) \(.readinessProbe.httpGet.port) \(.livenessProbe.httpGet.path) \(.livenessProbe.httpGet.port)\"")"
t_eq "every container has requests and a memory limit" "true" \
	"$(jqa "[$pod | (.initContainers + .containers)[] | (.resources.requests.cpu != null and .resources.requests.memory != null and .resources.limits.memory != null)] | all")"
t_eq "system-node-critical, tolerates every taint" "system-node-critical Exists" \
	"$(jqa "$pod | \"\(.priorityClassName) \(.tolerations[0].operator)\"")"
t_eq "RollingUpdate, maxUnavailable 1" "RollingUpdate 1" \
	"$(jqa "$ds | \"\(.updateStrategy.type) \(.updateStrategy.rollingUpdate.maxUnavailable)\"")"
t_eq "token only in the refresh containers" "false|policy,refresh" \
	"$(jqa "$pod | \"\(.automountServiceAccountToken)|\([(.initContainers + .containers)[] | select(any(.volumeMounts[]; .name == \"api-token\")) | .name] | join(\",\"))\"")"
t_eq "the ClusterRole only reads" "get list" \
	"$(jqa '[.[] | select(.kind == "ClusterRole") | .rules[].verbs[]] | unique | join(" ")')"
t_eq "the Role writes one named ConfigMap" "sgbpf-security-groups" \
	"$(jqa '.[] | select(.kind == "Role") | .rules[] | select(.verbs | index("patch")) | .resourceNames | join(",")')"
t_eq "the ConfigMap the pods mount is the one kustomize generates" "sgbpf-security-groups" \
	"$(jqa "($pod | .volumes[] | select(.name == \"security-groups\") | .configMap.name) as \$n |
		.[] | select(.kind == \"ConfigMap\" and .metadata.name == \$n) | .metadata.name")"

# The ConfigMap's SG documents, with an endpoints document, are a valid policy.
mkdir -p "$WORK/cm"
jqa '.[] | select(.kind == "ConfigMap") | .data | to_entries[] | @base64 "\(.key) \(.value)"' |
	while read -r k v; do base64 -d <<<"$v" >"$WORK/cm/$(base64 -d <<<"$k")"; done
cp "$FIX/endpoints.json" "$WORK/cm/"
t_exit "the ConfigMap's SGs pass sgbpf validate" 0 "$SGBPF" validate "$WORK/cm"

# ---------------------------------------------------------------- live
echo "# live: the manifest's capabilities on this kernel"
t_require_root_and_bins
# args_of CONTAINER: its args from the manifest, one per line, with the
# container paths mapped to this test's.
args_of() {
	jqa "$pod | (.initContainers + .containers)[] | select(.name == \"$1\") | .args[]" |
		sed -e "s#^/run/sgbpf/policy\$#$WORK/policy#"
}
CAPS=$(jqa "$pod | .containers[] | select(.name == \"sgbpfd\") | .securityContext.capabilities.add | map(\"+\" + ascii_downcase) | join(\",\")")
# with_caps CAPS CMD...: CMD in the node namespace holding exactly CAPS (a
# container's bounding, permitted and effective sets), uid 0.
with_caps() { local c=$1; shift; in_node setpriv --bounding-set "-all,$c" --inh-caps -all -- "$@"; }

ns_make_node
ns_make_pod web vlan55d2220ad30 10.20.3.101 fd00:20::101
mkdir -p "$WORK/policy"
cp "$WORK/cm/"*.json "$WORK/policy/"
mapfile -t apply_args < <(args_of apply)
t_exit "init container 'apply' (${apply_args[*]}) with $CAPS" 0 \
	with_caps "$CAPS" "$SGBPFD" "${apply_args[@]}" --pin-dir "$PIN"
t_match "... attached to the pod's interface" 'event=enforced iface=vlan55d2220ad30' "$T_ERR"
for drop in ${CAPS//,/ }; do
	rest=$(tr ',' '\n' <<<"$CAPS" | grep -vx -- "$drop" | paste -sd,)
	t_exit "without ${drop#+} sgbpfd --once fails" 2 \
		with_caps "$rest" "$SGBPFD" "${apply_args[@]}" --pin-dir "$PIN-x"
	rm -rf "$PIN-x"
done

PORT=$((20000 + $$ % 20000))
mapfile -t main_args < <(args_of sgbpfd | sed -e "s#^:9741\$#127.0.0.1:$PORT#")
with_caps "$CAPS" "$SGBPFD" "${main_args[@]}" --pin-dir "$PIN" --socket "$WORK/sock" \
	>"$WORK/sgbpfd.log" 2>&1 &
DPID=$!
probe=$(jqa "$pod | .containers[] | select(.name == \"sgbpfd\") | .readinessProbe.httpGet.path")
code=
for _ in $(seq 50); do
	code=$(in_node curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$probe")
	[ "$code" = 200 ] && break
	sleep 0.1
done
t_eq "sgbpfd (${main_args[*]}) answers the probe $probe" 200 "$code"
t_exit "sgbpf status with the same capabilities: daemon up" 0 \
	with_caps "$CAPS" "$SGBPF" status --pin-dir "$PIN" --socket "$WORK/sock" --interval 0.1
t_match "... took over the pins of the init container" 'event=datapath_ready.*takeover=yes' "$(cat "$WORK/sgbpfd.log")"

echo "# live: sgbpf-refresh feeding the running sgbpfd"
# A stand-in for the API server: the GETs sgbpf-refresh makes, as files.
API="$WORK/api"
mkdir -p "$API/api/v1/nodes" "$API/apis/vpcresources.k8s.aws/v1beta1" "$WORK/sa" "$WORK/groups"
cp "$FIX/api/pods.json" "$API/api/v1/pods"
cp "$FIX/api/sgps.json" "$API/apis/vpcresources.k8s.aws/v1beta1/securitygrouppolicies"
cp "$FIX/api/serviceaccounts.json" "$API/api/v1/serviceaccounts"
cp "$FIX/api/node.json" "$API/api/v1/nodes/ip-10-20-3-17.ec2.internal"
echo test-token >"$WORK/sa/token"
: >"$WORK/sa/ca.crt"
APORT=$((PORT + 1))
bg "$NS_NODE" python3 -m http.server --bind 127.0.0.1 "$APORT" --directory "$API" >/dev/null 2>&1
for _ in $(seq 50); do in_node curl -s -o /dev/null "http://127.0.0.1:$APORT/" && break; sleep 0.1; done
# The kubelet's ConfigMap layout: files are symlinks into ..data.
mkdir -p "$WORK/groups/..2026_01_01" && cp "$WORK/cm/security-groups.json" "$WORK/groups/..2026_01_01/"
ln -s ..2026_01_01 "$WORK/groups/..data" && ln -s ..data/security-groups.json "$WORK/groups/security-groups.json"
gen_before=$(grep -c 'event=policy_applied' "$WORK/sgbpfd.log")
refresh_env=(env NODE_NAME=ip-10-20-3-17.ec2.internal SGBPF_API_SERVER="http://127.0.0.1:$APORT"
	SGBPF_SA_DIR="$WORK/sa" SGBPF_GROUPS_DIR="$WORK/groups" SGBPF_POLICY_DIR="$WORK/policy"
	SGBPF="$SGBPF" SGBPF_ONCE_TRIES=3)
t_exit "sgbpf-refresh --once builds the policy directory" 0 in_node "${refresh_env[@]}" deploy/sgbpf-refresh --once
t_eq "... endpoints.json and the ConfigMap's SGs" "endpoints.json security-groups.json" \
	"$(cd "$WORK/policy" && ls | paste -sd' ')"
t_eq "... the imported pod on its VPC CNI veth" "shop/checkout-api-7d9f8-x2x4q vlan55d2220ad30" \
	"$(jq -r '.endpoints[] | "\(.name) \(.interface)"' "$WORK/policy/endpoints.json")"
for _ in $(seq 50); do
	[ "$(grep -c 'event=policy_applied' "$WORK/sgbpfd.log")" -gt "$gen_before" ] && break
	sleep 0.1
done
t_match "... and sgbpfd applied it" 'event=policy_applied .*endpoints=1 ' "$(tail -n +$((gen_before + 1)) "$WORK/sgbpfd.log" | grep policy_applied)"
t_exit "sgbpf-refresh --once again: nothing changed, nothing rewritten" 0 \
	in_node "${refresh_env[@]}" deploy/sgbpf-refresh --once
t_eq "... no second swap" "$((gen_before + 1))" "$(grep -c 'event=policy_applied' "$WORK/sgbpfd.log")"
cp "$WORK/policy/endpoints.json" "$WORK/endpoints.before"
echo '{"SecurityGroups": [{"GroupId": 5}]}' >"$WORK/groups/..2026_01_01/security-groups.json"
t_exit "an invalid SG document is not published" 1 in_node "${refresh_env[@]}" deploy/sgbpf-refresh --once
t_match "... saying so" 'event=refresh_invalid' "$T_ERR"
t_exit "... the policy in force stays valid" 0 "$SGBPF" validate "$WORK/policy"
kill "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; DPID=

t_done
