#!/bin/sh
# OpenMPI rsh agent for network-namespace "hosts" (tests/cluster/netns.sh): OpenMPI calls
# `nsexec.sh HOST COMMAND...` where it would call `ssh HOST COMMAND...`. The command runs inside
# namespace HOST with its own UTS namespace whose host name is HOST.
host=$1
shift
exec ip netns exec "$host" unshare --uts sh -c "hostname '$host' && $*"
