#!/usr/bin/env bash
# `npm test`: the type check and the test suite side by side. tsc is one core's work for about 15 s, and jest's
# workers spend much of their time waiting on terraform, kubectl and moto_server, so running them one after the
# other cost the whole type check in wall time. Arguments go to jest. Fails when either fails; tsc's errors are
# printed as they come.
set -u
tsc --noEmit &
tsc_pid=$!
jest "$@"
jest_status=$?
wait "$tsc_pid"
tsc_status=$?
if [ "$tsc_status" -ne 0 ]; then echo "npm test: the type check failed (tsc --noEmit exited $tsc_status)" >&2; fi
[ "$jest_status" -eq 0 ] && [ "$tsc_status" -eq 0 ]
