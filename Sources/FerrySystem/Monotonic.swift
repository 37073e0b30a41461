import Glibc

/// A monotonic clock in seconds, for timeouts and the timings Ferry reports.
public enum Monotonic {
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Seconds since boot, suspend included (CLOCK_BOOTTIME): the clock of a migration lease,
/// which two processes on one host read (the agent that commits, the monitor that fences)
/// and which no admin's `date -s` moves.
public enum BootClock {
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
