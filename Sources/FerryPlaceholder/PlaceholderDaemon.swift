import CFuse
import FerryContainers
import FerrySystem
import Foundation
import Glibc

/// `ferry __placeholder`: mounts a share's placeholder and serves it until it is unmounted.
///
/// Its phases move on by signal from the monitor (see SharePlaceholder): the restore is
/// over, then the real share is mounted at the backing path. Signals, because they reach
/// a process whose every thread may be waiting in a FUSE request.
public enum PlaceholderDaemon {
    nonisolated(unsafe) private static var ready: OwnedFileDescriptor?

    /// Returns the process's exit code.
    public static func serve(inventory: ShareInventory, mountPoint: String, backing: String, label: String, ready: OwnedFileDescriptor) -> Int32 {
        served = PlaceholderFilesystem(inventory: inventory, backingPath: backing)
        Self.ready = ready
        // Blocked before libfuse starts its threads, so only the watcher takes them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SharePlaceholder.restoreFinishedSignal)
        sigaddset(&signals, SharePlaceholder.shareReturnedSignal)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let watched = signals
        Thread.detachNewThread {
            var set = watched
            while true {
                var signal: Int32 = 0
                guard sigwait(&set, &signal) == 0 else { continue }
                if signal == SharePlaceholder.restoreFinishedSignal { served.restoreFinished() }
                if signal == SharePlaceholder.shareReturnedSignal, !served.shareReturned() {
                    FileHandle.standardError.write(Data("placeholder: the share is not at \(backing) yet\n".utf8))
                }
            }
        }
        let name = label.map { $0 == "," || $0 == "\\" ? "_" : $0 }
        let argv = [
            "ferry-placeholder", "-o",
            "allow_other,default_permissions,fsname=\(String(name)),subtype=ferry-placeholder",
        ]
        var operations = placeholderOperations()
        let result = withCStrings(argv) { pointers in
            fy_fuse_serve(Int32(argv.count), pointers, &operations, mountPoint, 64) {
                PlaceholderDaemon.ready?.close()
                PlaceholderDaemon.ready = nil
            }
        }
        if result < 0 {
            let step = [-1: "set up", -2: "mount", -3: "serve"][Int(result)] ?? "run"
            try? ready.write("cannot \(step) the placeholder at \(mountPoint) (see the message above)")
            return 1
        }
        return 0
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(&pointers)
    }
}
