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
tsc --noEmit &
tsc_pid=$!
jest "$@"
jest_status=$?
wait "$tsc_pid"
tsc_status=$?
if [ "$tsc_status" -ne 0 ]; then echo "npm test: the type check failed (tsc --noEmit exited $tsc_status)" >&2; fi
[ "$jest_status" -eq 0 ] && [ "$tsc_status" -eq 0 ]
