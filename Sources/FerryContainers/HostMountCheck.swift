import FerryErrors
import FerrySystem
import Glibc

/// The checks on a container's host mounts (`--bind`, `--share`), one set of rules
/// whether `create` declares them or `set` adds binds to a stopped container.
enum HostMountCheck {
    /// `added`: binds and shares new to the container, each checked on its own (a bind's
    /// source exists on this host, its destination is a path inside the container; a
    /// share is well formed). `kept`: the container's other host mount targets. No two of
    /// all of them may share a target: the second mount would hide the first.
    static func validate(addedBinds: [BindMount], addedShares: [NetworkShare] = [], keptTargets: [String] = []) throws(FerryError) {
        for bind in addedBinds {
            guard access(bind.source, F_OK) == 0 else {
                throw FerryError(.notFound, "bind source \(bind.source) does not exist on this host")
            }
            // The root is the rootfs's (and a bind there would hide the container's own /proc, /dev…).
            guard !(try ContainedPath.components(of: bind.destination)).isEmpty else {
                throw FerryError(
                    .invalidArgument,
                    "--bind \(bind.source):\(bind.destination) would cover the container's root; bind onto a directory inside it, e.g. \(bind.source):/mnt/host")
            }
        }
        for share in addedShares { try share.validate() }
        var seen: Set<String> = []
        for path in keptTargets + addedBinds.map(\.destination) + addedShares.map(\.target) {
            let normal = try normalTarget(path)
            guard seen.insert(normal).inserted else {
                throw FerryError(.invalidArgument, "\(normal) is the target of two --bind/--share options; give each its own path")
            }
        }
    }

    /// `/a//b/` and `/a/b` are one target.
    static func normalTarget(_ path: String) throws(FerryError) -> String {
        "/" + (try ContainedPath.components(of: path)).joined(separator: "/")
    }
}
