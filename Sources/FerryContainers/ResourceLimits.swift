import FerryErrors
import FerrySystem
import Foundation

/// What a container may use: memory, CPU time, processes (`--memory`, `--cpus`, `--pids`
/// at create, `ferry set` after). Part of the config, so checkpoint/restore and migration
/// carry them: every start and every restore applies them to the container's cgroups
/// before its first task runs, and `ferry set` changes a running container's at once.
public struct ResourceLimits: Sendable, Codable, Equatable {
    /// The most memory (page cache included) before the kernel reclaims, then OOM-kills.
    public var memoryBytes: UInt64?
    /// CPU time as a number of CPUs (1.5: 150 ms in every 100 ms, over any CPUs).
    public var cpus: Double?
    /// The most tasks (processes and threads) at once.
    public var pids: Int?

    public init(memoryBytes: UInt64? = nil, cpus: Double? = nil, pids: Int? = nil) {
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.pids = pids
    }

    public var isEmpty: Bool { memoryBytes == nil && cpus == nil && pids == nil }

    /// The same without the task limit (see ContainerLauncher.recreatesTasks).
    public var withoutTaskLimit: ResourceLimits { ResourceLimits(memoryBytes: memoryBytes, cpus: cpus) }

    /// Below this, a container cannot even run its init and `ferry exec`'s helper.
    public static let smallestMemory: UInt64 = 4 << 20
    public static let smallestPids = 2

    /// These limits with the flags given changed: a value sets a limit, `none` removes
    /// it, nil leaves it as it is. Each bad value is refused with the flag and the fix.
    public func changing(memory: String?, cpus: String?, pids: String?) throws(FerryError) -> ResourceLimits {
        var result = self
        if let memory {
            if memory == "none" {
                result.memoryBytes = nil
            } else {
                result.memoryBytes = try ByteSize.bytes(memory, option: "--memory", atLeast: Self.smallestMemory)
            }
        }
        if let cpus {
            if cpus == "none" {
                result.cpus = nil
            } else {
                guard let value = Double(cpus), value.isFinite, value >= 0.01, value <= 4096 else {
                    throw FerryError(.invalidArgument, "--cpus \(cpus) is not a number of CPUs from 0.01 up; give e.g. --cpus 1.5, or none for no limit")
                }
                result.cpus = value
            }
        }
        if let pids {
            if pids == "none" {
                result.pids = nil
            } else {
                guard let value = Int(pids), value >= Self.smallestPids else {
                    throw FerryError(.invalidArgument, "--pids \(pids) is not a whole number of at least \(Self.smallestPids); give e.g. --pids 512, or none for no limit")
                }
                result.pids = value
            }
        }
        return result
    }

    /// One limit as the cgroup files that carry it: cgroup v1's, then cgroup2's. Each
    /// file is written where the container's cgroup has it; a limit that is set must
    /// land somewhere, or the host lacks the controller. A new limit is a new row.
    struct Row: Sendable {
        var flag: String
        var controller: String
        var isSet: @Sendable (ResourceLimits) -> Bool
        var files: @Sendable (ResourceLimits) -> [(file: String, value: String)]
    }

    static let cpuPeriod = 100_000

    static let rows: [Row] = [
        Row(flag: "--memory", controller: "memory", isSet: { $0.memoryBytes != nil }) { limits in
            let bytes = limits.memoryBytes.map(String.init)
            return [("memory.limit_in_bytes", bytes ?? "-1"), ("memory.max", bytes ?? "max")]
        },
        Row(flag: "--cpus", controller: "cpu", isSet: { $0.cpus != nil }) { limits in
            let quota = limits.cpus.map { String(Int(($0 * Double(cpuPeriod)).rounded())) }
            return [
                ("cpu.cfs_period_us", String(cpuPeriod)), ("cpu.cfs_quota_us", quota ?? "-1"),
                ("cpu.max", "\(quota ?? "max") \(cpuPeriod)"),
            ]
        },
        Row(flag: "--pids", controller: "pids", isSet: { $0.pids != nil }) { limits in
            [("pids.max", limits.pids.map(String.init) ?? "max")]
        },
    ]

    /// Writes every limit (a removed one as "no limit") into `cgroups`.
    public func apply(to cgroups: CgroupSet) throws(FerryError) {
        for row in Self.rows {
            var landed = false
            for (file, value) in row.files(self) {
                if try cgroups.write(file, value) > 0 { landed = true }
            }
            if row.isSet(self), !landed {
                throw FerryError(
                    .kernelUnsupported,
                    "this host has no cgroup \(row.controller) controller for \(row.flag); mount it, or remove the limit with 'ferry set NAME \(row.flag) none'")
            }
        }
    }

    /// "memory 512 MiB, cpus 1.5, pids 100", or nil without a limit.
    public var summary: String? {
        var parts: [String] = []
        if let memoryBytes { parts.append("memory \(memoryBytes % (1 << 20) == 0 ? "\(memoryBytes >> 20) MiB" : "\(memoryBytes) B")") }
        if let cpus { parts.append("cpus \(cpus == cpus.rounded() ? String(Int(cpus)) : String(cpus))") }
        if let pids { parts.append("pids \(pids)") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}
