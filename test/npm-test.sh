#!/usr/bin/env bash
# `npm test`: the type check and the test suite side by side. tsc is one core's work for about 15 s, and jest's
# workers spend much of their time waiting on terraform, kubectl and moto_server, so running them one after the
# other cost the whole type check in wall time. Arguments go to jest. Fails when either fails; tsc's errors are
# printed as they come.
set -u
# Go programs (terraform, kubectl) size their runtime to every core they see. The suite runs two jest workers, tsc and
# hundreds of short terraform and kubectl processes on two cores, so each process's extra GC workers and threads only
# add start-up CPU: one processor each cut terraform's CPU per run by ~15% in the suite. Behaviour is unchanged; an
# explicit GOMAXPROCS is kept.
export GOMAXPROCS="${GOMAXPROCS:-1}"
# Every Node.js process reads NODE_EXTRA_CA_CERTS at start-up and parses each certificate in it: with a system CA
# bundle there (as on machines behind a TLS-inspecting proxy), that was 0.05 s of CPU per start, about half of a bare
# start, over the ~240 short Node processes of a run (build helpers, kubectl's credential plugin, the helm stand-in).
# The tests never leave the machine (moto_server, the kube stand-in with its own CA), so they need no extra CA.
unset NODE_EXTRA_CA_CERTS
tsc --noEmit &
tsc_pid=$!
jest "$@"
jest_status=$?
wait "$tsc_pid"
tsc_status=$?
if [ "$tsc_status" -ne 0 ]; then echo "npm test: the type check failed (tsc --noEmit exited $tsc_status)" >&2; fi
[ "$jest_status" -eq 0 ] && [ "$tsc_status" -eq 0 ]
