#!/usr/bin/env bash
# Fault matrix, hostile clients: garbage bytes, bad headers, requests before
# the handshake, oversize frames, wrong tokens, replayed proofs, authenticated
# garbage requests and stalled connections against the FE and a BE port.
# Each must be refused (error frame and/or closed connection), both processes
# must stay up, and an honest floectl must still work afterwards. A floectl
# with a wrong token or a group-readable token file is refused with one line.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/cluster.sh"

cluster_init 1
cluster_start || { fail "cluster start"; cluster_finish; }
pass "cluster start"

# poke NAME PORT: runs the hostile clients; their PASS/FAIL lines count here.
poke() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "PASS rpc:"*) pass "rpc:$1:${line#PASS rpc:}" ;;
        "FAIL rpc:"*) fail "rpc:$1:${line#FAIL rpc:}" ;;
        *) echo "$line" ;;
        esac
    done < <(python3 "$FLOE_ROOT/tests/integration/lib/rpcpoke.py" 127.0.0.1 "$2" "$CLUSTER_TOKEN" 2>&1)
}
poke fe "$FE_RPC_PORT"
poke be "${BE_RPC_PORT[1]}"

check "fe stays up after hostile clients" fe_alive
check "be stays up after hostile clients" be_alive 1
check "honest floectl still works" cluster_wait_alive 1 30

# floectl with a wrong token: one-line error, non-zero exit
bad=$T/bad.token
(umask 077; echo "this-is-not-the-cluster-token-at-all" >"$bad")
out=$(FLOE_TOKEN_FILE=$bad "$FLOECTL_BIN" --fe "127.0.0.1:$FE_RPC_PORT" backends 2>&1); rc=$?
check "floectl with a wrong token fails" test $rc -ne 0
check "wrong token error is one line" test "$(printf '%s\n' "$out" | wc -l)" -eq 1
check "wrong token error says authentication" grep -qi "auth" <<<"$out"
check "wrong token error does not print the token" bash -c "! grep -q 'this-is-not' <<<\"\$1\"" _ "$out"

loose=$T/loose.token
cp "$CLUSTER_TOKEN" "$loose"; chmod 0644 "$loose"
out=$(FLOE_TOKEN_FILE=$loose "$FLOECTL_BIN" --fe "127.0.0.1:$FE_RPC_PORT" backends 2>&1); rc=$?
check "floectl refuses a group/world-readable token file" test $rc -ne 0
check "loose token file error names the file" grep -q "$loose" <<<"$out"

cluster_finish
