# shellcheck shell=bash
# Helpers shared by bench/run.sh and bench/memory.sh (sourced, not run).
#
# A benchmark on a 2-core machine means nothing if something else is using a core meanwhile (a
# build, a test suite). These helpers wait for the machine to be quiet before a measurement and
# tell afterwards how much CPU went to other processes while it ran, so a disturbed run can be
# thrown away and repeated instead of reported.

# CPU time spent by the whole machine so far, in clock ticks (user+nice+system+irq+softirq+steal).
machine_busy_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

clock_ticks=$(getconf CLK_TCK)
cores=$(nproc)

# Waits until the machine has been at most 10% busy over 2 seconds; gives up after $1 seconds
# (default 1800), warning that the numbers may be disturbed.
# shellcheck disable=SC2120  # the limit is optional; callers use the default
wait_for_quiet() {
    local limit=${1:-1800} waited=0 said=0 before after
    while :; do
        before=$(machine_busy_ticks)
        sleep 2
        after=$(machine_busy_ticks)
        if awk -v d=$((after - before)) -v t="$clock_ticks" -v c="$cores" \
            'BEGIN { exit !(d / t / 2 <= 0.10 * c) }'; then
            ((said)) && echo "  (quiet again after ${waited}s)" >&2
            return 0
        fi
        if ((!said)); then
            echo "  waiting for the machine to be quiet (other processes are using the CPU)..." >&2
            said=1
        fi
        waited=$((waited + 2))
        if ((waited >= limit)); then
            echo "  WARNING: still busy after ${limit}s; measuring anyway" >&2
            return 0
        fi
    done
}

# CPU seconds used by other processes during a run: the machine's busy time between two
# machine_busy_ticks readings minus the run's own CPU seconds.
foreign_cpu_seconds() {  # $1 ticks before, $2 ticks after, $3 the run's own CPU seconds
    awk -v d=$(($2 - $1)) -v t="$clock_ticks" -v own="$3" 'BEGIN { f = d / t - own; printf "%.2f", f < 0 ? 0 : f }'
}

# True when the other processes' CPU during a run of $2 wall seconds exceeded 5% of the machine.
disturbed() {  # $1 foreign CPU seconds, $2 wall seconds
    awk -v f="$1" -v w="$2" -v c="$cores" 'BEGIN { exit !(f > 0.05 * c * w) }'
}

# One benchmark at a time: two runs on a 2-core machine would disturb each other and, sharing
# $BENCH_WORK, overwrite each other's outputs. Takes a lock for the life of the calling script.
bench_lock() {  # $1 the work folder root
    mkdir -p "$1"
    exec 9>"$1/.lock"
    if ! flock -n 9; then
        echo "$(basename "$0"): another benchmark is running (lock $1/.lock); try again when it ends" >&2
        exit 1
    fi
}
