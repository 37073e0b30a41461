import FerryErrors
import Glibc

/// A device a hardened container gets only when its admin asks (`ferry create
/// --allow-device NAME`): the node is made in its /dev and its device rules let it open it.
/// A new one is a row here.
public enum OptionalDevice: String, Codable, Sendable, CaseIterable {
    /// TUN/TAP interfaces (OpenVPN, WireGuard in user space, tap for VMs): each interface
    /// lives in the container's own network namespace.
    case tun

    /// Below /dev.
    public var path: String {
        switch self {
        case .tun: "net/tun"
        }
    }

    public var number: (major: UInt32, minor: UInt32) {
        switch self {
        case .tun: (10, 200)
        }
    }

    public var mode: mode_t { 0o666 }

    /// The device cgroup rule that lets it be opened.
    public var rule: String { "c \(number.major):\(number.minor) rwm" }

    /// `--allow-device`'s value, or a one-line error naming it and what there is.
    public init(parsing text: String) throws(FerryError) {
        guard let device = OptionalDevice(rawValue: text) else {
            let known = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw FerryError(.invalidArgument, "unknown device '\(text)' in --allow-device: Ferry can add \(known)")
        }
        self = device
    }
}
