import Glibc

/// A monotonic clock in seconds, for timeouts and the timings Ferry reports.
public enum Monotonic {
    public static var now: Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
