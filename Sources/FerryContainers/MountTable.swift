import FerryErrors
import FerryMounts
import FerrySystem

/// The host's mount table, read fresh each time (it changes under us).
public enum MountTable {
    public static func current(pid: String = "self") throws(FerryError) -> [MountInfo] {
        try MountInfoParser.parse(try readText("/proc/\(pid)/mountinfo"))
    }

    public static func isMountPoint(_ path: String) throws(FerryError) -> Bool {
        try current().contains { $0.mountPoint == path }
    }
}
