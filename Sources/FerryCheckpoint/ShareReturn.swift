import FerryCRIU
import FerryContainers
import FerryErrors
import FerrySystem
import Foundation
import Glibc
import Logging

/// `ferry __share-return NAME`: what follows a restore that mounted placeholders.
///
/// The monitor starts it once the restored container runs. Every few seconds it tries to
/// mount each share that is still away beside its placeholder (shares/N.return); the
/// placeholder then serves from it, so the tasks waiting in it go on at once. When every
/// share is back it swaps them in: a checkpoint of the container and a restore from it,
/// after which the processes' files, working directories and mappings are on the real
/// shares and the placeholders are gone. The swap is the container's one freeze; its
/// length is recorded in share-swap.json.
public struct ShareReturn {
    public let manager: ContainerManager
    public let engine: CRIUEngine
    public let logger: Logger

    /// How often a share that is away is tried again (each try costs one mount attempt).
    public static let retrySeconds = 2.0
    /// Swaps that fail before the checkpoint (the container runs on) are tried this often.
    static let attempts = 3

    public init(manager: ContainerManager, engine: CRIUEngine, logger: Logger) {
        self.manager = manager
        self.engine = engine
        self.logger = logger
    }

    /// What the swap cost, as share-swap.json records it.
    public struct Swap: Sendable, Codable, Equatable {
        public var at: Date
        /// From the start of the checkpoint to the end of the restore: the container's
        /// tasks are frozen or absent for no longer than this.
        public var frozenSeconds: Double
        public var checkpointSeconds: Double
        public var restoreSeconds: Double
    }

    public static func record(of layout: ContainerLayout) -> Swap? {
        try? JSONFile.read(Swap.self, from: "\(layout.directory)/share-swap.json", what: "share swap record")
    }

    /// Returns the swap, or nil when the container ended (or its placeholders did) first.
    public func run(_ name: ContainerName) throws(FerryError) -> Swap? {
        let runtime = try manager.runtime(name)
        guard case .running(let state) = runtime.loadState(), let monitor = try? ProcessHandle(pid: state.monitorPid) else { return nil }
        var failures = 0
        while true {
            let placeholders = runtime.shares.placeholders
            if placeholders.isEmpty { return nil }
            var allBack = true
            for (index, placeholder) in placeholders.sorted(by: { $0.key < $1.key }) where !placeholder.returned {
                do throws(FerryError) {
                    try runtime.shares.mountReturned(index)
                    logger.notice("share is back; its placeholder serves from it until the swap", metadata: ["container": "\(name)", "share": "\(index)"])
                } catch {
                    allBack = false
                }
            }
            // A migrated copy waiting for its commit is frozen and not yet this host's.
            if allBack, MigrationLease.read(runtime.layout)?.state != .pending {
                do throws(FerryError) {
                    return try swap(name, runtime)
                } catch {
                    failures += 1
                    logger.error("share swap failed", metadata: ["container": "\(name)", "error": "\(error.message)"])
                    guard failures < Self.attempts, case .running = runtime.loadState() else { throw error }
                }
            }
            if monitor.waitForExit(seconds: Self.retrySeconds) { return nil }
        }
    }

    private func swap(_ name: ContainerName, _ runtime: ContainerRuntime) throws(FerryError) -> Swap {
        let lock = try OperationLock(root: manager.root, name: name)
        defer { withExtendedLifetime(lock) {} }
        let images = runtime.layout.shareSwapImages
        let started = Monotonic.now
        let checkpoint = try Checkpointer(manager: manager, engine: engine, logger: logger).checkpoint(
            name, to: images, leaveRunning: false, force: true, fingerprint: .pagesBySize, lockHeld: true, swappingShares: true)
        let restorer = Restorer(manager: manager, engine: engine, logger: logger)
        let restored: Restorer.Result
        do throws(FerryError) {
            restored = try restorer.restore(name, from: images, remap: Restorer.Remap(), force: true, lockHeld: true)
        } catch {
            throw FerryError(
                error.code,
                "\(error.message); container \(name) is stopped, its checkpoint is in \(images): 'ferry restore \(name) --from \(images) --force' brings it back",
                cause: error.cause)
        }
        let swap = Swap(
            at: Date(), frozenSeconds: Monotonic.now - started, checkpointSeconds: checkpoint.totalSeconds, restoreSeconds: restored.totalSeconds)
        try? JSONFile.write(swap, to: "\(runtime.layout.directory)/share-swap.json")
        try? removeTree(images)
        logger.notice(
            "shares swapped in", metadata: ["container": "\(name)", "frozen": "\(String(format: "%.3f", swap.frozenSeconds)) s"])
        return swap
    }
}
